"""The engine's fast paths: events fed to handlers, lazy spans and paths, the proof's
counting of changed scalars, and the plain record classes that replace dataclasses.

Behaviour only (no timings: those are in benchmarks/ and the README)."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
import yaml._yaml

from promoter.yamledit import engine, parse
from promoter.yamledit.engine import ProofError, apply
from promoter.yamledit.model import (
    Alias,
    Document,
    Edit,
    FileError,
    Mapping,
    Node,
    ParsedFile,
    Result,
    Scalar,
    Sequence,
    SetScalar,
    Span,
    deref,
)
from promoter.yamledit.parse import DuplicateKeyError, YamlError, parse_text

TEXTS = [
    "a: 1\nb: [x, 'y', \"z\"]  # c\nc: {d: e}\n",
    "a: &x [1, {b: c}]\nd: *x\ne:\n- f\n- g: h\n",
    "--- !!map\n? [k]\n: v\n--- |\n  block\n---\n...\n",
    "x: !t &a {y: 1}\nz: [*a, 'q', \"w\"]\n",
    "- \tnginx:1.0\t# tab separated\n- other\n",
    "a: 1\r\nb:\r\n  - c  # crlf\r\n  - d: e\r\n",
    "k: >\n  folded # not a comment\nl: |-\n  lit\nm: ~\nn:\no: ''\n",
    'é: ü  # ünï\n😀: "☃"\n',
    "",
    "# only a comment\n",
    "plain\n",
    "&r {a: b}\n",
    "a: &v 1\nb: *v\n*v : c\n",
]


def walk(pf: ParsedFile) -> list[tuple[object, ...]]:
    """Everything a node exposes, in document order, with aliases by target position."""
    ids: dict[int, int] = {}
    out: list[tuple[object, ...]] = []

    def rec(node: Node | None) -> None:
        if node is None:
            out.append(("none",))
            return
        ids[id(node)] = len(ids)
        s = node.span
        base = (type(node).__name__, s.start, s.end, s.line, s.column, node.path)
        if isinstance(node, Scalar):
            out.append((*base, node.value, node.style, node.tag, node.anchor, node.comment))
        elif isinstance(node, Alias):
            out.append((*base, node.name, ids.get(id(node.target))))
        elif isinstance(node, Mapping):
            out.append((*base, node.flow, node.anchor, node.tag, len(node.pairs)))
            for k, v in node.pairs:
                rec(k)
                rec(v)
        else:
            out.append((*base, node.flow, node.anchor, node.tag, len(node.items)))
            for item in node.items:
                rec(item)

    for doc in pf.documents:
        out.append(("doc", doc.index, doc.span.start, doc.span.end, doc.span.line))
        rec(doc.root)
    return out


def events_restored() -> bool:
    return all(getattr(yaml._yaml, n) is getattr(yaml.events, n) for n in parse.EVENTS)


@pytest.fixture
def plain_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Force the path that reads PyYAML's event objects (no swapping)."""
    parse.libyaml()
    monkeypatch.setitem(parse._state, "swap", False)
    yield


@pytest.mark.parametrize("text", TEXTS)
def test_the_plain_event_path_builds_the_same_tree(text: str) -> None:
    fast = walk(parse_text(text, "f.yaml"))
    saved = parse._state["swap"]
    parse._state["swap"] = False
    try:
        slow = walk(parse_text(text, "f.yaml"))
    finally:
        parse._state["swap"] = saved
    assert fast == slow
    assert events_restored()


