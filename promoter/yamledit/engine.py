"""Splice changes into a file's text, prove nothing else moved, encode, write atomically.

The engine never re-emits YAML: it replaces exactly the characters of the
scalars it was asked to change (or removes/appends whole lines for
``DeletePair``/``AppendItem``), then re-parses the result and compares it
with the original data with the intended changes applied. Any other
difference is a :class:`ProofError` and nothing is written.
"""

from __future__ import annotations

import codecs
import os

from promoter.yamledit.model import (
    Alias,
    AppendItem,
    DeletePair,
    Document,
    Edit,
    Mapping,
    ParsedFile,
    Scalar,
    Sequence,
    SetScalar,
    format_path,
)
from promoter.yamledit.parse import (
    _STYLES,
    YamlError,
    _parse_with_tab_repairs,
    feed,
    libyaml,
    no_gc,
    parse_text,
    yaml_module,
)
from promoter.yamledit.quoting import QuotingError, is_typed_plain, needs_quotes, render

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Sequence as Seq
    from typing import Any

    from promoter.yamledit.model import Change, Node, NodePath

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
    where: dict[int, _Where] = {}
    text = pf.text
    nl = _newline(text)
    splices: list[_Splice] = []
    edits: list[Edit] = []
    overrides: dict[int, str] = {}  # id(scalar) -> new value
    deletes: dict[int, set[str]] = {}  # id(mapping) -> keys removed
    appends: dict[tuple[int, str], list[dict[str, str]]] = {}
    set_by: dict[int, SetScalar] = {}
    grouped: list[AppendItem] = []  # the first AppendItem of each (mapping, key)
    items_of: dict[tuple[int, str], list[AppendItem]] = {}

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
            splices.append(_delete_pair(pf, change.mapping, key_node))
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
            group = (id(change.mapping), change.key)
            if group not in appends:
                grouped.append(change)
            appends.setdefault(group, []).append(dict(change.item))
            items_of.setdefault(group, []).append(change)

    for first in grouped:
        w = _where(where, first.mapping, pf)
        group_changes = items_of[(id(first.mapping), first.key)]
        splice, places = _append_items(pf, first, [c.item for c in group_changes], nl)
        splices.append(splice)
        for change, (line, index) in zip(group_changes, places, strict=True):
            edits.append(
                Edit(
                    pf.name,
                    line,
                    1,
                    change.target,
                    format_path((*first.mapping.path, first.key, index)),
                    None,
                    _describe_item(change.item),
                    w.document,
                    change.note,
                )
            )

    new_text = _splice(pf, splices)
    if new_text != text:
        with no_gc():
            if deletes or appends:
                _prove(pf, new_text, overrides, deletes, appends)
            else:
                _prove_scalars(pf, new_text, overrides)
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


def write_atomic(path: str | os.PathLike[str], data: bytes, *, durable: bool = False) -> None:
    """Replace ``path``'s content with ``data`` atomically.

    A temporary file in the same directory is written, given the original's
    mode (and owner where permitted) and renamed over it, so a reader sees the
    old bytes or the new ones, never a half-written file. A symlink is not
    replaced: its resolved target is written (the caller checks that the target
    stays inside the tree).

    ``durable=True`` also fsyncs the file before the rename and its directory
    after, so the new content survives a power cut. It is off by default: an
    edit by promoter is made durable by the git commit that follows it (git
    fsyncs its objects), an interrupted run is simply run again, and the two
    fsyncs cost ~3 ms per file -- most of the time of a large ``set-image``.

    (``os`` only, no ``pathlib``/``tempfile``: their imports cost every run ~6 ms.)
    """
    import stat

    target = os.fspath(path)
    try:
        st: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(target)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
    directory, base = os.path.split(target)
    fd, tmp = _temporary(directory, base)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if st is None:  # a new file gets what open() would give it
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
            else:
                os.fchmod(fd, st.st_mode & 0o7777)
                if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != _owner(fd):
                    try:
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except PermissionError:
                        pass
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_dir(directory or ".")


_counter = [0]


