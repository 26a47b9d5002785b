"""Splicing, proving, encoding and writing: only the asked-for bytes change."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import pytest

from promoter.yamledit import engine
from promoter.yamledit.engine import EditError, ProofError, apply, encode, write_atomic
from promoter.yamledit.model import (
    AppendItem,
    DeletePair,
    Mapping,
    Node,
    ParsedFile,
    Scalar,
    Sequence,
    SetScalar,
    deref,
)
from promoter.yamledit.parse import parse_text, read_file


def at(pf: ParsedFile, *path: str | int, doc: int = 0) -> Node:
    node = pf.documents[doc].root
    for part in path:
        node = deref(node)
        if isinstance(part, int):
            assert isinstance(node, Sequence)
            node = node.items[part]
        else:
            assert isinstance(node, Mapping)
            node = node.get(part)
    assert node is not None
    return node


def scalar(pf: ParsedFile, *path: str | int, doc: int = 0) -> Scalar:
    node = deref(at(pf, *path, doc=doc))
    assert isinstance(node, Scalar)
    return node


def mapping(pf: ParsedFile, *path: str | int, doc: int = 0) -> Mapping:
    node = deref(at(pf, *path, doc=doc))
    assert isinstance(node, Mapping)
    return node


def set_one(text: str, path: tuple[str | int, ...], value: str, doc: int = 0) -> str:
    pf = parse_text(text, "f.yaml")
    new, edits = apply(pf, [SetScalar(scalar(pf, *path, doc=doc), value, "test")])
    assert len(edits) == 1
    return new


@pytest.mark.parametrize(
    ("before", "value", "after"),
    [
        ("image: nginx:1.0  # keep me\n", "nginx:1.1", "image: nginx:1.1  # keep me\n"),
        ("image: 'nginx:1.0'\n", "nginx:1.1", "image: 'nginx:1.1'\n"),
        ('image: "nginx:1.0"\n', "nginx:1.1", 'image: "nginx:1.1"\n'),
        ("tag: v1\n", "1.10", 'tag: "1.10"\n'),
        ("tag: v1\n", "010", 'tag: "010"\n'),
        ("tag: v1\n", "2873e41", 'tag: "2873e41"\n'),
        ("tag: v1\n", "true", 'tag: "true"\n'),
        ("tag: 1.0\n", "1.1", 'tag: "1.1"\n'),
        ("tag: 'v1'\n", "1.10", "tag: '1.10'\n"),
        ("tag: v1\n", "v1.2.3", "tag: v1.2.3\n"),
        ("tag:\n", "v2", "tag: v2\n"),
        ("tag:   # c\n", "v2", "tag: v2   # c\n"),
        ("tag: &t v1\nother: *t\n", "v2", "tag: &t v2\nother: *t\n"),
        ("tag: !!str v1\n", "1.10", 'tag: !!str "1.10"\n'),
        ("c: {image: nginx:1.0, x: 1}\n", "nginx:1.1", "c: {image: nginx:1.1, x: 1}\n"),
        ("c: {tag: v1}\n", "a,b", 'c: {tag: "a,b"}\n'),
        ("c: [nginx:1.0, y]\n", "nginx:2", "c: [nginx:2, y]\n"),
        ("tag: v1\r\nnext: x\r\n", "v2", "tag: v2\r\nnext: x\r\n"),
        ("tag: v1", "v2", "tag: v2"),
        ("tag:\tv1\t# tabs\t\n", "v2", "tag:\tv2\t# tabs\t\n"),
        ("tag: multi\n  line\nz: 1\n", "v2", "tag: v2\nz: 1\n"),
    ],
)
def test_set_scalar_keeps_style_and_every_other_byte(before: str, value: str, after: str) -> None:
    path: tuple[str | int, ...] = ("c", "image") if "image: nginx:1.0, x" in before else ("tag",)
    if before.startswith("image"):
        path = ("image",)
    if before.startswith("c: {tag"):
        path = ("c", "tag")
    if before.startswith("c: ["):
        path = ("c", 0)
    assert set_one(before, path, value) == after


def test_multi_document_file_edits_one_document() -> None:
    text = "# head\n---\nimage: a:1\n...\n---\nimage: a:1 # two\n---\n"
    assert set_one(text, ("image",), "a:2", doc=1) == text.replace("a:1 # two", "a:2 # two")


def test_anchor_changed_once_for_all_aliases() -> None:
    text = "base: &img nginx:1\nx: *img\ny: *img\n"
    pf = parse_text(text, "f.yaml")
    target = scalar(pf, "base")
    # Targets may reach the anchored scalar through several aliases: one edit.
    changes = [SetScalar(scalar(pf, "x"), "nginx:2", "a"), SetScalar(target, "nginx:2", "b")]
    new, edits = apply(pf, changes)
    assert new == "base: &img nginx:2\nx: *img\ny: *img\n"
    assert len(edits) == 1 and edits[0].path == "base" and edits[0].line == 1


def test_conflicting_values_for_one_scalar_are_an_error() -> None:
    pf = parse_text("image: a:1\n", "f.yaml")
    node = scalar(pf, "image")
    with pytest.raises(EditError, match="set twice"):
        apply(pf, [SetScalar(node, "a:2", "x"), SetScalar(node, "a:3", "y")])


def test_unchanged_value_is_no_edit() -> None:
    pf = parse_text("image: a:1\n", "f.yaml")
    new, edits = apply(pf, [SetScalar(scalar(pf, "image"), "a:1", "x")])
    assert new == pf.text and edits == []


def test_block_scalar_refused_with_location() -> None:
    pf = parse_text("a: 1\nimage: |\n  nginx:1\n", "f.yaml")
    with pytest.raises(EditError) as err:
        apply(pf, [SetScalar(scalar(pf, "image"), "nginx:2", "x")])
    assert str(err.value).startswith("f.yaml:2:8: image: a literal block scalar")


def test_edit_record() -> None:
    pf = parse_text("spec:\n  containers:\n  - name: a\n    image: 'a:1'\n", "m.yaml")
    node = scalar(pf, "spec", "containers", 0, "image")
    _, edits = apply(pf, [SetScalar(node, "a:2", "kubernetes", note="n")])
    e = edits[0]
    assert (e.file, e.line, e.column, e.target) == ("m.yaml", 4, 12, "kubernetes")
    assert (e.path, e.old, e.new, e.document, e.note) == (
        "spec.containers[0].image",
        "a:1",
        "a:2",
        0,
        "n",
    )


# ------------------------------------------------------------------ delete


@pytest.mark.parametrize(
    ("before", "path", "after"),
    [
        (
            "image:\n  tag: v1\n  digest: sha256:aa  # pinned\n  pull: Always\n",
            ("image",),
            "image:\n  tag: v1\n  pull: Always\n",
        ),
        ("image:\r\n  tag: v1\r\n  digest: x\r\n", ("image",), "image:\r\n  tag: v1\r\n"),
        (
            "images:\n- digest: sha256:aa\n  name: web\n  newTag: v1\n",
            ("images", 0),
            "images:\n- name: web\n  newTag: v1\n",
        ),
        ("images:\n- digest: sha256:aa\n", ("images", 0), "images:\n- {}\n"),
        ("i: {tag: v1, digest: x, p: 1}\n", ("i",), "i: {tag: v1, p: 1}\n"),
        ("i: {tag: v1, digest: x}\n", ("i",), "i: {tag: v1}\n"),
        ("i: {digest: x}\n", ("i",), "i: {}\n"),
        (
            "image:\n  digest:\n    nested: x\n    deep: [1]\n  # trailing comment\nz: 1\n",
            ("image",),
            "image:\n  {}\n  # trailing comment\nz: 1\n",
        ),
        # no final newline: the file must not gain one (regression: it did)
        ("image:\n  tag: v1\n  digest: x", ("image",), "image:\n  tag: v1"),
        ("image:\r\n  tag: v1\r\n  digest: x  # c", ("image",), "image:\r\n  tag: v1"),
        (
            "images:\n- name: web\n  newTag: v1\n  digest: sha256:25a0d4",
            ("images", 0),
            "images:\n- name: web\n  newTag: v1",
        ),
        ("image:\n  tag: v1\n  digest: x\n", ("image",), "image:\n  tag: v1\n"),
    ],
)
def test_delete_pair(before: str, path: tuple[str | int, ...], after: str) -> None:
    pf = parse_text(before, "f.yaml")
    m = mapping(pf, *path)
    new, edits = apply(pf, [DeletePair(m, "digest", "kustomize", note="stale digest")])
    assert new == after
    assert edits[0].new is None and edits[0].note == "stale digest"


def test_delete_missing_key_is_an_error() -> None:
    pf = parse_text("a: 1\n", "f.yaml")
    with pytest.raises(EditError, match="no key 'digest'"):
        apply(pf, [DeletePair(mapping(pf), "digest", "x")])


# ------------------------------------------------------------------ append


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "images:\n- name: a\n  newTag: v1\n",
            'images:\n- name: a\n  newTag: v1\n- name: web\n  newTag: "1.10"\n',
        ),
        (
            "images:\n  - name: a  # c\n    newTag: v1\nother: 1\n",
            "images:\n  - name: a  # c\n    newTag: v1\n  - name: web\n"
            '    newTag: "1.10"\nother: 1\n',
        ),
        (
            "images:\r\n- name: a\r\n  newTag: v1",
            'images:\r\n- name: a\r\n  newTag: v1\r\n- name: web\r\n  newTag: "1.10"',
        ),
        ("images: [{name: a}]\n", 'images: [{name: a}, {name: web, newTag: "1.10"}]\n'),
        ("images: []\n", 'images: [{name: web, newTag: "1.10"}]\n'),
    ],
)
def test_append_to_existing_sequence(before: str, after: str) -> None:
    pf = parse_text(before, "k.yaml")
    seq = deref(at(pf, "images"))
    assert isinstance(seq, Sequence)
    item = (("name", "web"), ("newTag", "1.10"))
    new, edits = apply(pf, [AppendItem(mapping(pf), "images", seq, item, "kustomize")])
    assert new == after
    assert edits[0].path == f"images[{len(seq.items)}]" and edits[0].old is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "resources:\n- a.yaml\n",
            "resources:\n- a.yaml\nimages:\n- name: web\n  newTag: v2\n",
        ),
        (
            "resources:\n  - a.yaml\r\n",
            "resources:\n  - a.yaml\r\nimages:\n  - name: web\n    newTag: v2\n",
        ),
        ("kind: Kustomization", "kind: Kustomization\nimages:\n- name: web\n  newTag: v2"),
        ("k: {a: 1}\n", "k: {a: 1}\n"),
    ],
)
def test_append_creates_the_key(before: str, after: str) -> None:
    pf = parse_text(before, "k.yaml")
    root = mapping(pf)
    target = root
    if before.startswith("k:"):
        target = mapping(pf, "k")
        after = "k: {a: 1, images: [{name: web, newTag: v2}]}\n"
    item = (("name", "web"), ("newTag", "v2"))
    new, _ = apply(pf, [AppendItem(target, "images", None, item, "kustomize")])
    assert new == after


# ------------------------------------------------------------------ proof


def test_proof_catches_a_wrong_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    pf = parse_text("a: 1\ntag: v1\n", "f.yaml")
    monkeypatch.setattr(engine, "render", lambda value, style, context="block": value)
    with pytest.raises(ProofError) as err:
        apply(pf, [SetScalar(scalar(pf, "tag"), "1.10", "x")])
    msg = str(err.value)
    assert "f.yaml" in msg and "at tag" in msg and "read as a number" in msg
    assert "this is a bug in promoter; nothing was written; please report it" in msg


def test_proof_catches_a_splice_that_eats_a_neighbour(monkeypatch: pytest.MonkeyPatch) -> None:
    pf = parse_text("tag: v1\nother: x\n", "f.yaml")
    real = engine._set_scalar

    def too_wide(pf: ParsedFile, node: Scalar, value: str, flow: bool) -> engine._Splice:
        s = real(pf, node, value, flow)
        return engine._Splice(s.start, s.end + 9, s.text, s.what)  # also eats "\nother: x"

    monkeypatch.setattr(engine, "_set_scalar", too_wide)
    with pytest.raises(ProofError, match=r"keys became|at other"):
        apply(pf, [SetScalar(scalar(pf, "tag"), "v2", "x")])


def test_proof_catches_broken_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    pf = parse_text("tag: v1\n", "f.yaml")
    monkeypatch.setattr(engine, "render", lambda value, style, context="block": "[oops")
    with pytest.raises(ProofError, match="no longer parses"):
        apply(pf, [SetScalar(scalar(pf, "tag"), "v2", "x")])


# ------------------------------------------------------------------ encode and write


def test_encode_keeps_bom_and_crlf(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF8 + "tag: v1\r\nz: ü\r\n".encode()
    path = tmp_path / "f.yaml"
    path.write_bytes(raw)
    pf = read_file(path, "f.yaml")
    new, _ = apply(pf, [SetScalar(scalar(pf, "tag"), "v2", "x")])
    assert encode(pf, new) == raw.replace(b"v1", b"v2")


def test_encode_utf16(tmp_path: Path) -> None:
    raw = codecs.BOM_UTF16_BE + "tag: v1\n".encode("utf-16-be")
    path = tmp_path / "f.yaml"
    path.write_bytes(raw)
    pf = read_file(path, "f.yaml")
    new, _ = apply(pf, [SetScalar(scalar(pf, "tag"), "v2", "x")])
    assert encode(pf, new) == codecs.BOM_UTF16_BE + "tag: v2\n".encode("utf-16-be")


def test_write_atomic_keeps_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"old\n")
    path.chmod(0o640)
    write_atomic(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.yaml"]


def test_write_atomic_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_bytes(b"old\n")
    real.chmod(0o600)
    link = tmp_path / "link.yaml"
    link.symlink_to("real.yaml")
    write_atomic(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == "real.yaml"
    assert real.read_bytes() == b"new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_write_atomic_durable_and_never_reuses_an_existing_temporary(tmp_path: Path) -> None:
    from promoter.yamledit import engine

    path = tmp_path / "f.yaml"
    path.write_bytes(b"old\n")
    squatter = tmp_path / f".f.yaml.{os.getpid()}-{engine._counter[0] + 1}.promoter-tmp"
    squatter.write_bytes(b"not ours\n")
    write_atomic(str(path), b"new\n", durable=True)
    assert path.read_bytes() == b"new\n"
    assert squatter.read_bytes() == b"not ours\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [squatter.name, "f.yaml"]


def test_write_atomic_new_file_gets_default_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    write_atomic(path, b"a: 1\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_file_that_needs_tab_repairs_is_edited_and_proved() -> None:
    text = "list:\n-\tnginx:1.0\t# tab separated\n- other\n"
    assert set_one(text, ("list", 0), "nginx:1.1") == text.replace("1.0", "1.1")


def test_empty_value_without_colon_is_refused_with_location() -> None:
    pf = parse_text("data: {{TOKEN}}\n", "t.yaml")
    root = mapping(pf)
    outer = root.get("data")
    assert isinstance(outer, Mapping)
    inner = outer.pairs[0][0]
    assert isinstance(inner, Mapping)
    value = inner.pairs[0][1]
    assert isinstance(value, Scalar)
    with pytest.raises(EditError, match="no value to replace"):
        apply(pf, [SetScalar(value, "x", "t")])


def test_proof_rejects_a_type_change_of_an_untouched_scalar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A splice that unquotes a neighbour ("1.10" -> 1.10) changes its type: caught."""
    pf = parse_text('a: "1.10"\ntag: v1\n', "f.yaml")
    real = engine._splice

    def unquote_neighbour(pf: ParsedFile, splices: list[engine._Splice]) -> str:
        return real(pf, [*splices, engine._Splice(3, 9, "1.10", "a")])

    monkeypatch.setattr(engine, "_splice", unquote_neighbour)
    with pytest.raises(ProofError, match="at a:"):
        apply(pf, [SetScalar(scalar(pf, "tag"), "v2", "x")])


