"""Splice changes into a file's text, prove nothing else moved, encode, write atomically.

The engine never re-emits YAML: it replaces exactly the characters of the
scalars it was asked to change (or removes/appends whole lines for
``DeletePair``/``AppendItem``), then re-parses the result and compares it
with the original data with the intended changes applied. Any other
difference is a :class:`ProofError` and nothing is written.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

from promoter.yamledit.model import (
    Alias,
    AppendItem,
    Change,
    DeletePair,
    Edit,
    Mapping,
    Node,
    NodePath,
    ParsedFile,
    Scalar,
    Sequence,
    SetScalar,
    format_path,
)
from promoter.yamledit.parse import YamlError, parse_text
from promoter.yamledit.quoting import QuotingError, is_typed_plain, needs_quotes, render

_STR_TAG = "tag:yaml.org,2002:str"
_REPORT = "this is a bug in promoter; nothing was written; please report it with the file"


class ProofError(Exception):
    """The spliced text does not read back as the original plus the intended changes."""

    def __init__(self, file: str, path: str, detail: str) -> None:
        super().__init__(
            f"{file}: the edit changed something else at {path or '(root)'}: {detail}; {_REPORT}"
        )
        self.file = file
        self.path = path
        self.detail = detail


class EditError(YamlError):
    """A change that cannot be made as asked (conflicting values, a block scalar...)."""


class _Splice:
    """Replace ``text[start:end]`` by ``text``; ``what`` names it in overlap messages.

    (Plain classes, not dataclasses: building dataclasses costs import time on
    every ``promoter`` run.)
    """

    __slots__ = ("end", "start", "text", "what")

    def __init__(self, start: int, end: int, text: str, what: str) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.what = what


class _Where:
    """Where a node sits in the tree: its document and whether it is inside flow style."""

    __slots__ = ("document", "flow")

    def __init__(self, document: int, flow: bool) -> None:
        self.document = document
        self.flow = flow


# ------------------------------------------------------------------ public API


def apply(pf: ParsedFile, changes: Seq[Change]) -> tuple[str, list[Edit]]:
    """Apply ``changes`` to ``pf`` and return the new text and what was done.

    A ``SetScalar`` whose new value equals the old one is skipped (no edit is
    reported). Two changes of one scalar to different values are an
    :class:`EditError`. Edit lines and columns are those of the original file.
    """
    where = _locate(pf)
    text = pf.text
    nl = _newline(text)
    splices: list[_Splice] = []
    edits: list[Edit] = []
    overrides: dict[int, str] = {}  # id(scalar) -> new value
    deletes: dict[int, set[str]] = {}  # id(mapping) -> keys removed
    appends: dict[tuple[int, str], list[dict[str, str]]] = {}
    set_by: dict[int, SetScalar] = {}

    for change in changes:
        if isinstance(change, SetScalar):
            node = change.node
            w = _where(where, node, pf)
            earlier = set_by.get(id(node))
            if earlier is not None:
                if earlier.new_value != change.new_value:
                    raise EditError(
                        pf.name,
                        node.span.line,
                        node.span.column,
                        f"{format_path(node.path)} would be set twice, to "
                        f"{earlier.new_value!r} ({earlier.target}) and to {change.new_value!r} "
                        f"({change.target}); ask for one image per repository",
                    )
                continue
            set_by[id(node)] = change
            if change.new_value == node.value:
                continue
            splices.append(_set_scalar(pf, node, change.new_value, w.flow))
            overrides[id(node)] = change.new_value
            edits.append(
                Edit(
                    pf.name,
                    node.span.line,
                    node.span.column,
                    change.target,
                    format_path(node.path),
                    node.value,
                    change.new_value,
                    w.document,
                    change.note,
                )
            )
        elif isinstance(change, DeletePair):
            w = _where(where, change.mapping, pf)
            removed = deletes.setdefault(id(change.mapping), set())
            if change.key in removed:
                continue
            key_node, value = _pair(pf, change.mapping, change.key)
            _check_no_outside_alias(pf, w.document, key_node, value)
            removed.add(change.key)
            splices.append(_delete_pair(pf, change.mapping, key_node, nl))
            old = value.value if isinstance(value, Scalar) else None
            edits.append(
                Edit(
                    pf.name,
                    key_node.span.line,
                    key_node.span.column,
                    change.target,
                    format_path((*change.mapping.path, change.key)),
                    old,
                    None,
                    w.document,
                    change.note,
                )
            )
        else:
            w = _where(where, change.mapping, pf)
            splice, line, index = _append_item(pf, change, nl)
            splices.append(splice)
            appends.setdefault((id(change.mapping), change.key), []).append(dict(change.item))
            path = (*change.mapping.path, change.key, index)
            edits.append(
                Edit(
                    pf.name,
                    line,
                    1,
                    change.target,
                    format_path(path),
                    None,
                    _describe_item(change.item),
                    w.document,
                    change.note,
                )
            )

    new_text = _splice(pf, splices)
    if new_text != text:
        _prove(pf, new_text, overrides, deletes, appends)
    return new_text, edits


def encode(pf: ParsedFile, text: str) -> bytes:
    """``text`` in the file's own encoding, with its BOM when it had one."""
    data = text.encode(pf.encoding)
    if not pf.bom:
        return data
    bom = {
        "utf-8": codecs.BOM_UTF8,
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
    }[pf.encoding]
    return bom + data


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path``'s content with ``data`` atomically.

    A temporary file in the same directory is written, fsynced, given the
    original's mode (and owner where permitted) and renamed over it. A
    symlink is not replaced: its resolved target is written (the caller
    checks that the target stays inside the tree).
    """
    import tempfile

    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".promoter-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if st is not None:
                os.fchmod(f.fileno(), st.st_mode & 0o7777)
                if hasattr(os, "fchown"):
                    with contextlib.suppress(PermissionError):
                        os.fchown(f.fileno(), st.st_uid, st.st_gid)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable; not possible everywhere (Windows), so best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------ locating


def _locate(pf: ParsedFile) -> dict[int, _Where]:
    """Document index and flow context of every node, keyed by ``id``."""
    out: dict[int, _Where] = {}
    for doc in pf.documents:
        stack: list[tuple[Node, bool]] = [(doc.root, False)] if doc.root is not None else []
        while stack:
            node, flow = stack.pop()
            if id(node) in out:
                continue
            if isinstance(node, Mapping):
                inner = flow or node.flow
                for k, v in node.pairs:
                    stack.append((k, inner))
                    stack.append((v, inner))
            elif isinstance(node, Sequence):
                inner = flow or node.flow
                stack.extend((item, inner) for item in node.items)
            out[id(node)] = _Where(doc.index, flow)
    return out


def _where(where: dict[int, _Where], node: Node, pf: ParsedFile) -> _Where:
    w = where.get(id(node))
    if w is None:
        raise ValueError(f"{pf.name}: a change refers to a node of another parse of the file")
    return w


def _newline(text: str) -> str:
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    """Index just past the line break of the line holding ``pos`` (a position that
    directly follows a line break is already at a line end)."""
    if pos > 0 and text[pos - 1] == "\n":
        return pos
    i = text.find("\n", pos)
    return len(text) if i == -1 else i + 1


def _content_end(node: Node) -> int:
    """End of the last token of ``node`` (block collections' marks run further)."""
    while True:
        if isinstance(node, Mapping) and not node.flow and node.pairs:
            node = node.pairs[-1][1]
        elif isinstance(node, Sequence) and not node.flow and node.items:
            node = node.items[-1]
        else:
            return node.span.end


# ------------------------------------------------------------------ splices


def _set_scalar(pf: ParsedFile, node: Scalar, value: str, flow: bool) -> _Splice:
    try:
        if flow and node.style == "plain" and _plain_colon_ok(node.value, value):
            new = value
        else:
            new = render(value, node.style, "flow" if flow else "block")
    except QuotingError as exc:
        raise EditError(
            pf.name, node.span.line, node.span.column, f"{format_path(node.path)}: {exc}"
        ) from None
    start, end = node.span.start, node.span.end
    if start == end and start > 0 and pf.text[start - 1] not in " \t\r\n[{,":
        new = " " + new  # an empty value right after 'key:'
    return _Splice(start, end, new, format_path(node.path))


def _plain_colon_ok(old: str, new: str) -> bool:
    """Keep ``{image: nginx:1.0}`` plain: the file's readers already took a ':' there.

    Strict flow-context rules quote any ':' in flow style; when the original
    plain value had one, its readers accept it, so only the other rules apply.
    """
    return (
        ":" in old
        and not needs_quotes(new, "block")
        and not any(c in ",[]{}" for c in new)
        and not new.endswith(":")
    )


def _pair(pf: ParsedFile, mapping: Mapping, key: str) -> tuple[Scalar, Node]:
    for k, v in mapping.pairs:
        if isinstance(k, Scalar) and k.value == key:
            return k, v
    raise EditError(
        pf.name,
        mapping.span.line,
        mapping.span.column,
        f"{format_path(mapping.path) or '(root)'} has no key {key!r} to remove",
    )


def _delete_pair(pf: ParsedFile, mapping: Mapping, key: Scalar, nl: str) -> _Splice:
    text = pf.text
    index = next(i for i, (k, _) in enumerate(mapping.pairs) if k is key)
    value = mapping.pairs[index][1]
    what = format_path((*mapping.path, key.value))
    following = mapping.pairs[index + 1][0] if index + 1 < len(mapping.pairs) else None
    if mapping.flow:
        if following is not None:
            return _Splice(key.span.start, following.span.start, "", what)
        if index > 0:
            return _Splice(_content_end(mapping.pairs[index - 1][1]), value.span.end, "", what)
        return _Splice(key.span.start, value.span.end, "", what)
    if len(mapping.pairs) == 1:
        # The mapping must stay a mapping, not become null.
        return _Splice(key.span.start, _content_end(value), "{}", what)
    line_start = _line_start(text, key.span.start)
    if text[line_start : key.span.start].strip(" \t") == "":
        # The pair owns its lines: remove them whole, trailing comment included.
        return _Splice(line_start, _line_end(text, _content_end(value)), "", what)
    # The pair shares its first line with '- ' or '? ': pull the next key up.
    assert following is not None  # a pair after '- ' is its mapping's first of several
    return _Splice(key.span.start, following.span.start, "", what)


def _subtree(node: Node) -> list[Node]:
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, Mapping):
            for k, v in n.pairs:
                stack += (k, v)
        elif isinstance(n, Sequence):
            stack += n.items
    return out


