"""Parse YAML text into the located tree of :mod:`promoter.yamledit.model`.

We read libyaml's *events* (PyYAML's C binding, ``yaml._yaml.CParser``) and
build the tree ourselves in one cheap pass: libyaml's marks are character
offsets into the text we give it (checked for non-ASCII text and CRLF in the
tests), events keep aliases visible (a composer would fold them into their
anchored node) and anchors may be redefined as the YAML spec allows. The
measurement that led to this choice is in the README ("The editing engine").

The text is parsed as-is (newline translation off, so CRLF stays in
``ParsedFile.text``); spans index that text.

How the events are read (:func:`feed`): PyYAML's ``CParser.get_event`` builds
each event by calling the event class it finds in ``yaml._yaml``'s globals
(``ScalarEvent(anchor, tag, implicit, value, start_mark, end_mark, style)``...),
and those classes run a Python ``__init__``. For the duration of one parse we put
our own handlers under those names, so libyaml's parser calls the tree builder
(or the engine's proof) directly with each event's fields: no event objects, and
the loop over events runs in C. This halves the time of a large file. It is safe
because the names are restored before the lock is released, our parses take a
lock, and when other Python threads exist the handlers hand any call made from
another thread to PyYAML's own classes. Once per process a small document with
every kind of event is read both ways; a PyYAML that does not give the same
fields (another version's ``_yaml.pyx``) gets the plain path: event objects fed
to the same handlers.
"""

from __future__ import annotations

import _thread
import codecs
import gc
import os
from collections import deque