def _temporary(directory: str, base: str) -> tuple[int, str]:
    """A new file ``.<base>.<pid>-<n>.promoter-tmp`` beside the target, opened 0600 (like
    ``tempfile.mkstemp``: O_EXCL, so an existing file is never reused)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        _counter[0] += 1
        tmp = os.path.join(directory, f".{base}.{os.getpid()}-{_counter[0]}.promoter-tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue


def _owner(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_uid, st.st_gid


def _fsync_dir(directory: str) -> None:
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
    """Document index and flow context of every node, keyed by ``id`` (a full walk)."""
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


def _follow(pf: ParsedFile, node: Node) -> _Where | None:
    """Find ``node`` cheaply by following its path from its document's root."""
    for doc in pf.documents:
        if not doc.span.start <= node.span.start <= doc.span.end:
            continue
        current: Node | None = doc.root
        flow = False
        for part in node.path:
            if isinstance(current, Mapping) and isinstance(part, str):
                flow = flow or current.flow
                current = current.get(part)
            elif isinstance(current, Sequence) and isinstance(part, int):
                flow = flow or current.flow
                current = current.items[part] if part < len(current.items) else None
            else:
                return None
        if current is node:
            return _Where(doc.index, flow)
    return None


def _where(where: dict[int, _Where], node: Node, pf: ParsedFile) -> _Where:
    """Document and flow context of ``node``; the full walk runs only when the path
    cannot lead there (complex keys, key nodes) -- the common case is one short descent."""
    w = where.get(id(node))
    if w is None:
        w = _follow(pf, node)
    if w is None:
        if not where:
            where.update(_locate(pf))
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
    if start == end:
        new = _fill_empty(pf, node, new)
    return _Splice(start, end, new, format_path(node.path))


def _fill_empty(pf: ParsedFile, node: Scalar, new: str) -> str:
    """Text for an empty (null) value: it sits right after ``key:`` or ``-``."""
    text = pf.text
    j = node.span.start
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    if j > 0 and text[j - 1] in ":-?":
        return new if j < node.span.start else " " + new
    raise EditError(
        pf.name,
        node.span.line,
        node.span.column,
        f"{format_path(node.path)} has no value to replace (no ':' before it); "
        "write the value by hand",
    )


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


def _delete_pair(pf: ParsedFile, mapping: Mapping, key: Scalar) -> _Splice:
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
        end = _line_end(text, _content_end(value))
        if end == len(text) and not text.endswith("\n") and line_start > 0:
            # The file has no final newline: take the line break before the pair with
            # it, or the file would gain one.
            line_start -= 2 if text.endswith("\r\n", 0, line_start) else 1
        return _Splice(line_start, end, "", what)
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


def _flow_item(item: tuple[tuple[str, str], ...]) -> str:
    pairs = (f"{render(k, 'plain', 'flow')}: {render(v, 'plain', 'flow')}" for k, v in item)
    return "{" + ", ".join(pairs) + "}"


def _append_items(
    pf: ParsedFile, first: AppendItem, items: list[tuple[tuple[str, str], ...]], nl: str
) -> tuple[_Splice, list[tuple[int, int]]]:
    """One splice adding ``items`` to ``first.key``'s sequence (created when missing), and
    the 1-based line and the index of each item (several ``--add`` images share a key)."""
    text = pf.text
    mapping = first.mapping
    what = format_path((*mapping.path, first.key))
    seq = first.sequence
    if seq is not None:
        start = len(seq.items)
        if seq.flow:
            rendered = ", ".join(_flow_item(item) for item in items)
            if seq.items:
                at = _content_end(seq.items[-1])
                rendered = ", " + rendered
            else:
                at = seq.span.end - 1  # before ']'
            line = _line_of(text, at)
            return _Splice(at, at, rendered, what), [(line, start + i) for i in range(len(items))]
        if not seq.items:
            raise EditError(
                pf.name, seq.span.line, seq.span.column, f"{what}: an empty block sequence"
            )
        head = seq.items[0]
        dash = _dash_column(text, head)
        gap = " " * max(1, head.span.column - 2 - dash)
        lines = [_item_lines(item, " " * dash, gap) for item in items]
        at = _line_end(text, _content_end(seq.items[-1]))
        return _block_insert(text, at, nl, [], lines, what, start)
    if mapping.get(first.key) is not None:
        raise EditError(
            pf.name,
            mapping.span.line,
            mapping.span.column,
            f"{what} already exists; append to its sequence instead",
        )
    key_text = render(first.key, "plain", "flow" if mapping.flow else "block")
    if mapping.flow:
        entry = f"{key_text}: [" + ", ".join(_flow_item(item) for item in items) + "]"
        at = mapping.span.end - 1  # before '}'
        if mapping.pairs:
            at = _content_end(mapping.pairs[-1][1])
            entry = ", " + entry
        line = _line_of(text, at)
        return _Splice(at, at, entry, what), [(line, i) for i in range(len(items))]
    if not mapping.pairs:
        raise EditError(
            pf.name, mapping.span.line, mapping.span.column, f"{what}: an empty block mapping"
        )
    indent = " " * (mapping.pairs[0][0].span.column - 1)
    dash_indent = indent + _sequence_indent(pf)
    lines = [_item_lines(item, dash_indent, " ") for item in items]
    at = _line_end(text, _content_end(mapping.pairs[-1][1]))
    return _block_insert(text, at, nl, [f"{indent}{key_text}:"], lines, what, 0)