def _check_no_outside_alias(pf: ParsedFile, document: int, key: Scalar, value: Node) -> None:
    """Refuse to delete an anchor that an alias elsewhere still refers to."""
    inside = {id(n) for n in (*_subtree(key), *_subtree(value))}
    root = pf.documents[document].root
    for n in _subtree(root) if root is not None else []:
        if isinstance(n, Alias) and id(n.target) in inside and id(n) not in inside:
            raise EditError(
                pf.name,
                key.span.line,
                key.span.column,
                f"cannot remove {format_path(key.path)}: it defines the anchor &{n.name} that "
                f"line {n.span.line} still uses (*{n.name}); edit that part by hand",
            )


def _describe_item(item: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in item)


def _append_item(pf: ParsedFile, change: AppendItem, nl: str) -> tuple[_Splice, int, int]:
    """The splice adding ``change.item``, the 1-based line it lands on, its index."""
    text = pf.text
    mapping = change.mapping
    what = format_path((*mapping.path, change.key))
    seq = change.sequence
    if seq is not None:
        if seq.flow:
            rendered = (
                "{" + ", ".join(f"{k}: {render(v, 'plain', 'flow')}" for k, v in change.item) + "}"
            )
            if seq.items:
                at = _content_end(seq.items[-1])
                rendered = ", " + rendered
            else:
                at = seq.span.end - 1  # before ']'
            return _Splice(at, at, rendered, what), _line_of(text, at), len(seq.items)
        if not seq.items:
            raise EditError(
                pf.name,
                seq.span.line,
                seq.span.column,
                f"{what}: an empty block sequence cannot exist",
            )
        first = seq.items[0]
        dash = _dash_column(text, first)
        lines = _item_lines(change.item, " " * dash, " " * max(1, first.span.column - 2 - dash))
        at = _line_end(text, _content_end(seq.items[-1]))
        prefix, suffix = _around(text, at, nl)
        body = prefix + nl.join(lines) + suffix
        return _Splice(at, at, body, what), _line_of(text, at) + bool(prefix), len(seq.items)
    existing = mapping.get(change.key)
    if existing is not None:
        raise EditError(
            pf.name,
            mapping.span.line,
            mapping.span.column,
            f"{what} already exists; append to its sequence instead",
        )
    key_text = render(change.key, "plain", "flow" if mapping.flow else "block")
    if mapping.flow:
        item = "{" + ", ".join(f"{k}: {render(v, 'plain', 'flow')}" for k, v in change.item) + "}"
        entry = f"{key_text}: [{item}]"
        at = mapping.span.end - 1  # before '}'
        if mapping.pairs:
            at = _content_end(mapping.pairs[-1][1])
            entry = ", " + entry
        return _Splice(at, at, entry, what), _line_of(text, at), 0
    if not mapping.pairs:
        raise EditError(
            pf.name,
            mapping.span.line,
            mapping.span.column,
            f"{what}: cannot add a key to an empty block mapping",
        )
    indent = " " * (mapping.pairs[0][0].span.column - 1)
    dash_indent = indent + _sequence_indent(pf)
    lines = [f"{indent}{key_text}:", *_item_lines(change.item, dash_indent, " ")]
    at = _line_end(text, _content_end(mapping.pairs[-1][1]))
    prefix, suffix = _around(text, at, nl)
    body = prefix + nl.join(lines) + suffix
    return _Splice(at, at, body, what), _line_of(text, at) + bool(prefix) + 1, 0