from promoter.yamledit.model import (
    Alias,
    Document,
    Mapping,
    ParsedFile,
    Position,
    Scalar,
    Sequence,
    Span,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path  # pathlib costs every run ~3 ms; callers bring their own
    from typing import Any

    from promoter.yamledit.model import Node, ScalarStyle

    Handler = Callable[..., object]
    Order = list[Node | Document | None]

# After this many tab repairs we stop and report the scanner's error: the
# repair loop re-parses the whole file each time.
_MAX_TAB_REPAIRS = 200

_STYLES: dict[str | None, ScalarStyle] = {
    None: "plain",
    "": "plain",
    "'": "single",
    '"': "double",
    "|": "literal",
    ">": "folded",
}

# The event classes ``yaml._yaml`` calls, in the order :func:`feed` takes handlers.
EVENTS = (
    "StreamStartEvent",
    "StreamEndEvent",
    "DocumentStartEvent",
    "DocumentEndEvent",
    "AliasEvent",
    "ScalarEvent",
    "SequenceStartEvent",
    "SequenceEndEvent",
    "MappingStartEvent",
    "MappingEndEvent",
)
# What each of them is called with, in order (PyYAML's ``_yaml.pyx``), which are also
# the event objects' attribute names.
_FIELDS = {
    "StreamStartEvent": ("start_mark", "end_mark", "encoding"),
    "StreamEndEvent": ("start_mark", "end_mark"),
    "DocumentStartEvent": ("start_mark", "end_mark", "explicit", "version", "tags"),
    "DocumentEndEvent": ("start_mark", "end_mark", "explicit"),
    "AliasEvent": ("anchor", "start_mark", "end_mark"),
    "ScalarEvent": ("anchor", "tag", "implicit", "value", "start_mark", "end_mark", "style"),
    "SequenceStartEvent": ("anchor", "tag", "implicit", "start_mark", "end_mark", "flow_style"),
    "SequenceEndEvent": ("start_mark", "end_mark"),
    "MappingStartEvent": ("anchor", "tag", "implicit", "start_mark", "end_mark", "flow_style"),
    "MappingEndEvent": ("start_mark", "end_mark"),
}
# Every kind of event, for the check that swapping works (see :func:`_swap_works`).
_PROBE = "%YAML 1.1\n--- !!map\na: [b, &c 'd', *c]\n? e\n: !t |\n  f\ng:\n- \"h\"\n...\n"
_LOCK = _thread.allocate_lock()
_state: dict[str, Any] = {}  # "yaml": the yaml package, "cyaml": yaml._yaml, "swap": bool


def libyaml() -> Any:
    """``yaml._yaml`` (imported once), after deciding whether :func:`feed` may swap."""
    cy = _state.get("cyaml")
    if cy is None:
        import yaml
        import yaml._yaml

        cy = yaml._yaml
        _state["yaml"] = yaml
        if "swap" not in _state:
            _state["swap"] = _swap_works(cy, yaml.events)
        _state["cyaml"] = cy
        register = getattr(os, "register_at_fork", None)
        if register is not None:
            register(after_in_child=_after_fork)
    return cy


def yaml_module() -> Any:
    """The ``yaml`` package (for its exception classes), imported once."""
    if "yaml" not in _state:
        libyaml()
    return _state["yaml"]


def feed(parser: Any, handlers: tuple[Handler, ...], stop: object) -> None:
    """Run ``parser`` (a ``CParser``) to the end, calling ``handlers[i]`` (one per
    name in :data:`EVENTS`) with each event's constructor arguments, until a handler
    returns ``stop``. libyaml's errors propagate. See the module docstring.
    """
    cy = libyaml()
    with _LOCK:
        if not _state["swap"]:
            _feed_objects(parser, handlers, stop)
            return
        saved = [getattr(cy, n) for n in EVENTS]
        count = getattr(_thread, "_count", None)
        if count is None or count():  # other threads: theirs go to PyYAML's classes
            owner = _thread.get_ident()
            handlers = tuple(_guard(h, o, owner) for h, o in zip(handlers, saved, strict=True))
        for n, h in zip(EVENTS, handlers, strict=True):
            setattr(cy, n, h)
        try:
            deque(iter(parser.get_event, stop), 0)
        finally:
            for n, o in zip(EVENTS, saved, strict=True):
                setattr(cy, n, o)


def _guard(mine: Handler, theirs: Handler, owner: int) -> Handler:
    get_ident = _thread.get_ident

    def handler(*args: object) -> object:
        if get_ident() == owner:
            return mine(*args)
        return theirs(*args)

    return handler


def _feed_objects(parser: Any, handlers: tuple[Handler, ...], stop: object) -> None:
    """:func:`feed` without swapping: read PyYAML's event objects, call the same handlers."""
    events = yaml_module().events
    calls = {getattr(events, n): (h, _FIELDS[n]) for n, h in zip(EVENTS, handlers, strict=True)}
    while True:
        ev = parser.get_event()
        handler, fields = calls[type(ev)]
        if handler(*[getattr(ev, f) for f in fields]) is stop:
            return


def _swap_works(cy: Any, events: Any) -> bool:
    """Whether this PyYAML's ``CParser`` calls the event classes in ``yaml._yaml``'s
    globals with the arguments we expect: once per process, a small document with
    every kind of event is read both ways and must give the same fields."""
    if not all(getattr(cy, n, None) is getattr(events, n, False) for n in EVENTS):
        return False

    mark = cy.Mark

    def plain(value: Any) -> object:  # marks compared by position
        if isinstance(value, mark):
            return (value.index, value.line, value.column)
        return value

    expected = []
    parser = cy.CParser(_PROBE)
    try:
        while True:
            ev = parser.get_event()
            name = type(ev).__name__
            expected.append((name, tuple(plain(getattr(ev, f)) for f in _FIELDS[name])))
            if name == "StreamEndEvent":
                break
    finally:
        parser.dispose()

    got: list[tuple[str, tuple[object, ...]]] = []
    stop = object()

    def recorder(name: str) -> Handler:
        def handler(*args: object) -> object:
            got.append((name, tuple(plain(a) for a in args)))
            return stop if name == "StreamEndEvent" else None

        return handler

    parser = cy.CParser(_PROBE)
    try:
        with _LOCK:
            saved = [getattr(cy, n) for n in EVENTS]
            for n in EVENTS:
                setattr(cy, n, recorder(n))
            try:
                for _ in expected:  # bounded: never loops on a parser that ignores us
                    if parser.get_event() is stop:
                        break
            finally:
                for n, o in zip(EVENTS, saved, strict=True):
                    setattr(cy, n, o)
    except Exception:
        return False
    finally:
        parser.dispose()
    return got == expected


def _after_fork() -> None:
    """A child forked while another thread was parsing: PyYAML's names back, a free lock."""
    global _LOCK
    _LOCK = _thread.allocate_lock()
    cy, yaml = _state.get("cyaml"), _state.get("yaml")
    if cy is not None and yaml is not None:
        for n in EVENTS:
            setattr(cy, n, getattr(yaml.events, n))


class YamlError(Exception):
    """A file that is not YAML we can edit: ``file:line:column: message`` (1-based)."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class DuplicateKeyError(YamlError):
    """A mapping repeats a key: kubectl refuses such a file, and so do we."""

    def __init__(self, file: str, line: int, column: int, key: str, first_line: int) -> None:
        super().__init__(
            file,
            line,
            column,
            f"duplicate key {key!r} (first at line {first_line}); "
            "which one wins is ambiguous: remove one",
        )
        self.key = key
        self.first_line = first_line


def read_file(path: Path, name: str) -> ParsedFile:
    """Read and parse ``path``; ``name`` is how messages spell the file.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are accepted; the text is
    decoded without newline translation so CRLF survives in ``ParsedFile.text``.
    """
    data = path.read_bytes()
    text, bom, encoding = decode(data, name)
    pf = parse_text(text, name)
    pf.bom = bom
    pf.encoding = encoding
    return pf


def decode(data: bytes, name: str) -> tuple[str, bool, str]:
    """``(text, bom, encoding)`` of a file's bytes; undecodable bytes are a :class:`YamlError`."""
    bom = False
    encoding = "utf-8"
    body = data
    if data.startswith(codecs.BOM_UTF8):
        bom, body = True, data[3:]
    elif data.startswith(codecs.BOM_UTF16_LE):
        bom, encoding, body = True, "utf-16-le", data[2:]
    elif data.startswith(codecs.BOM_UTF16_BE):
        bom, encoding, body = True, "utf-16-be", data[2:]
    try:
        return body.decode(encoding), bom, encoding
    except UnicodeDecodeError as exc:
        before = body[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError(
            name, line, column, f"not {encoding.upper()} text ({exc.reason}); save it as UTF-8"
        ) from None


def parse_text(text: str, name: str) -> ParsedFile:
    """Parse every document of ``text`` (already decoded, BOM stripped)."""
    yaml = yaml_module()
    with no_gc():
        try:
            documents, order = _build(text, text, name)
        except yaml.MarkedYAMLError as first:
            documents, order = _parse_with_tab_repairs(text, name, first)
        except yaml.reader.ReaderError as exc:
            raise _reader_error(exc, text, name) from None
    return ParsedFile(name=name, text=text, documents=documents, order=order)


class no_gc:  # lower case: used like the function it was, ``with no_gc():``
    """Pause the cyclic garbage collector while building a tree.

    Building tens of thousands of small objects triggers collections that
    rescan everything allocated so far: measured on a 5,000-line file that
    doubles the parse time in a fresh process. The tree holds no cycles that
    need the collector, and it runs again right after.
    (A class, not ``contextlib.contextmanager``: cheaper, and no ``contextlib``.)
    """

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            gc.enable()


def _parse_with_tab_repairs(text: str, name: str, first: Any) -> tuple[list[Document], Order]:
    """Accept tabs that YAML allows but libyaml's scanner refuses.

    A tab used as separation (``-<TAB>x``) or on an otherwise blank line is
    valid YAML (kubectl reads it), but libyaml stops there. A tab and a space
    are both one character, so replacing exactly the tabs the scanner stopped
    at keeps every offset. Tabs used as indentation stay an error: a tab with
    only blanks before it on a line that has content.
    """
    yaml = yaml_module()
    error = first
    patched = text
    for _ in range(_MAX_TAB_REPAIRS):
        mark = error.problem_mark
        fixed = _repair_tab(patched, mark.index) if mark is not None else None
        if fixed is None:
            break
        patched = fixed
        try:
            return _build(patched, text, name)
        except yaml.MarkedYAMLError as again:
            error = again
        except yaml.reader.ReaderError as exc:
            raise _reader_error(exc, text, name) from None
    raise _syntax_error(first, name) from None


def _repair_tab(text: str, index: int) -> str | None:
    """``text`` with the blank run at ``index`` made of spaces, or None when not repairable."""
    if index >= len(text) or text[index] != "\t":
        return None
    line_start = text.rfind("\n", 0, index) + 1
    line_end = text.find("\n", index)
    if line_end == -1:
        line_end = len(text)
    line = text[line_start:line_end]
    before = text[line_start:index]
    if before.strip(" \t") == "" and line.strip(" \t\r") != "":
        return None  # indentation made of tabs: really invalid
    start = index
    while start > line_start and text[start - 1] in " \t":
        start -= 1
    end = index
    while end < line_end and text[end] in " \t":
        end += 1
    return text[:start] + " " * (end - start) + text[end:]


def _syntax_error(exc: Any, name: str) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or "invalid YAML"
    if exc.context:
        message = f"{message} ({exc.context})"
    if mark is None:
        return YamlError(name, 1, 1, message)
    return YamlError(name, mark.line + 1, mark.column + 1, message)


def _reader_error(exc: Any, text: str, name: str) -> YamlError:
    # libyaml reports a byte offset into the UTF-8 form of the text.
    index = len(text.encode("utf-8")[: exc.position].decode("utf-8", "ignore"))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    char = text[index] if index < len(text) else ""
    return YamlError(
        name, line, column, f"character {char!r} is not allowed in YAML ({exc.reason}); remove it"
    )


def _skip_properties(text: str, index: int, line: int, column: int) -> tuple[int, int, int]:
    """Move a node's start past its anchor/tag (``&a !!str "x"`` starts at ``"``)."""
    n = len(text)
    i = index
    while i < n and text[i] in "&!":
        if text[i] == "!" and i + 1 < n and text[i + 1] == "<":
            i = text.index(">", i) + 1  # verbatim tag !<...>
        else:
            while i < n and text[i] not in " \t\r\n":
                i += 1
        while i < n:  # separation: blanks, line breaks, comments
            c = text[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                while i < n and text[i] not in "\r\n":
                    i += 1
            else:
                break
    if i == index:
        return index, line, column
    breaks = text.count("\n", index, i)
    if breaks:
        line += breaks
        column = i - (text.rfind("\n", 0, i) + 1) + 1
    else:
        column += i - index
    return i, line, column


def _key_text(key: Node) -> str:
    while isinstance(key, Alias):
        key = key.target
    if isinstance(key, Scalar):
        return key.value
    return "?"  # a complex key (mapping or sequence): has no dotted-path spelling


def _moved(text: str, mark: Any) -> Position:
    """The start of a node that has an anchor or a tag: past them (``&a !!str "x"`` starts
    at ``"``), as a :class:`Position` like libyaml's marks (0-based line and column)."""
    index, line, column = _skip_properties(text, mark.index, mark.line + 1, mark.column + 1)
    return Position(index, line - 1, column - 1)


def _build(scan: str, text: str, name: str) -> tuple[list[Document], Order]:
    """Build documents from libyaml's events over ``scan`` (``text`` with tab repairs),
    and the nodes in event order (``ParsedFile.order``, for the engine's proof).

    This is the hot path (every candidate file goes through it): the handlers below
    are called once per event (see :func:`feed`), so they keep their state in closure
    variables and do for a scalar -- the common event -- only what the tree needs.
    The innermost open collection is ``cur``; ``mode`` says what comes next in it:
    0 a document's root, 1 a sequence item, 2 a mapping key, 3 that key's value.
    Each node stores its place as ``_up``/``_key`` (see ``model._Located``); ``link``
    is what ``cur``'s children store as ``_up``.
    """
    styles = _STYLES
    padded = text + "\n"  # so that padded[end] exists for a scalar ending the text
    find = padded.find
    new = object.__new__
    documents: list[Document] = []
    order: Order = []
    record = order.append
    anchors: dict[str, Node] = {}
    stack: list[tuple[Any, ...]] = []
    push = stack.append
    pop = stack.pop
    mode = 0
    cur: Any = None
    link: Any = ()
    pending: Any = None  # the key whose value comes next (mode 3)
    key_text: Any = None  # its text, the value's path part
    seen: dict[str, Node] = {}  # keys of cur so far (duplicates are an error)
    pairs_append: Any = None
    items: list[Node] = []
    items_append: Any = None
    root: Node | None = None
    doc: Any = None
    stop = object()
    ended: list[bool] = []

    def duplicate(node: Node, key: str) -> DuplicateKeyError:
        span = node.span
        return DuplicateKeyError(name, span.line, span.column, key, seen[key].span.line)

    def scalar(
        anchor: str | None,
        tag: str | None,
        implicit: object,
        value: str,
        start: Any,
        end_mark: Any,
        style: str | None,
    ) -> None:
        nonlocal mode, pending, key_text, root
        node = new(Scalar)
        if anchor is None and tag is None:
            node._mark = start
        else:
            node._mark = _moved(text, start)
            if anchor is not None:
                anchors[anchor] = node
        node._end = end = end_mark.index
        node.value = value
        node.style = kind = styles[style]
        node.tag = tag
        node.anchor = anchor
        c = padded[end]
        if (c == " " or c == "\t") and kind != "literal" and kind != "folded":
            nl = find("\n", end)
            hash_at = find("#", end, nl)
            if hash_at > end and not padded[end:hash_at].strip(" \t"):
                node.comment = padded[hash_at + 1 : nl].strip()
            else:
                node.comment = None
        else:
            node.comment = None
        record(node)
        if mode == 3:
            node._up = link
            node._key = key_text
            pairs_append((pending, node))
            mode = 2
        elif mode == 2:
            node._up = link
            node._key = value
            if value in seen:
                raise duplicate(node, value)
            seen[value] = node
            pending = node
            key_text = value
            mode = 3
        elif mode == 1:
            node._up = link
            node._key = len(items)
            items_append(node)
        else:
            node._up = ()
            node._key = None
            root = node

    def attach(node: Node) -> None:
        """``scalar``'s attaching, for the other kinds of node."""
        nonlocal mode, pending, key_text, root
        if mode == 3:
            node._up = link
            node._key = key_text
            pairs_append((pending, node))
            mode = 2
        elif mode == 2:
            key = _key_text(node)
            node._up = link
            node._key = key
            if key in seen and key != "?":
                raise duplicate(node, key)
            seen[key] = node
            pending = node
            key_text = key
            mode = 3
        elif mode == 1:
            node._up = link
            node._key = len(items)
            items_append(node)
        else:
            node._up = ()
            node._key = None
            root = node

    def collection(
        node: Mapping | Sequence, anchor: str | None, tag: str | None, implicit: object,
        start: Any, flow: object,
    ) -> None:  # fmt: skip
        """Open a mapping or sequence: attach it, then make it ``cur``."""
        nonlocal cur, link
        if anchor is None and tag is None:
            node._mark = start
        else:
            node._mark = start = _moved(text, start)
            if anchor is not None:
                anchors[anchor] = node
        node._end = start.index
        node.tag = None if implicit else tag
        node.anchor = anchor
        node.flow = bool(flow)
        record(node)
        if mode == 3:  # a mapping's value, the common case: ``attach`` inline
            node._up = link
            node._key = key_text
            pairs_append((pending, node))
            push((cur, 2, None, None, seen, link, pairs_append, items, items_append))
            link = (link, key_text)
        else:
            attach(node)
            push((cur, mode, pending, key_text, seen, link, pairs_append, items, items_append))
            link = (node._up, node._key) if mode else ()
        cur = node

    def mapping_start(
        anchor: str | None, tag: str | None, implicit: object, start: Any, end: Any, flow: object
    ) -> None:
        nonlocal mode, seen, pairs_append
        node = new(Mapping)
        pairs: list[tuple[Node, Node]] = []
        node.pairs = pairs
        collection(node, anchor, tag, implicit, start, flow)
        mode = 2
        seen = {}
        pairs_append = pairs.append

    def sequence_start(
        anchor: str | None, tag: str | None, implicit: object, start: Any, end: Any, flow: object
    ) -> None:
        nonlocal mode, items, items_append
        node = new(Sequence)
        own: list[Node] = []  # ``items`` stays the outer sequence's until ``collection`` saved it
        node.items = own
        collection(node, anchor, tag, implicit, start, flow)
        mode = 1
        items = own
        items_append = own.append

    def collection_end(start: Any, end: Any) -> None:
        nonlocal cur, mode, pending, key_text, seen, link, pairs_append, items, items_append
        cur._end = end.index
        record(None)
        cur, mode, pending, key_text, seen, link, pairs_append, items, items_append = pop()

    def alias(anchor: str, start: Any, end: Any) -> None:
        target = anchors.get(anchor)
        if target is None:
            raise YamlError(
                name,
                start.line + 1,
                start.column + 1,
                f"alias *{anchor} refers to no anchor &{anchor} before it",
            )
        node = new(Alias)
        node.name = anchor
        node.target = target
        node._mark = start
        node._end = end.index
        record(node)
        attach(node)

    def document_start(
        start: Any, end: Any, explicit: object, version: object, tags: object
    ) -> None:
        nonlocal doc, root
        doc = Document(
            len(documents), None, Span(start.index, start.index, start.line + 1, start.column + 1)
        )
        record(doc)
        root = None

    def document_end(start: Any, end: Any, explicit: object) -> None:
        doc.span.end = end.index
        doc.root = root
        documents.append(doc)

    def stream_start(start: Any, end: Any, encoding: object) -> None:
        pass

    def stream_end(start: Any, end: Any) -> object:
        ended.append(True)
        return stop

    handlers = (
        stream_start, stream_end, document_start, document_end, alias, scalar,
        sequence_start, collection_end, mapping_start, collection_end,
    )  # fmt: skip
    parser = libyaml().CParser(scan)
    try:
        feed(parser, handlers, stop)
    finally:
        parser.dispose()
    if not ended or stack:  # cannot happen: libyaml balances its events
        raise YamlError(name, 1, 1, "the YAML parser stopped before the end of the file")
    return documents, order
