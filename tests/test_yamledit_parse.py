"""The located tree: exact spans, paths, styles, comments, errors."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import pytest

from promoter.yamledit.model import Alias, Mapping, Node, ParsedFile, Scalar, Sequence, deref
from promoter.yamledit.parse import DuplicateKeyError, YamlError, parse_text, read_file


def nodes(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    if isinstance(node, Mapping):
        for k, v in node.pairs:
            yield from nodes(k)
            yield from nodes(v)
    elif isinstance(node, Sequence):
        for item in node.items:
            yield from nodes(item)


def scalars(pf: ParsedFile) -> list[Scalar]:
    return [n for d in pf.documents for n in nodes(d.root) if isinstance(n, Scalar)]


def by_path(pf: ParsedFile, doc: int = 0) -> dict[tuple[object, ...], Scalar]:
    """Value scalars by path (keys are skipped: they share their value's path)."""
    out: dict[tuple[object, ...], Scalar] = {}
    root = pf.documents[doc].root

    def walk(node: Node | None) -> None:
        if isinstance(node, Scalar):
            out[node.path] = node
        elif isinstance(node, Mapping):
            for _, v in node.pairs:
                walk(v)
        elif isinstance(node, Sequence):
            for item in node.items:
                walk(item)

    walk(root)
    return out


def token(pf: ParsedFile, s: Scalar) -> str:
    return pf.text[s.span.start : s.span.end]


def line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def check_spans(pf: ParsedFile) -> None:
    """Every scalar's span is its token, and line/column agree with the offset."""
    for s in scalars(pf):
        tok = token(pf, s)
        assert (s.span.line, s.span.column) == line_col(pf.text, s.span.start), s
        if s.style == "plain":
            assert tok.strip() == tok
            if "\n" not in tok:
                assert tok == s.value
        elif s.style == "single":
            assert tok[0] == tok[-1] == "'"
        elif s.style == "double":
            assert tok[0] == tok[-1] == '"'


STYLES = """\
plain: nginx:1.25  # the web server
single: 'nginx:1.25'
double: "nginx:1.25"   #   spaced comment
flowmap: {image: "a:1", tag: '2', name: b}
flowseq: [x, 'y', "z"]  # c
nested:
  - name: web
    image: registry.example.com:5000/team/web@sha256:abc
  - {name: side, image: 'side:1'}
empty: ""
"""


def test_styles_spans_paths_and_comments() -> None:
    pf = parse_text(STYLES, "s.yaml")
    check_spans(pf)
    v = by_path(pf)
    assert (v[("plain",)].value, v[("plain",)].style) == ("nginx:1.25", "plain")
    assert v[("plain",)].comment == "the web server"
    assert token(pf, v[("single",)]) == "'nginx:1.25'"
    assert v[("single",)].style == "single" and v[("single",)].comment is None
    assert token(pf, v[("double",)]) == '"nginx:1.25"'
    assert v[("double",)].comment == "spaced comment"
    assert token(pf, v[("flowmap", "image")]) == '"a:1"'
    assert v[("flowmap", "image")].comment is None  # not the last token on its line
    assert token(pf, v[("flowseq", 1)]) == "'y'"
    assert v[("flowseq", 2)].comment is None
    assert v[("nested", 0, "image")].value.endswith("@sha256:abc")
    assert token(pf, v[("nested", 1, "image")]) == "'side:1'"
    assert v[("empty",)].value == "" and token(pf, v[("empty",)]) == '""'
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    fm = root.get("flowmap")
    assert isinstance(fm, Mapping) and fm.flow
    assert pf.text[fm.span.start : fm.span.end] == '{image: "a:1", tag: \'2\', name: b}'
    assert root.get_str("plain") == "nginx:1.25"


def test_multi_document_markers() -> None:
    text = "# lead\n---\na: 1\n...\n---\n- b\n- c\n---\n...\n--- x\n"
    pf = parse_text(text, "m.yaml")
    assert len(pf.documents) == 4
    assert [d.index for d in pf.documents] == [0, 1, 2, 3]
    assert by_path(pf, 0)[("a",)].value == "1"
    assert [token(pf, s) for s in by_path(pf, 1).values()] == ["b", "c"]
    last = pf.documents[3].root
    assert isinstance(last, Scalar) and last.value == "x" and token(pf, last) == "x"


def test_anchors_aliases_tags_and_merge_keys() -> None:
    text = (
        "base: &img !!str 'nginx:1'\n"
        "copy: *img\n"
        "tmpl: &t\n  image: &inner\n    nginx:2\n"
        "use:\n  <<: *t\n  extra: *inner\n"
        "tagged: !custom &x\n  # a comment between\n  \"v\"\n"
    )
    pf = parse_text(text, "a.yaml")
    check_spans(pf)
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    base = root.get("base")
    assert isinstance(base, Scalar)
    assert token(pf, base) == "'nginx:1'" and base.anchor == "img"
    assert base.tag == "tag:yaml.org,2002:str"
    copy = root.get("copy")
    assert isinstance(copy, Alias) and copy.target is base
    assert pf.text[copy.span.start : copy.span.end] == "*img"
    use = root.get("use")
    assert isinstance(use, Mapping)
    assert [k.value for k, _ in use.pairs if isinstance(k, Scalar)] == ["<<", "extra"]
    inner = deref(use.get("extra"))
    assert isinstance(inner, Scalar) and token(pf, inner) == "nginx:2" and inner.anchor == "inner"
    assert (inner.span.line, inner.span.column) == (5, 5)
    tmpl = root.get("tmpl")
    assert isinstance(tmpl, Mapping) and tmpl.anchor == "t"
    tagged = root.get("tagged")
    assert isinstance(tagged, Scalar) and token(pf, tagged) == '"v"'
    assert tagged.tag == "!custom" and tagged.anchor == "x"


def test_anchor_may_be_redefined() -> None:
    pf = parse_text("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", "r.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    assert deref(root.get("b")) is root.get("a")
    assert deref(root.get("d")) is root.get("c")


def test_crlf_bom_non_ascii_and_no_final_newline(tmp_path: Path) -> None:
    text = (
        "# Größe – ünïcödé 🚀\r\nname: 'café'\r\n"
        "image: ghcr.io/ö/app:1.0  # 🚀 rocket\r\nlast: x"
    )
    raw = codecs.BOM_UTF8 + text.encode("utf-8")
    path = tmp_path / "f.yaml"
    path.write_bytes(raw)
    pf = read_file(path, "f.yaml")
    assert pf.bom and pf.encoding == "utf-8"
    assert pf.text == text  # CRLF kept, BOM stripped
    check_spans(pf)
    v = by_path(pf)
    assert token(pf, v[("image",)]) == "ghcr.io/ö/app:1.0"
    assert v[("image",)].comment == "🚀 rocket"
    assert (v[("image",)].span.line, v[("image",)].span.column) == (3, 8)
    assert token(pf, v[("last",)]) == "x" and v[("last",)].span.end == len(text)


def test_utf16_with_bom(tmp_path: Path) -> None:
    text = "image: nginx:1\r\n"
    path = tmp_path / "u.yaml"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    pf = read_file(path, "u.yaml")
    assert pf.bom and pf.encoding == "utf-16-le" and pf.text == text
    assert token(pf, by_path(pf)[("image",)]) == "nginx:1"


def test_invalid_utf8_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(YamlError) as err:
        read_file(path, "b.yaml")
    assert (err.value.line, err.value.column) == (2, 4)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("a: b\t# tab before a comment\n", ("a",)),
        ("a: b\t\n", ("a",)),
        ("a:\tb\n", ("a",)),
        ("- a\n-\tb\n", (1,)),
        ("- \tb\n", (0,)),
        ("a: b\n\t\nc: d\n", ("c",)),
        ("list:\n  - b\t\n\t\n  - c\t # x\n", ("list", 1)),
        ("? a\n:\tb\n", ("a",)),
    ],
)
def test_tabs_kubectl_accepts(text: str, path: tuple[object, ...]) -> None:
    pf = parse_text(text, "t.yaml")
    assert pf.text == text
    check_spans(pf)
    s = by_path(pf)[path]
    assert token(pf, s) == s.value and s.value in ("b", "c", "d")