def _block_insert(
    text: str,
    at: int,
    nl: str,
    head: list[str],
    items: list[list[str]],
    what: str,
    start: int,
) -> tuple[_Splice, list[tuple[int, int]]]:
    """Insert ``head`` and the items' lines at ``at`` (a line start or the end of the text)."""
    prefix, suffix = _around(text, at, nl)
    line = _line_of(text, at) + bool(prefix) + len(head)
    where = []
    for i, item in enumerate(items):
        where.append((line, start + i))
        line += len(item)
    body = prefix + nl.join([*head, *(x for item in items for x in item)]) + suffix
    return _Splice(at, at, body, what), where


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


class _Proof:
    """Walks the original and the re-parsed tree in lockstep.

    Expected = original with the intended changes applied. Untouched scalars
    must keep value, tag and plain-or-quoted (so every reader types them as
    before); changed and appended values must read as exactly the new
    strings. Aliases are followed; a (old, new) pair is compared once, which
    also stops alias cycles.
    """

    def __init__(
        self,
        name: str,
        overrides: dict[int, str],
        deletes: dict[int, set[str]],
        appends: dict[tuple[int, str], list[dict[str, str]]],
    ) -> None:
        self.name = name
        self.overrides = overrides
        self.deletes = deletes
        self.appends = appends
        self.done: set[tuple[int, int]] = set()
        self.doc = 0

    def fail(self, path: NodePath, detail: str) -> ProofError:
        return ProofError(self.name, format_path(path), f"document {self.doc + 1}: {detail}")

    def same(self, old: Node | None, new: Node | None, path: NodePath) -> None:
        while isinstance(old, Alias):
            old = old.target
        while isinstance(new, Alias):
            new = new.target
        if old is None or new is None:
            if old is not new:
                raise self.fail(path, f"expected {_kind(old)}, found {_kind(new)}")
            return
        pair = (id(old), id(new))
        if pair in self.done:
            return
        self.done.add(pair)
        if isinstance(old, Scalar):
            self.scalar(old, new, path)
        elif isinstance(old, Sequence):
            if not isinstance(new, Sequence):
                raise self.fail(path, f"expected a sequence, found {_kind(new)}")
            if len(new.items) != len(old.items):
                raise self.fail(path, f"{len(old.items)} items became {len(new.items)}")
            for i, (a, b) in enumerate(zip(old.items, new.items, strict=True)):
                self.same(a, b, (*path, i))
        else:
            self.mapping(old, new, path)

    def scalar(self, old: Scalar, new: Node, path: NodePath) -> None:
        if not isinstance(new, Scalar):
            raise self.fail(path, f"expected a scalar, found {_kind(new)}")
        changed = self.overrides.get(id(old))
        if changed is None:
            if new.value != old.value:
                raise self.fail(path, f"expected {old.value!r}, found {new.value!r}")
            if new.tag != old.tag or (new.style == "plain") != (old.style == "plain"):
                raise self.fail(path, f"the type of {old.value!r} changed")
            return
        if new.value != changed:
            raise self.fail(path, f"expected {changed!r}, found {new.value!r}")
        if old.tag is not None and old.tag != _STR_TAG:
            if new.tag != old.tag:
                raise self.fail(path, f"the tag {old.tag} was lost")
        elif not _reads_as_string(new):
            raise self.fail(path, f"{changed!r} is read as a number, boolean, null or date")

    def mapping(self, old: Mapping, new: Node, path: NodePath) -> None:
        if not isinstance(new, Mapping):
            raise self.fail(path, f"expected a mapping, found {_kind(new)}")
        gone = self.deletes.get(id(old))
        pairs = old.pairs
        if gone:
            pairs = [(k, v) for k, v in pairs if not (isinstance(k, Scalar) and k.value in gone)]
        added = {key: items for (mid, key), items in self.appends.items() if mid == id(old)}
        extra = [key for key in added if old.get(key) is None]
        if len(new.pairs) != len(pairs) + len(extra):
            raise self.fail(path, f"{len(pairs) + len(extra)} keys became {len(new.pairs)}")
        for (k_old, v_old), (k_new, v_new) in zip(pairs, new.pairs, strict=False):
            self.same(k_old, k_new, path)
            sub = (*path, _key_of(k_old))
            key = k_old.value if isinstance(k_old, Scalar) else None
            if key in added:
                self.appended(v_old, v_new, added[key], sub)
            else:
                self.same(v_old, v_new, sub)
        for (k_new, v_new), key in zip(new.pairs[len(pairs) :], extra, strict=True):
            if not (isinstance(k_new, Scalar) and k_new.value == key):
                raise self.fail(path, f"expected the new key {key!r}, found {_kind(k_new)}")
            self.appended(None, v_new, added[key], (*path, key))

    def appended(
        self, old: Node | None, new: Node, items: list[dict[str, str]], path: NodePath
    ) -> None:
        """``new`` is ``old``'s sequence (or nothing) followed by ``items``."""
        while isinstance(old, Alias):
            old = old.target
        before = old.items if isinstance(old, Sequence) else []
        if not isinstance(new, Sequence) or len(new.items) != len(before) + len(items):
            raise self.fail(path, f"expected a sequence of {len(before) + len(items)} items")
        for i, (a, b) in enumerate(zip(before, new.items, strict=False)):
            self.same(a, b, (*path, i))
        for i, (item, node) in enumerate(zip(items, new.items[len(before) :], strict=True)):
            where = (*path, len(before) + i)
            if not isinstance(node, Mapping) or len(node.pairs) != len(item):
                raise self.fail(where, "the appended item is not the mapping asked for")
            for (k, v), (kn, vn) in zip(item.items(), node.pairs, strict=True):
                for want, got in ((k, kn), (v, vn)):
                    if not (isinstance(got, Scalar) and got.value == want):
                        raise self.fail(where, f"expected {want!r}, found {_kind(got)}")
                    if not _reads_as_string(got):
                        raise self.fail(where, f"{want!r} is not read as a string")