def test_several_appends_share_one_new_key() -> None:
    pf = parse_text("resources:\n- a.yaml\n", "k.yaml")
    root = mapping(pf)
    changes = [
        AppendItem(root, "images", None, (("name", "web"), ("newTag", "v2")), "kustomize"),
        AppendItem(root, "images", None, (("name", "api"), ("newTag", "1.10")), "kustomize"),
    ]
    new, edits = apply(pf, changes)
    assert new == (
        "resources:\n- a.yaml\nimages:\n- name: web\n  newTag: v2\n"
        '- name: api\n  newTag: "1.10"\n'
    )
    assert [(e.line, e.path) for e in edits] == [(4, "images[0]"), (6, "images[1]")]


def test_several_appends_to_an_existing_flow_sequence() -> None:
    pf = parse_text("images: [{name: a}]\n", "k.yaml")
    seq = deref(at(pf, "images"))
    assert isinstance(seq, Sequence)
    changes = [
        AppendItem(mapping(pf), "images", seq, (("name", "b"),), "kustomize"),
        AppendItem(mapping(pf), "images", seq, (("name", "c"),), "kustomize"),
    ]
    new, edits = apply(pf, changes)
    assert new == "images: [{name: a}, {name: b}, {name: c}]\n"
    assert [e.path for e in edits] == ["images[1]", "images[2]"]


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, {b: c}]\nd: *x\ne:\n- f\n- g: h\n",
        "--- !!map\n? [k]\n: v\n--- |\n  block\n---\n...\n",
        "x: !t &a {y: 1}\nz: [*a, 'q', \"w\"]\n",
        "- \tnginx:1.0\t# tab separated\n- other\n",
    ],
)
def test_parse_records_nodes_in_event_order(text: str) -> None:
    """The order the parser records for the proof is the tree walked in event order."""
    from promoter.yamledit.engine import _in_event_order

    pf = parse_text(text, "f.yaml")
    assert pf.order is not None
    walked = _in_event_order(pf)
    assert [None if n is None else id(n) for n in pf.order] == [
        None if n is None else id(n) for n in walked
    ]