def test_inner_tab_of_a_plain_scalar_is_kept() -> None:
    pf = parse_text("- a\n-\tb\tc\n", "t.yaml")
    assert by_path(pf)[(1,)].value == "b\tc"


@pytest.mark.parametrize("text", ["a:\n\tb: c\n", "\ta: b\n"])
def test_tab_indentation_stays_an_error(text: str) -> None:
    with pytest.raises(YamlError) as err:
        parse_text(text, "t.yaml")
    assert str(err.value).startswith("t.yaml:")


def test_duplicate_key_names_both_lines() -> None:
    text = "spec:\n  image: a\n  name: x\n  image: b\n"
    with pytest.raises(DuplicateKeyError) as err:
        parse_text(text, "d.yaml")
    e = err.value
    assert (e.file, e.line, e.column) == ("d.yaml", 4, 3)
    assert str(e) == (
        "d.yaml:4:3: duplicate key 'image' (first at line 2); "
        "which one wins is ambiguous: remove one"
    )


def test_duplicate_key_in_flow_mapping_and_same_key_in_other_mappings() -> None:
    with pytest.raises(DuplicateKeyError):
        parse_text("a: {x: 1, x: 2}\n", "d.yaml")
    parse_text("a: {x: 1}\nb: {x: 2}\n---\na: 3\n", "ok.yaml")


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: [1, 2\n", 2, 1),
        ("a: b\n  c: d\n", 2, 4),
        ("a: 'unterminated\n", 2, 1),
        ("a: *nowhere\n", 1, 4),
        ("a: \x01\n", 1, 4),
        ("a: üüü\x01\n", 1, 7),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, column: int) -> None:
    with pytest.raises(YamlError) as err:
        parse_text(text, "e.yaml")
    assert (err.value.file, err.value.line, err.value.column) == ("e.yaml", line, column)
    assert str(err.value).startswith(f"e.yaml:{line}:{column}: ")


def test_block_scalars_have_no_comment_and_keep_their_span() -> None:
    text = "script: |  # not a value comment\n  echo hi\nnext: v\n"
    pf = parse_text(text, "b.yaml")
    s = by_path(pf)[("script",)]
    assert s.style == "literal" and s.comment is None and s.value == "echo hi\n"
    assert token(pf, s).startswith("|")


def test_empty_and_comment_only_files() -> None:
    assert parse_text("", "e.yaml").documents == []
    assert parse_text("# only a comment\n", "e.yaml").documents == []
    pf = parse_text("---\n", "e.yaml")
    assert len(pf.documents) == 1