def _reads_as_string(node: Scalar) -> bool:
    return node.tag == _STR_TAG or node.style != "plain" or not is_typed_plain(node.value)


def _key_of(node: Node) -> str:
    while isinstance(node, Alias):
        node = node.target
    return node.value if isinstance(node, Scalar) else "?"


def _kind(node: Node | None) -> str:
    while isinstance(node, Alias):
        node = node.target
    if node is None:
        return "nothing"
    if isinstance(node, Scalar):
        return repr(node.value)
    return "a mapping" if isinstance(node, Mapping) else "a sequence"


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
    proof = _Proof(pf.name, overrides, deletes, appends)
    for old_doc, new_doc in zip(pf.documents, after.documents, strict=True):
        proof.doc = old_doc.index
        proof.same(old_doc.root, new_doc.root, ())


def _in_event_order(pf: ParsedFile) -> list[Node | Document | None]:
    """The original tree flattened in the order libyaml emits events for it
    (the format of ``ParsedFile.order``: None where a mapping or sequence ends)."""
    out: list[Node | Document | None] = []
    append = out.append
    for doc in pf.documents:
        append(doc)
        stack: list[Any] = [doc.root] if doc.root is not None else []
        while stack:
            node = stack.pop()
            append(node)
            if isinstance(node, Mapping):
                stack.append(None)  # the end, popped after the pairs
                for k, v in reversed(node.pairs):
                    stack.append(v)
                    stack.append(k)
            elif isinstance(node, Sequence):
                stack.append(None)
                stack.extend(reversed(node.items))
    return out