def _around(text: str, at: int, nl: str) -> tuple[str, str]:
    """Line breaks around lines inserted at ``at``: a file without a final newline keeps
    having none (the break moves before the new lines)."""
    if at == len(text) and text and not text.endswith("\n"):
        return nl, ""
    return "", nl


def _item_lines(item: tuple[tuple[str, str], ...], dash: str, gap: str) -> list[str]:
    """``- k: v`` lines of a block sequence item; ``gap`` follows the dash."""
    lines = []
    for i, (k, v) in enumerate(item):
        lead = f"{dash}-{gap}" if i == 0 else " " * (len(dash) + 1 + len(gap))
        lines.append(f"{lead}{render(k, 'plain')}: {render(v, 'plain')}")
    return lines


def _dash_column(text: str, item: Node) -> int:
    """0-based column of the ``-`` that introduces ``item``."""
    start = _line_start(text, item.span.start)
    dash = text.rfind("-", start, item.span.start)
    return (dash if dash != -1 else item.span.start) - start


def _sequence_indent(pf: ParsedFile) -> str:
    """How this file indents a block sequence under its key: '' (compact) or spaces."""
    text = pf.text
    for doc in pf.documents:
        stack: list[Node] = [doc.root] if doc.root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, Mapping) and not node.flow:
                for k, v in node.pairs:
                    if isinstance(v, Sequence) and not v.flow and v.items:
                        return " " * max(0, _dash_column(text, v.items[0]) - (k.span.column - 1))
                    stack.append(v)
            elif isinstance(node, Sequence):
                stack.extend(node.items)
    return ""  # kustomize's own style


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _splice(pf: ParsedFile, splices: list[_Splice]) -> str:
    if not splices:
        return pf.text
    splices.sort(key=lambda s: (s.start, s.end))
    out: list[str] = []
    pos = 0
    previous: _Splice | None = None
    for s in splices:
        if s.start < pos:
            assert previous is not None
            raise EditError(
                pf.name,
                _line_of(pf.text, s.start),
                1,
                f"changes to {previous.what} and {s.what} overlap; make them one at a time",
            )
        out.append(pf.text[pos : s.start])
        out.append(s.text)
        pos = s.end
        previous = s
    out.append(pf.text[pos:])
    return "".join(out)