def test_a_single_threaded_process_builds_the_same_trees() -> None:
    """Under xdist this process has other threads (the guarded handlers run here); a fresh
    interpreter has none and runs the handlers unguarded: same trees."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, _thread\n"
        "from test_yamledit_perf_events import TEXTS, walk\n"
        "from promoter.yamledit.parse import parse_text\n"
        "assert _thread._count() == 0\n"
        "print(json.dumps([repr(walk(parse_text(t, 'f.yaml'))) for t in TEXTS]))\n"
    )
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
        cwd=here, env={**os.environ, "PYTHONPATH": here},
    ).stdout  # fmt: skip
    assert json.loads(out) == [repr(walk(parse_text(t, "f.yaml"))) for t in TEXTS]


def test_pyyaml_in_this_environment_takes_the_fast_path() -> None:
    parse.libyaml()
    assert parse._state["swap"] is True


def test_the_swap_check_refuses_a_pyyaml_that_calls_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = yaml.events
    assert parse._swap_works(yaml._yaml, events)
    swapped = dict(parse._FIELDS)
    swapped["ScalarEvent"] = (
        "anchor",
        "tag",
        "implicit",
        "value",
        "end_mark",
        "start_mark",
        "style",
    )
    monkeypatch.setattr(parse, "_FIELDS", swapped)
    assert not parse._swap_works(yaml._yaml, events)
    assert events_restored()


def test_the_swap_check_refuses_other_event_classes() -> None:
    class Other:
        pass

    fake = type("events", (), {n: Other for n in parse.EVENTS})
    assert not parse._swap_works(yaml._yaml, fake)
    assert events_restored()


def test_a_forked_child_gets_pyyaml_names_and_a_free_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    parse.libyaml()
    monkeypatch.setattr(yaml._yaml, "ScalarEvent", lambda *a: None)
    monkeypatch.setattr(parse, "_LOCK", parse._LOCK)  # restored after the test
    held = parse._LOCK
    held.acquire()
    try:
        parse._after_fork()
        assert events_restored()
        assert parse._LOCK is not held and not parse._LOCK.locked()
    finally:
        held.release()


def test_event_classes_are_restored_after_errors() -> None:
    with pytest.raises(DuplicateKeyError):
        parse_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert events_restored()
    with pytest.raises(YamlError):
        parse_text("a: [1\n", "f.yaml")
    assert events_restored()
    with pytest.raises(YamlError, match="refers to no anchor"):
        parse_text("a: *nope\n", "f.yaml")
    assert events_restored()
    assert list(yaml.parse("a: 1\n", Loader=yaml.CLoader))[3].value == "a"


def test_duplicate_key_names_both_lines_on_both_paths(plain_events: None) -> None:
    with pytest.raises(DuplicateKeyError) as err:
        parse_text("x:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml")
    assert str(err.value).startswith("f.yaml:4:3: duplicate key 'a' (first at line 2)")


def test_edit_and_proof_on_the_plain_event_path(plain_events: None) -> None:
    pf = parse_text("a: &x v1\nb: *x\nc: [1, 2]\n", "f.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    node = deref(root.get("a"))
    assert isinstance(node, Scalar)
    new, edits = apply(pf, [SetScalar(node, "1.10", "t")])
    assert new == 'a: &x "1.10"\nb: *x\nc: [1, 2]\n'
    assert [(e.line, e.path, e.old, e.new) for e in edits] == [(1, "a", "v1", "1.10")]


def test_parsing_in_threads_gives_each_its_own_tree() -> None:
    texts = [f"k{i}:\n" + "".join(f"  a{j}: v{i}.{j}\n" for j in range(300)) for i in range(4)]
    expected = [walk(parse_text(t, f"{i}.yaml")) for i, t in enumerate(texts)]
    got: dict[int, list[list[tuple[object, ...]]]] = {i: [] for i in range(4)}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                got[i].append(walk(parse_text(texts[i], f"{i}.yaml")))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(4):
        assert got[i] == [expected[i]] * 5
    assert events_restored()


def test_another_threads_pyyaml_events_stay_pyyaml_events() -> None:
    """While we parse, another thread reading PyYAML's events gets real event objects."""
    big = "".join(f"k{j}: [a, b, {{c: d}}]\n" for j in range(2000))
    small = "a: [1, {b: c}]\n"
    stop = threading.Event()
    bad: list[object] = []

    def reader() -> None:
        while not stop.is_set():
            for ev in yaml.parse(small, Loader=yaml.CLoader):
                if not isinstance(ev, yaml.events.Event):
                    bad.append(ev)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):
            pf = parse_text(big, "big.yaml")
            assert isinstance(pf.documents[0].root, Mapping)
            assert len(pf.documents[0].root.pairs) == 2000
    finally:
        stop.set()
        t.join()
    assert bad == []
    assert events_restored()