def _prove_scalars(pf: ParsedFile, new_text: str, overrides: dict[int, str]) -> None:
    """The proof for scalar changes only, without building a second tree.

    The re-parsed text's event stream (the whole file) must match the original
    tree event by event: same structure, anchors, aliases, tags and flow styles;
    every scalar the same value, style, tag and anchor, except the changed ones,
    which must read as exactly their new strings. This is stricter than comparing
    data and several times faster than a tree-to-tree comparison (it is on the hot
    path): libyaml calls the handlers below directly (see ``parse.feed``), and an
    unchanged scalar costs four comparisons. A changed scalar takes the slow branch
    (``changed``), which counts it; a changed scalar that reads as its old value
    would be missing from that count, so the count is checked at the end.
    """
    yaml = yaml_module()
    expected = pf.order if pf.order is not None else _in_event_order(pf)
    following: Any = iter(expected).__next__  # the next expected node
    styles = _STYLES
    name = pf.name
    found: list[Scalar] = []
    stop = object()
    ended: list[bool] = []

    def fail(node: Any, detail: str) -> ProofError:
        at = format_path(node.path) if isinstance(node, (Scalar, Mapping, Sequence, Alias)) else ""
        return ProofError(name, at, detail)

    def changed(node: Scalar, anchor: str | None, tag: str | None, value: str, style: str) -> None:
        want = overrides.get(id(node))
        if want is None:
            if value != node.value or tag != node.tag or anchor != node.anchor:
                raise fail(node, f"expected {node.value!r}, found {value!r}")
            raise fail(node, f"the style of {node.value!r} changed")
        if value != want or anchor != node.anchor:
            raise fail(node, f"expected {want!r}, found {value!r}")
        str_like = tag == _STR_TAG or bool(style) or not is_typed_plain(value)
        custom = node.tag is not None and node.tag != _STR_TAG
        if (custom and tag != node.tag) or (not custom and not str_like):
            raise fail(node, f"{want!r} is read as a number, boolean, null or date")
        found.append(node)

    def scalar(
        anchor: str | None, tag: str | None, implicit: object, value: str, start: Any, end: Any,
        style: str,
    ) -> None:  # fmt: skip
        node = following()
        if type(node) is not Scalar:
            raise fail(node, "the structure changed")
        if (
            value != node.value
            or styles[style] != node.style
            or tag != node.tag
            or anchor != node.anchor
        ):
            changed(node, anchor, tag, value, style)

    def collection(
        kind: Any, anchor: str | None, tag: str | None, implicit: object, flow: object
    ) -> None:
        node: Any = following()
        if type(node) is not kind:
            raise fail(node, "the structure changed")
        if (
            anchor != node.anchor
            or bool(flow) != node.flow
            or (None if implicit else tag) != node.tag
        ):
            raise fail(node, "an anchor, tag or flow style changed")

    def mapping_start(
        anchor: str | None, tag: str | None, implicit: object, start: Any, end: Any, flow: object
    ) -> None:
        collection(Mapping, anchor, tag, implicit, flow)

    def sequence_start(
        anchor: str | None, tag: str | None, implicit: object, start: Any, end: Any, flow: object
    ) -> None:
        collection(Sequence, anchor, tag, implicit, flow)

    def collection_end(start: Any, end: Any) -> None:
        node = following()
        if node is not None:
            raise fail(node, "the structure changed")

    def alias(anchor: str, start: Any, end: Any) -> None:
        node = following()
        if type(node) is not Alias:
            raise fail(node, "the structure changed")
        if anchor != node.name:
            raise fail(node, "an alias changed")

    def document_start(
        start: Any, end: Any, explicit: object, version: object, tags: object
    ) -> None:
        if type(following()) is not Document:
            raise ProofError(name, "", "the structure changed")

    def ignore(*args: object) -> None:
        pass

    def stream_end(start: Any, end: Any) -> object:
        ended.append(True)
        return stop

    handlers = (
        ignore, stream_end, document_start, ignore, alias, scalar,
        sequence_start, collection_end, mapping_start, collection_end,
    )  # fmt: skip
    parser = libyaml().CParser(new_text)
    try:
        try:
            feed(parser, handlers, stop)
        except StopIteration:  # ``following`` ran out inside a handler
            raise ProofError(name, "", "the result has more nodes than the original") from None
        except yaml.MarkedYAMLError as exc:
            try:
                # Tab repairs are rare; the tree proof knows how to do them.
                _parse_with_tab_repairs(new_text, name, exc)
            except YamlError:
                pass
            else:
                _prove(pf, new_text, overrides, {}, {})
                return
            mark = exc.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ProofError(
                name, "", f"the result no longer parses ({exc.problem}{where})"
            ) from None
        except ProofError:
            # A broken result often shows as a structure change first: say that it
            # does not parse at all when that is the real problem.
            broken = _parse_failure(parser)
            if broken:
                raise ProofError(name, "", f"the result no longer parses ({broken})") from None
            raise
    finally:
        parser.dispose()
    if not ended:  # a handler's StopIteration ends the C loop quietly: same as above
        raise ProofError(name, "", "the result has more nodes than the original")
    for _ in iter(following, stop):
        raise ProofError(name, "", "the result has fewer nodes than the original")
    if len(found) != len(overrides):
        missing = [n for n in _changed_nodes(expected, overrides) if n not in found]
        node = missing[0] if missing else None
        want = overrides.get(id(node), "?")
        old = node.value if node is not None else "?"
        raise fail(node, f"expected {want!r}, found {old!r}")


def _changed_nodes(order: list[Node | Document | None], overrides: dict[int, str]) -> list[Scalar]:
    return [n for n in order if isinstance(n, Scalar) and id(n) in overrides]


def _parse_failure(parser: Any) -> str | None:
    yaml = yaml_module()
    try:
        while type(parser.get_event()) is not yaml.StreamEndEvent:
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{exc.problem}{where}"
    return None