# ------------------------------------------------------------------ proof


_CYCLE = ("<recursive alias>",)


def _plain(
    node: Node | None,
    overrides: dict[int, str],
    deletes: dict[int, set[str]],
    appends: dict[tuple[int, str], list[dict[str, str]]],
    active: set[int],
) -> Any:
    """``node`` as comparable Python data: strings (typed plain scalars marked),
    lists and key/value pair lists; aliases resolved; intended changes applied."""
    while isinstance(node, Alias):
        node = node.target
    if node is None:
        return None
    if isinstance(node, Scalar):
        value = overrides.get(id(node), node.value)
        if node.tag is not None and node.tag != _STR_TAG:
            return ("!", node.tag, value)
        if id(node) in overrides or node.style != "plain" or node.tag == _STR_TAG:
            return value
        return ("typed", value) if is_typed_plain(value) else value
    if id(node) in active:
        return _CYCLE
    active.add(id(node))
    try:
        if isinstance(node, Sequence):
            return [_plain(i, overrides, deletes, appends, active) for i in node.items]
        gone = deletes.get(id(node), set())
        pairs = [
            (
                _plain(k, overrides, deletes, appends, active),
                _plain(v, overrides, deletes, appends, active),
            )
            for k, v in node.pairs
            if not (isinstance(k, Scalar) and k.value in gone)
        ]
        for (mid, key), items in appends.items():
            if mid != id(node):
                continue
            rows = [("map", list(item.items())) for item in items]
            for i, (k, v) in enumerate(pairs):
                if k == key and isinstance(v, list):
                    pairs[i] = (k, v + rows)
                    break
            else:
                pairs.append((key, rows))
        return ("map", pairs)
    finally:
        active.discard(id(node))