def test_guard_sends_other_threads_to_pyyaml() -> None:
    calls: list[str] = []
    handler = parse._guard(
        lambda *a: calls.append("mine"), lambda *a: calls.append("theirs"), threading.get_ident()
    )
    handler(1)
    t = threading.Thread(target=handler, args=(2,))
    t.start()
    t.join()
    assert calls == ["mine", "theirs"]


# ------------------------------------------------------------------ spans and paths


def test_spans_and_paths_are_computed_from_marks() -> None:
    text = "a:\n  b: [x, &n {c: 'd'}]\n  e: !t f\nz: *n\n"
    pf = parse_text(text, "f.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping) and root.path == ()
    b = root.get("a")
    assert isinstance(b, Mapping)
    seq = b.get("b")
    assert isinstance(seq, Sequence) and seq.path == ("a", "b")
    inner = seq.items[1]
    assert isinstance(inner, Mapping)
    assert inner.path == ("a", "b", 1)
    assert text[inner.span.start : inner.span.end] == "{c: 'd'}"  # past the anchor
    d = inner.get("c")
    assert isinstance(d, Scalar) and d.path == ("a", "b", 1, "c")
    assert (d.span.line, d.span.column) == (2, 17)
    e = b.get("e")
    assert isinstance(e, Scalar) and e.tag == "!t" and text[e.span.start : e.span.end] == "f"
    key = b.key_node("e")
    assert key is not None and key.path == ("a", "e")
    alias = root.get("z")
    assert isinstance(alias, Alias) and alias.path == ("z",) and alias.target is inner
    assert (alias.span.start, alias.span.end) == (text.index("*n"), text.index("*n") + 2)


def test_paths_of_nested_sequences_and_mappings() -> None:
    text = "- [a, [], b, [c, [d]], e]\n- {k: [x, {y: [z]}], w: v}\n"
    pf = parse_text(text, "f.yaml")
    paths = {(s.value, s.path) for doc in pf.documents for s in _scalars(doc.root)}
    assert paths == {
        ("a", (0, 0)), ("b", (0, 2)), ("c", (0, 3, 0)), ("d", (0, 3, 1, 0)), ("e", (0, 4)),
        ("k", (1, "k")), ("x", (1, "k", 0)), ("y", (1, "k", 1, "y")), ("z", (1, "k", 1, "y", 0)),
        ("w", (1, "w")), ("v", (1, "w")),
    }  # fmt: skip


def _scalars(node: Node | None) -> Iterator[Scalar]:
    if isinstance(node, Scalar):
        yield node
    elif isinstance(node, Mapping):
        for k, v in node.pairs:
            yield from _scalars(k)
            yield from _scalars(v)
    elif isinstance(node, Sequence):
        for item in node.items:
            yield from _scalars(item)


def test_hand_built_nodes_keep_their_span_and_path() -> None:
    s = Scalar("v", "plain", Span(3, 4, 1, 4), ("a", 0))
    assert (s.span.start, s.span.end, s.span.line, s.span.column) == (3, 4, 1, 4)
    assert s.path == ("a", 0)
    s.path = ("b",)
    s.span = Span(5, 6, 2, 1)
    assert s.path == ("b",) and (s.span.start, s.span.line) == (5, 2)
    m = Mapping([(s, s)], Span(0, 9, 1, 1), ())
    assert m.path == () and m.get("v") is s
    assert "Scalar(value='v', style='plain', span=Span(start=5" in repr(s)


def test_order_matches_the_tree_walk() -> None:
    pf = parse_text(TEXTS[2], "f.yaml")
    assert pf.order is not None
    assert [type(n) for n in pf.order[:2]] == [Document, Mapping]
    assert pf.order == engine._in_event_order(pf)


# ------------------------------------------------------------------ the proof


def test_proof_counts_changed_scalars() -> None:
    """A change that reads back as the old value is caught (it never reaches the slow
    branch that counts changes)."""
    text = "a: v1\nb: v2\n"
    pf = parse_text(text, "f.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    node = root.get("a")
    assert isinstance(node, Scalar)
    with pytest.raises(ProofError, match="at a: expected 'v9', found 'v1'"):
        engine._prove_scalars(pf, text, {id(node): "v9"})


def test_proof_rejects_a_style_change_of_an_untouched_scalar() -> None:
    pf = parse_text("a: 'x'\nb: v\n", "f.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    b = root.get("b")
    assert isinstance(b, Scalar)
    with pytest.raises(ProofError, match="at a: the style of 'x' changed"):
        engine._prove_scalars(pf, 'a: "x"\nb: w\n', {id(b): "w"})


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("a: v1\nb: w\nc: 3\n", "the structure changed"),
        ("a: v1\nb: w\n--- c\n", "more nodes"),
        ("a: v1\n", "structure changed|fewer nodes"),
        ("a: [v1]\nb: w\n", "structure changed"),
        ("a: &q v1\nb: w\n", "expected 'v1', found 'v1'"),
        ("--- a: v1\n", "no longer parses"),
    ],
)
def test_proof_rejects_other_differences(new: str, message: str) -> None:
    pf = parse_text("a: v1\nb: v2\n", "f.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    b = root.get("b")
    assert isinstance(b, Scalar)
    with pytest.raises(ProofError, match=message):
        engine._prove_scalars(pf, new, {id(b): "w"})
    assert events_restored()


# ------------------------------------------------------------------ records


def test_edit_is_an_immutable_value() -> None:
    e = Edit("f.yaml", 3, 5, "helm", "image.tag", "1", "2")
    same = Edit("f.yaml", 3, 5, "helm", "image.tag", "1", "2", 0, None)
    assert e == same and hash(e) == hash(same) and len({e, same}) == 1
    assert e != Edit("f.yaml", 3, 5, "helm", "image.tag", "1", "3")
    with pytest.raises(AttributeError):
        e.line = 4  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(e)) == e
    assert e.to_dict() == {
        "file": "f.yaml", "line": 3, "column": 5, "target": "helm", "path": "image.tag",
        "old": "1", "new": "2", "document": 0, "note": None,
    }  # fmt: skip
    assert repr(e) == (
        "Edit(file='f.yaml', line=3, column=5, target='helm', path='image.tag', old='1', "
        "new='2', document=0, note=None)"
    )


def test_file_error_and_result_compare_by_value() -> None:
    err = FileError("f.yaml", 1, 2, "bad")
    assert str(err) == "f.yaml:1:2: bad"
    assert err == FileError("f.yaml", 1, 2, "bad") != FileError("f.yaml", 1, 3, "bad")
    assert pickle.loads(pickle.dumps(err)) == err
    r = Result()
    assert r == Result([], [], [], "") and r.edits == [] and r.diff == ""
    r.edits.append(Edit("f", 1, 1, "t", "p", None, "x"))
    assert r != Result()
    assert "FileError(file='f.yaml'" in repr(err)


def test_the_model_imports_neither_dataclasses_nor_typing() -> None:
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); "
        "import promoter.yamledit.engine, promoter.yamledit.parse; "
        "print(sorted({'dataclasses', 'typing', 'inspect', 'contextlib'} & "
        "(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "[]"
