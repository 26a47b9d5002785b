"""Property tests: random YAML files, random image scalars set to random (trap) tags.

The output must read back (by PyYAML, a YAML 1.1 reader, and ruamel, a YAML
1.2 reader) as the original data except the intended values, and every
character outside the changed scalars must be identical.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from promoter.yamledit.engine import EditError, apply
from promoter.yamledit.model import (
    Alias,
    AppendItem,
    DeletePair,
    Mapping,
    Node,
    NodePath,
    ParsedFile,
    Scalar,
    Sequence,
    SetScalar,
)
from promoter.yamledit.parse import parse_text
from promoter.yamledit.quoting import needs_quotes

TRAPS = [
    "1.10", "010", "1e3", "2024.10", "20240215", "2873e41", "true", "null", "y", "n", "on",
    "12:30", "0o17", "2024-01-01", "0x1F", "1_000", ".5", "~", "", "yes", "Off",
]  # fmt: skip
SAFE = [
    "v1.2.3", "1.2.3", "sha-abc", "nginx:1.25", "ghcr.io/org/app:v2", "latest", "a#b",
    "localhost:5000/team/app:1.0@sha256:" + "ab" * 32, "it's", 'say "hi"', "x: y", "- z",
    "a, b", "[x]", "ünï", "#c", "back\\slash",
]  # fmt: skip
KEYS = ["image", "tag", "name", "repository", "registry", "spec", "values", "x", "digest"]


@dataclass
class Doc:
    """What the generator decided; rendered to text by ``emit``."""

    root: Any
    styles: dict[int, str] = field(default_factory=dict)


# A generated tree: ("map", flow, [(key, node)]), ("seq", flow, [node]),
# ("scalar", value, style, comment, anchor), ("alias", name).
Gen = tuple[Any, ...]


def scalar_st(anchors: list[str]) -> st.SearchStrategy[Gen]:
    value = st.sampled_from(TRAPS + SAFE)
    style = st.sampled_from(["plain", "single", "double"])
    comment = st.one_of(st.none(), st.sampled_from(["c", " spaced # inner", "ünï 🚀"]))
    return st.tuples(st.just("scalar"), value, style, comment, st.booleans())


def tree_st() -> st.SearchStrategy[Gen]:
    leaf = scalar_st([])

    def extend(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
        pairs = st.lists(st.tuples(st.sampled_from(KEYS), children), max_size=4).map(
            lambda ps: list({k: v for k, v in ps}.items())
        )
        flow = st.sampled_from([False, False, False, True])  # mostly block style
        return st.one_of(
            st.tuples(st.just("map"), flow, pairs),
            st.tuples(st.just("seq"), flow, st.lists(children, max_size=4)),
        )

    return st.recursive(leaf, extend, max_leaves=14)


class Emitter:
    """Writes a generated tree as YAML text in the styles the tree asks for."""

    def __init__(self, indent: int, compact_seq: bool) -> None:
        self.indent = indent
        self.compact_seq = compact_seq
        self.anchors = 0
        self.defined: list[str] = []

    def scalar(self, node: Gen, flow: bool) -> str:
        _, value, style, _, anchor = node
        if style == "plain" and needs_quotes(value, "flow" if flow else "block"):
            style = "double"
        if style == "plain":
            text = value
        elif style == "single":
            text = "'" + value.replace("'", "''") + "'"
        else:
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if anchor:
            if self.defined and self.anchors % 3 == 2:
                self.anchors += 1
                return f"*{self.defined[-1]}"
            self.anchors += 1
            name = f"a{self.anchors}"
            self.defined.append(name)
            return f"&{name} {text}"
        return text

    def flow(self, node: Gen) -> str:
        if node[0] == "scalar":
            return self.scalar(node, True)
        if node[0] == "map":
            return "{" + ", ".join(f"{k}: {self.flow(v)}" for k, v in node[2]) + "}"
        return "[" + ", ".join(self.flow(v) for v in node[2]) + "]"

    def is_block(self, node: Gen) -> bool:
        return node[0] != "scalar" and not node[1] and bool(node[2])

    def comment(self, node: Gen) -> str:
        return f"  # {node[3]}" if node[0] == "scalar" and node[3] is not None else ""

    def block(self, node: Gen, ind: int) -> list[str]:
        pad = " " * ind
        lines: list[str] = []
        if node[0] == "map":
            for key, value in node[2]:
                if self.is_block(value):
                    lines.append(f"{pad}{key}:")
                    extra = 0 if value[0] == "seq" and self.compact_seq else self.indent
                    lines += self.block(value, ind + extra)
                else:
                    lines.append(f"{pad}{key}: {self.flow(value)}{self.comment(value)}")
        else:
            for item in node[2]:
                if self.is_block(item):
                    sub = self.block(item, ind + 2)
                    sub[0] = f"{pad}- " + sub[0][ind + 2 :]
                    lines += sub
                else:
                    lines.append(f"{pad}- {self.flow(item)}{self.comment(item)}")
        return lines


def emit(docs: list[Gen], nl: str, indent: int, compact: bool, final_nl: bool, ends: bool) -> str:
    out: list[str] = ["# generated"]
    for root in docs:
        em = Emitter(indent, compact)  # anchors are per document
        out.append("---")
        if root[0] != "scalar" and not root[1] and root[2]:
            out += em.block(root, 0)
        else:
            out.append(em.flow(root) + em.comment(root))
        if ends:
            out.append("...")
    text = nl.join(out)
    return text + nl if final_nl else text


def value_scalars(pf: ParsedFile) -> list[Scalar]:
    """Editable value scalars (not keys), each once (alias targets included once)."""
    seen: dict[int, Scalar] = {}

    def walk(node: Node | None) -> None:
        if isinstance(node, Scalar) and node.style in ("plain", "single", "double"):
            seen.setdefault(id(node), node)
        elif isinstance(node, Mapping):
            for _, v in node.pairs:
                walk(v)
        elif isinstance(node, Sequence):
            for item in node.items:
                walk(item)

    for doc in pf.documents:
        walk(doc.root)
    return list(seen.values())


def occurrences(pf: ParsedFile, wanted: dict[int, str]) -> list[tuple[int, NodePath, str]]:
    """(document, path, new value) of every place a changed scalar is read, aliases included."""
    out: list[tuple[int, NodePath, str]] = []

    def walk(doc: int, node: Node | None, path: NodePath) -> None:
        target = node.target if isinstance(node, Alias) else node
        while isinstance(target, Alias):
            target = target.target
        if isinstance(target, Scalar) and id(target) in wanted:
            out.append((doc, path, wanted[id(target)]))
        elif isinstance(node, Mapping):
            for k, v in node.pairs:
                assert isinstance(k, Scalar)
                walk(doc, v, (*path, k.value))
        elif isinstance(node, Sequence):
            for i, item in enumerate(node.items):
                walk(doc, item, (*path, i))

    for doc in pf.documents:
        walk(doc.index, doc.root, ())
    return out


def set_path(data: Any, path: NodePath, value: Any) -> Any:
    if not path:
        return value
    data[path[0]] = set_path(data[path[0]], path[1:], value)
    return data


def load_pyyaml(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def load_ruamel(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(io.StringIO(text)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(tree_st(), min_size=1, max_size=3),
    nl=st.sampled_from(["\n", "\r\n"]),
    indent=st.sampled_from([2, 4]),
    compact=st.booleans(),
    final_nl=st.booleans(),
    ends=st.booleans(),
    data=st.data(),
)
def test_setting_random_scalars_changes_only_them(
    docs: list[Gen],
    nl: str,
    indent: int,
    compact: bool,
    final_nl: bool,
    ends: bool,
    data: st.DataObject,
) -> None:
    text = emit(docs, nl, indent, compact, final_nl, ends)
    pf = parse_text(text, "gen.yaml")
    candidates = value_scalars(pf)
    if not candidates:
        return
    chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
    wanted: dict[int, str] = {}
    for node in chosen:
        wanted.setdefault(id(node), data.draw(st.sampled_from(TRAPS + SAFE), label="new"))
    changes = [SetScalar(n, wanted[id(n)], "prop") for n in chosen]
    new_text, edits = apply(pf, changes)

    # 1. Independent readers see the original data with exactly the intended values changed.
    for load in (load_pyyaml, load_ruamel):
        expected = load(text)
        for doc, path, value in occurrences(pf, wanted):
            expected[doc] = set_path(expected[doc], path, value)
        assert load(new_text) == expected

    # 2. Every character outside the changed scalars is identical.
    after = parse_text(new_text, "gen.yaml")
    old_spans = sorted((n.span.start, n.span.end, n.path) for n in candidates if id(n) in wanted)
    by_start = {(n.path, n.span.line): n for n in value_scalars(after)}
    changed = [n for n in candidates if id(n) in wanted and n.value != wanted[id(n)]]
    assert len(edits) == len(changed)
    new_spans = []
    for start, _end, path in old_spans:
        old_node = next(n for n in candidates if n.span.start == start)
        new_node = by_start[(path, old_node.span.line)]
        new_spans.append((new_node.span.start, new_node.span.end))
        assert new_node.value == wanted[id(old_node)]
    old_cuts = [0, *[p for s in old_spans for p in s[:2]], len(text)]
    new_cuts = [0, *[p for s in new_spans for p in s], len(new_text)]
    for i in range(0, len(old_cuts), 2):
        assert text[old_cuts[i] : old_cuts[i + 1]] == new_text[new_cuts[i] : new_cuts[i + 1]]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(tree_st(), min_size=1, max_size=2),
    nl=st.sampled_from(["\n", "\r\n"]),
    indent=st.sampled_from([2, 4]),
    compact=st.booleans(),
    final_nl=st.booleans(),
    data=st.data(),
)
def test_delete_and_append_keep_the_rest(
    docs: list[Gen], nl: str, indent: int, compact: bool, final_nl: bool, data: st.DataObject
) -> None:
    """Deleting a pair or appending an item: readers see exactly that change."""
    text = emit(docs, nl, indent, compact, final_nl, False)
    pf = parse_text(text, "gen.yaml")
    mappings: list[tuple[int, NodePath, Mapping]] = []
    sequences: list[tuple[int, NodePath, Mapping, str, Sequence]] = []

    def walk(doc: int, node: Node | None, path: NodePath) -> None:
        if isinstance(node, Mapping):
            mappings.append((doc, path, node))
            for k, v in node.pairs:
                assert isinstance(k, Scalar)
                if isinstance(v, Sequence) and (v.flow or v.items):
                    sequences.append((doc, (*path, k.value), node, k.value, v))
                walk(doc, v, (*path, k.value))
        elif isinstance(node, Sequence):
            for i, item in enumerate(node.items):
                walk(doc, item, (*path, i))

    for d in pf.documents:
        walk(d.index, d.root, ())
    expected = load_pyyaml(text)
    item = (("name", "web"), ("newTag", data.draw(st.sampled_from(TRAPS + SAFE))))
    options = [m for m in mappings if m[2].pairs] + sequences
    if not options:
        return
    pick = data.draw(st.sampled_from(options))
    change: DeletePair | AppendItem
    if len(pick) == 3:
        doc, path, m = pick
        key = data.draw(st.sampled_from([k.value for k, _ in m.pairs if isinstance(k, Scalar)]))
        change = DeletePair(m, key, "prop")
        target = expected[doc]
        for part in path:
            target = target[part]
        del target[key]
    else:
        doc, path, m, key, seq = pick
        change = AppendItem(m, key, seq, item, "prop")
        target = expected[doc]
        for part in path:
            target = target[part]
        target.append(dict(item))
    try:
        new_text, _ = apply(pf, [change])
    except EditError as exc:
        assert isinstance(change, DeletePair) and "defines the anchor" in exc.message
        return
    assert load_pyyaml(new_text) == expected
