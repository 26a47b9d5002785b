"""The located YAML tree the editing engine and the targets share.

A parsed file is a list of documents whose nodes carry exact character
offsets into the decoded text (``ParsedFile.text``). Targets read this tree
and return ``Change`` objects; the engine turns changes into splices and
proves that nothing else moved. Offsets are into ``text`` (a ``str``), not
into the raw bytes: the engine re-encodes with the file's own encoding, BOM
and line endings untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PathPart = str | int
NodePath = tuple[PathPart, ...]
ScalarStyle = Literal["plain", "single", "double", "literal", "folded"]


class _Record:
    """Base of the tree's node classes: plain ``__slots__`` classes, not dataclasses.

    Every ``promoter set-image`` run imports this module, and building a slotted
    dataclass costs ~0.4 ms at import (the class is made twice and its methods are
    generated with ``exec``); for these seven hot classes that was ~3 ms per run.
    They compare by identity, like the ``eq=False`` dataclasses they replace.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        code = type(self).__init__.__code__  # fields in constructor order
        names = code.co_varnames[1 : code.co_argcount]
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class Span(_Record):
    """Where a node sits: ``text[start:end]``; ``line``/``column`` are 1-based."""

    __slots__ = ("column", "end", "line", "start")

    def __init__(self, start: int, end: int, line: int, column: int) -> None:
        self.start = start
        self.end = end
        self.line = line
        self.column = column


class Scalar(_Record):
    """A scalar. ``span`` covers the token as written, quotes included, anchor/tag
    excluded. ``comment`` is the comment that ends the scalar's line, without the
    leading '#' and surrounding blanks; markers (``# {"$imagepolicy": ...}``,
    ``# promoter: ...``) live there."""

    __slots__ = ("anchor", "comment", "path", "span", "style", "tag", "value")

    def __init__(
        self,
        value: str,
        style: ScalarStyle,
        span: Span,
        path: NodePath,
        tag: str | None = None,
        anchor: str | None = None,
        comment: str | None = None,
    ) -> None:
        self.value = value
        self.style = style
        self.span = span
        self.path = path
        self.tag = tag
        self.anchor = anchor
        self.comment = comment


class Mapping(_Record):
    __slots__ = ("anchor", "flow", "pairs", "path", "span", "tag")

    def __init__(
        self,
        pairs: list[tuple[Node, Node]],
        span: Span,
        path: NodePath,
        flow: bool = False,
        anchor: str | None = None,
        tag: str | None = None,
    ) -> None:
        self.pairs = pairs
        self.span = span
        self.path = path
        self.flow = flow
        self.anchor = anchor
        self.tag = tag

    def get(self, key: str) -> Node | None:
        for k, v in self.pairs:
            if isinstance(k, Scalar) and k.value == key:
                return v
        return None

    def key_node(self, key: str) -> Scalar | None:
        for k, _ in self.pairs:
            if isinstance(k, Scalar) and k.value == key:
                return k
        return None

    def get_str(self, key: str) -> str | None:
        node = deref(self.get(key))
        return node.value if isinstance(node, Scalar) else None


class Sequence(_Record):
    __slots__ = ("anchor", "flow", "items", "path", "span", "tag")

    def __init__(
        self,
        items: list[Node],
        span: Span,
        path: NodePath,
        flow: bool = False,
        anchor: str | None = None,
        tag: str | None = None,
    ) -> None:
        self.items = items
        self.span = span
        self.path = path
        self.flow = flow
        self.anchor = anchor
        self.tag = tag


class Alias(_Record):
    """``*name``: edits go to ``target`` (the anchored node), never to the alias."""

    __slots__ = ("name", "path", "span", "target")

    def __init__(self, name: str, target: Node, span: Span, path: NodePath) -> None:
        self.name = name
        self.target = target
        self.span = span
        self.path = path


Node = Scalar | Mapping | Sequence | Alias


def deref(node: Node | None) -> Scalar | Mapping | Sequence | None:
    while isinstance(node, Alias):
        node = node.target
    return node


class Document(_Record):
    __slots__ = ("index", "root", "span")

    def __init__(self, index: int, root: Node | None, span: Span) -> None:
        self.index = index  # 0-based position in the stream
        self.root = root
        self.span = span


class ParsedFile(_Record):
    __slots__ = ("bom", "documents", "encoding", "name", "order", "text")

    def __init__(
        self,
        name: str,
        text: str,
        documents: list[Document],
        bom: bool = False,
        encoding: str = "utf-8",
        order: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.name = name  # path as the user gave it (used in messages)
        self.text = text  # decoded text, BOM stripped, line endings as in the file
        self.documents = documents
        self.bom = bom
        self.encoding = encoding
        # (kind, node) in the order the parser's events came ("D" document, "S" scalar,
        # "M"/"Q" mapping/sequence start, "E" their end, "A" alias), recorded by the
        # parser for the engine's proof; None for a tree built another way.
        self.order = order


# ---------------------------------------------------------------- changes


# Plain slotted classes like the nodes (see _Record), treated as immutable: a target
# builds them, the engine reads them.


class SetScalar(_Record):
    """Replace one scalar's value. The engine chooses the quoting."""

    __slots__ = ("new_value", "node", "note", "target")

    def __init__(self, node: Scalar, new_value: str, target: str, note: str | None = None) -> None:
        self.node = node
        self.new_value = new_value
        self.target = target  # name of the target plug-in that asked for it
        self.note = note  # e.g. "digest removed: no longer matches the new tag"


class DeletePair(_Record):
    """Remove ``key: value`` (its whole line(s)) from a block mapping, e.g. a stale ``digest:``."""

    __slots__ = ("key", "mapping", "note", "target")

    def __init__(self, mapping: Mapping, key: str, target: str, note: str | None = None) -> None:
        self.mapping = mapping
        self.key = key
        self.target = target
        self.note = note


class AppendItem(_Record):
    """Append a mapping of strings to a sequence (``--add`` of a kustomize ``images:`` entry).

    When ``sequence`` is None the key ``key`` is created in ``mapping`` first.
    """

    __slots__ = ("item", "key", "mapping", "note", "sequence", "target")

    def __init__(
        self,
        mapping: Mapping,
        key: str,
        sequence: Sequence | None,
        item: tuple[tuple[str, str], ...],
        target: str,
        note: str | None = None,
    ) -> None:
        self.mapping = mapping
        self.key = key
        self.sequence = sequence
        self.item = item
        self.target = target
        self.note = note


Change = SetScalar | DeletePair | AppendItem


@dataclass(frozen=True, slots=True)
class Edit:
    """One applied change, as reported to people and machines."""

    file: str
    line: int
    column: int
    target: str
    path: str  # dotted JSON-ish path, e.g. spec.template.spec.containers[0].image
    old: str | None
    new: str | None
    document: int = 0
    note: str | None = None


def format_path(path: NodePath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass(slots=True)
class FileError:
    """A file that could not be processed: ``file:line:column: message``."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(slots=True)
class Result:
    edits: list[Edit] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    diff: str = ""