def _prove(
    pf: ParsedFile,
    new_text: str,
    overrides: dict[int, str],
    deletes: dict[int, set[str]],
    appends: dict[tuple[int, str], list[dict[str, str]]],
) -> None:
    try:
        after = parse_text(new_text, pf.name)
    except YamlError as exc:
        raise ProofError(
            pf.name,
            "",
            f"the result no longer parses ({exc.message} at line {exc.line}, column {exc.column})",
        ) from None
    if len(after.documents) != len(pf.documents):
        raise ProofError(
            pf.name, "", f"{len(pf.documents)} documents became {len(after.documents)}"
        )
    for old_doc, new_doc in zip(pf.documents, after.documents, strict=True):
        expected = _plain(old_doc.root, overrides, deletes, appends, set())
        actual = _plain(new_doc.root, {}, {}, {}, set())
        if expected != actual:
            path, detail = _first_difference(expected, actual, ())
            raise ProofError(pf.name, format_path(path), f"document {old_doc.index + 1}: {detail}")


def _first_difference(a: Any, b: Any, path: NodePath) -> tuple[NodePath, str]:
    """The path of the first difference between two ``_plain`` values, and what it is."""
    if _is_map(a) and _is_map(b):
        for (ka, va), (kb, vb) in zip(a[1], b[1], strict=False):
            if ka != kb:
                return (*path, str(ka)), f"key {ka!r} became {kb!r}"
            if va != vb:
                return _first_difference(va, vb, (*path, str(ka)))
        return path, f"{len(a[1])} keys became {len(b[1])}"
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return _first_difference(x, y, (*path, i))
        return path, f"{len(a)} items became {len(b)}"
    return path, f"expected {_show(a)}, found {_show(b)}"


def _is_map(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and value[0] == "map"


def _show(value: Any) -> str:
    if isinstance(value, tuple) and value and value[0] == "typed":
        return f"{value[1]!r} (read as a number, boolean, null or date)"
    if _is_map(value):
        return "a mapping"
    if isinstance(value, list):
        return "a sequence"
    return repr(value)
