"""The located YAML tree the editing engine and the targets share.

A parsed file is a list of documents whose nodes carry exact character
offsets into the decoded text (``ParsedFile.text``). Targets read this tree
and return ``Change`` objects; the engine turns changes into splices and
proves that nothing else moved. Offsets are into ``text`` (a ``str``), not
into the raw bytes: the engine re-encodes with the file's own encoding, BOM
and line endings untouched.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, Literal

    ScalarStyle = Literal["plain", "single", "double", "literal", "folded"]
else:
    ScalarStyle = str

PathPart = str | int
NodePath = tuple[PathPart, ...]


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


class Position(_Record):
    """A node's start as libyaml's marks give it: ``index`` and 0-based ``line``/``column``.

    The parser keeps libyaml's own mark objects (same three attributes) on the nodes;
    this class stands in where the start had to move past an anchor or a tag.
    """

    __slots__ = ("column", "index", "line")

    def __init__(self, index: int, line: int, column: int) -> None:
        self.index = index
        self.line = line
        self.column = column


class _Located(_Record):
    """A node's place, stored the cheap way and shown as ``span`` and ``path``.

    The parser builds tens of thousands of nodes per large file, so it stores only
    what it already has: libyaml's start mark (``_mark``), the end offset (``_end``),
    and for the path a link to the parent's place (``_up``: ``()`` at a document's
    root, else ``(parent's _up, parent's _key)``, tuples, so the tree holds no
    reference cycles) and the node's own key or index (``_key``). ``span`` and
    ``path`` are computed when asked for (edits, messages). A node made by hand
    (``_up`` None) keeps its explicit path in ``_key``.
    """

    __slots__ = ("_end", "_key", "_mark", "_up")

    _end: int
    _key: Any
    _mark: Position
    _up: Any

    def _place(self, span: Span, path: NodePath) -> None:
        self.span = span
        self.path = path

    @property
    def span(self) -> Span:
        m = self._mark
        return Span(m.index, self._end, m.line + 1, m.column + 1)

    @span.setter
    def span(self, span: Span) -> None:
        self._mark = Position(span.start, span.line - 1, span.column - 1)
        self._end = span.end

    @property
    def path(self) -> NodePath:
        up = self._up
        key = self._key
        if up is None:
            return key  # type: ignore[no-any-return]  # set by hand
        if not up and key is None:
            return ()  # a document's root
        parts = [key]
        while up:
            up, key = up
            parts.append(key)
        parts.reverse()
        return tuple(parts)

    @path.setter
    def path(self, path: NodePath) -> None:
        self._up = None
        self._key = tuple(path)


class Scalar(_Located):
    """A scalar. ``span`` covers the token as written, quotes included, anchor/tag
    excluded. ``comment`` is the comment that ends the scalar's line, without the
    leading '#' and surrounding blanks; markers (``# {"$imagepolicy": ...}``,
    ``# promoter: ...``) live there."""

    __slots__ = ("anchor", "comment", "style", "tag", "value")

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
        self._place(span, path)
        self.tag = tag
        self.anchor = anchor
        self.comment = comment


class Mapping(_Located):
    __slots__ = ("anchor", "flow", "pairs", "tag")

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
        self._place(span, path)
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


class Sequence(_Located):
    __slots__ = ("anchor", "flow", "items", "tag")

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
        self._place(span, path)
        self.flow = flow
        self.anchor = anchor
        self.tag = tag


class Alias(_Located):
    """``*name``: edits go to ``target`` (the anchored node), never to the alias."""

    __slots__ = ("name", "target")

    def __init__(self, name: str, target: Node, span: Span, path: NodePath) -> None:
        self.name = name
        self.target = target
        self._place(span, path)


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
        order: list[Node | Document | None] | None = None,
    ) -> None:
        self.name = name  # path as the user gave it (used in messages)
        self.text = text  # decoded text, BOM stripped, line endings as in the file
        self.documents = documents
        self.bom = bom
        self.encoding = encoding
        # The nodes in the order the parser's events came (a Document where one starts,
        # each Scalar, Alias and Mapping/Sequence at its start, None where a mapping or
        # sequence ends), recorded by the parser for the engine's proof; None for a
        # tree built another way.
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


class Edit:
    """One applied change, as reported to people and machines.

    Immutable, compared and hashed by value, like the frozen dataclass it replaces
    (a plain slotted class: importing ``dataclasses`` pulls in ``inspect``, ~5-8 ms on
    every ``promoter`` run). :meth:`to_dict` gives its fields as a dict.
    """

    __slots__ = ("column", "document", "file", "line", "new", "note", "old", "path", "target")

    FIELDS = ("file", "line", "column", "target", "path", "old", "new", "document", "note")

    file: str
    line: int
    column: int
    target: str
    path: str  # dotted JSON-ish path, e.g. spec.template.spec.containers[0].image
    old: str | None
    new: str | None
    document: int
    note: str | None

    def __init__(
        self,
        file: str,
        line: int,
        column: int,
        target: str,
        path: str,
        old: str | None,
        new: str | None,
        document: int = 0,
        note: str | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "file", file)
        init(self, "line", line)
        init(self, "column", column)
        init(self, "target", target)
        init(self, "path", path)
        init(self, "old", old)
        init(self, "new", new)
        init(self, "document", document)
        init(self, "note", note)

    def _values(self) -> tuple[object, ...]:
        return (
            self.file, self.line, self.column, self.target, self.path, self.old, self.new,
            self.document, self.note,
        )  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return dict(zip(self.FIELDS, self._values(), strict=True))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: an Edit is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: an Edit is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Edit)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in zip(self.FIELDS, self._values(), strict=True))
        return f"Edit({fields})"

    def __reduce__(self) -> tuple[type[Edit], tuple[object, ...]]:
        return (Edit, self._values())  # pickling (set-image's workers send edits back)


def format_path(path: NodePath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class FileError:
    """A file that could not be processed: ``file:line:column: message``.

    Compared by value, mutable, like the dataclass it replaces (see :class:`Edit`)."""

    __slots__ = ("column", "file", "line", "message")

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"FileError(file={self.file!r}, line={self.line!r}, column={self.column!r}, "
            f"message={self.message!r})"
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, FileError)
        return (self.file, self.line, self.column, self.message) == (
            other.file, other.line, other.column, other.message,
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable, like an eq=True dataclass

    def __reduce__(self) -> tuple[type[FileError], tuple[str, int, int, str]]:
        return (FileError, (self.file, self.line, self.column, self.message))


class Result:
    """What an edit run did: edits, per-file errors, changed files, the diff.

    A plain slotted class compared by value (see :class:`Edit`); subclasses add fields."""

    __slots__ = ("changed_files", "diff", "edits", "errors")

    def __init__(
        self,
        edits: list[Edit] | None = None,
        errors: list[FileError] | None = None,
        changed_files: list[str] | None = None,
        diff: str = "",
    ) -> None:
        self.edits: list[Edit] = [] if edits is None else edits
        self.errors: list[FileError] = [] if errors is None else errors
        self.changed_files: list[str] = [] if changed_files is None else changed_files
        self.diff = diff

    # The fields, in order, for equality and repr; a subclass appends its own.
    _NAMES: tuple[str, ...] = ("edits", "errors", "changed_files", "diff")

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self._NAMES)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Result)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._NAMES)
        return f"{type(self).__name__}({inner})"
