"""Parse YAML text into the located tree of :mod:`promoter.yamledit.model`.

We read libyaml's *events* (PyYAML's C binding, ``yaml._yaml.CParser``) and
build the tree ourselves in one cheap pass: libyaml's marks are character
offsets into the text we give it (checked for non-ASCII text and CRLF in the
tests), events keep aliases visible (a composer would fold them into their
anchored node) and anchors may be redefined as the YAML spec allows. The
measurement that led to this choice is in the README ("The editing engine").

The text is parsed as-is (newline translation off, so CRLF stays in
``ParsedFile.text``); spans index that text.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from promoter.yamledit.model import (
    Alias,
    Document,
    Mapping,
    Node,
    ParsedFile,
    Scalar,
    ScalarStyle,
    Sequence,
    Span,
)

if TYPE_CHECKING:  # pathlib costs every run ~3 ms to import; callers bring their own Path
    from pathlib import Path

_END = ("E", None)  # ParsedFile.order entries without a node
_DOC = ("D", None)

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
    import yaml

    with no_gc():
        try:
            documents, order = _build(text, text, name)
        except yaml.MarkedYAMLError as first:
            documents, order = _parse_with_tab_repairs(text, name, first)
        except yaml.reader.ReaderError as exc:
            raise _reader_error(exc, text, name) from None
    return ParsedFile(name=name, text=text, documents=documents, order=order)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a tree.

    Building tens of thousands of small objects triggers collections that
    rescan everything allocated so far: measured on a 5,000-line file that
    doubles the parse time in a fresh process. The tree holds no cycles that
    need the collector, and it runs again right after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_with_tab_repairs(
    text: str, name: str, first: Any
) -> tuple[list[Document], list[tuple[str, Any]]]:
    """Accept tabs that YAML allows but libyaml's scanner refuses.

    A tab used as separation (``-<TAB>x``) or on an otherwise blank line is
    valid YAML (kubectl reads it), but libyaml stops there. A tab and a space
    are both one character, so replacing exactly the tabs the scanner stopped
    at keeps every offset. Tabs used as indentation stay an error: a tab with
    only blanks before it on a line that has content.
    """
    import yaml

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
    if isinstance(key, Scalar):
        return key.value
    if isinstance(key, Alias):
        target = key.target
        while isinstance(target, Alias):
            target = target.target
        if isinstance(target, Scalar):
            return target.value
    return "?"  # a complex key (mapping or sequence): has no dotted-path spelling


def _build(scan: str, text: str, name: str) -> tuple[list[Document], list[tuple[str, Any]]]:
    """Build documents from libyaml's events over ``scan`` (``text`` with tab repairs),
    and the nodes in event order (``ParsedFile.order``, for the engine's proof).

    This is the hot path (every candidate file goes through it), so the common
    case -- a scalar in a mapping or sequence -- is inlined.
    A frame is ``[container, is_sequence, pending_key, seen_keys, pending_key_text]``.
    """
    from yaml import events
    from yaml._yaml import CParser

    scalar_event = events.ScalarEvent
    alias_event = events.AliasEvent
    mapping_start = events.MappingStartEvent
    sequence_start = events.SequenceStartEvent
    mapping_end = events.MappingEndEvent
    sequence_end = events.SequenceEndEvent
    document_start = events.DocumentStartEvent
    document_end = events.DocumentEndEvent
    stream_end = events.StreamEndEvent
    styles = _STYLES
    find = text.find
    n_text = len(text)

    documents: list[Document] = []
    order: list[tuple[str, Any]] = []
    record = order.append
    anchors: dict[str, Node] = {}
    stack: list[list[Any]] = []
    root: Node | None = None
    doc_span: Span | None = None
    parser = CParser(scan)
    try:
        while True:
            ev: Any = parser.get_event()
            cls = type(ev)
            node: Node
            if cls is scalar_event:
                start = ev.start_mark
                index = start.index
                line = start.line + 1
                column = start.column + 1
                anchor = ev.anchor
                if anchor is not None or ev.tag is not None:
                    index, line, column = _skip_properties(text, index, line, column)
                style = styles[ev.style]
                end = ev.end_mark.index
                comment = None
                if style != "literal" and style != "folded":
                    nl = find("\n", end)
                    if nl == -1:
                        nl = n_text
                    hash_at = find("#", end, nl)
                    if hash_at > end and not text[end:hash_at].strip(" \t"):
                        comment = text[hash_at + 1 : nl].strip()
                value = ev.value
                node = Scalar(
                    value, style, Span(index, end, line, column), (), ev.tag, anchor, comment
                )
                if anchor is not None:
                    anchors[anchor] = node
                record(("S", node))
            elif cls is mapping_start or cls is sequence_start:
                start = ev.start_mark
                index, line, column = start.index, start.line + 1, start.column + 1
                anchor = ev.anchor
                if anchor is not None or ev.tag is not None:
                    index, line, column = _skip_properties(text, index, line, column)
                tag = None if ev.implicit else ev.tag
                span = Span(index, index, line, column)
                if cls is mapping_start:
                    node = Mapping([], span, (), bool(ev.flow_style), anchor, tag)
                    record(("M", node))
                else:
                    node = Sequence([], span, (), bool(ev.flow_style), anchor, tag)
                    record(("Q", node))
                if anchor is not None:
                    anchors[anchor] = node
            elif cls is mapping_end or cls is sequence_end:
                frame = stack.pop()
                frame[0].span.end = ev.end_mark.index
                record(_END)
                continue
            elif cls is alias_event:
                start = ev.start_mark
                target = anchors.get(ev.anchor)
                if target is None:
                    raise YamlError(
                        name,
                        start.line + 1,
                        start.column + 1,
                        f"alias *{ev.anchor} refers to no anchor &{ev.anchor} before it",
                    )
                node = Alias(
                    ev.anchor,
                    target,
                    Span(start.index, ev.end_mark.index, start.line + 1, start.column + 1),
                    (),
                )
                record(("A", node))
            elif cls is document_start:
                record(_DOC)
                start = ev.start_mark
                doc_span = Span(start.index, start.index, start.line + 1, start.column + 1)
                root = None
                continue
            elif cls is document_end:
                assert doc_span is not None
                doc_span.end = ev.end_mark.index
                documents.append(Document(len(documents), root, doc_span))
                continue
            elif cls is stream_end:
                break
            else:
                continue  # StreamStartEvent

            # Attach the new node to the innermost open container and give it its path.
            if stack:
                frame = stack[-1]
                parent = frame[0]
                if frame[1]:
                    node.path = (*parent.path, len(parent.items))
                    parent.items.append(node)
                elif frame[2] is None:
                    key_text = value if cls is scalar_event else _key_text(node)
                    node.path = (*parent.path, key_text)
                    seen = frame[3]
                    first = seen.get(key_text)
                    if first is not None and key_text != "?":
                        raise DuplicateKeyError(
                            name, node.span.line, node.span.column, key_text, first
                        )
                    seen[key_text] = node.span.line
                    frame[2] = node
                    frame[4] = key_text
                else:
                    node.path = (*parent.path, frame[4])
                    parent.pairs.append((frame[2], node))
                    frame[2] = None
            else:
                root = node
            if cls is mapping_start:
                stack.append([node, False, None, {}, None])
            elif cls is sequence_start:
                stack.append([node, True, None, None, None])
    finally:
        parser.dispose()
    return documents, order
