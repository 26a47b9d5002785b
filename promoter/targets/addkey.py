"""Adding a missing key to an existing block mapping (``newTag``/``digest`` of a kustomize
``images:`` entry that has only ``name``/``newName``).

The engine sets and deletes pairs and appends sequence items; inserting a key into
an existing mapping is done here, *after* the engine's splices, with the same
discipline: one new line ``<indent>key: value`` right after the mapping's last
pair (indent = the column of its first key, the file's own line ending, the value
quoted when a YAML reader would not read it back as a string), then the result is
re-parsed and must equal the input data plus exactly that key. A flow mapping
(``{name: app}``) is refused with a message naming the line to add by hand.

:class:`AddKey` subclasses ``AppendItem`` only so that it fits the targets'
``list[Change]``; :func:`promoter.setimage.plan` takes it out before the engine runs.
"""

from __future__ import annotations

from promoter.yamledit.model import (
    AppendItem,
    Change,
    Document,
    Edit,
    Mapping,
    Node,
    ParsedFile,
    Scalar,
    Sequence,
    deref,
    format_path,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any


class AddKey(AppendItem):
    """Insert ``key: value`` (``item[0]``) into block mapping ``mapping``.

    It inherits AppendItem's fields and ``__init__``.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return self.item[0][1]


def add_key(mapping: Mapping, key: str, value: str, target: str, file: str) -> list[Change]:
    if mapping.flow:
        from promoter.yamledit.parse import YamlError

        where = mapping.span
        raise YamlError(
            file,
            where.line,
            where.column,
            f"this images entry has no {key} and is a flow mapping: add `{key}: {value}` "
            "to it by hand (promoter inserts keys only into block mappings)",
        )
    note = f"added {key} (the entry had none)"
    return [AddKey(mapping, key, None, ((key, value),), target, note)]


def to_data(node: Node | None) -> Any:
    """Plain data of a located node (aliases resolved), for the proof."""
    target = deref(node)
    if target is None:
        return None
    if isinstance(target, Scalar):
        return (target.value, target.style if target.style in ("plain",) else "quoted")
    if isinstance(target, Sequence):
        return [to_data(item) for item in target.items]
    return [(to_data(k), to_data(v)) for k, v in target.pairs]


def _find(root: Node | None, path: tuple[str | int, ...]) -> Node | None:
    current = deref(root)
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, Sequence) or part >= len(current.items):
                return None
            current = deref(current.items[part])
        else:
            if not isinstance(current, Mapping):
                return None
            current = deref(current.get(part))
    return current


def _document_of(pf: ParsedFile, node: Mapping) -> int:
    for doc in pf.documents:
        if doc.span.start <= node.span.start <= max(doc.span.end, doc.span.start):
            return doc.index
    return 0


def insertion(text: str, mapping: Mapping, key: str, value: str) -> tuple[int, str]:
    """``(offset, inserted text)`` for adding ``key: value`` at the end of ``mapping``."""
    from promoter.yamledit.quoting import render

    first_key, _ = mapping.pairs[0]
    _, last_value = mapping.pairs[-1]
    indent = " " * (first_key.span.column - 1)
    nl = "\r\n" if "\r\n" in text else "\n"
    end = last_value.span.end
    if end > 0 and text[end - 1] == "\n":
        at = end  # a nested block ends at the start of the next line
    else:
        newline = text.find("\n", end)
        at = len(text) if newline < 0 else newline + 1
    line = f"{indent}{key}: {render(value, 'plain')}"
    if at == len(text) and not text.endswith("\n"):
        return at, f"{nl}{line}"
    return at, f"{line}{nl}"


def apply_add_keys(
    original: ParsedFile, text: str, adds: list[AddKey]
) -> tuple[str, list[Edit]]:
    """Insert ``adds`` into ``text`` (the engine's output for ``original``) and prove it."""
    from promoter.yamledit.engine import ProofError
    from promoter.yamledit.parse import parse_text

    before = parse_text(text, original.name)
    inserts: list[tuple[int, str, AddKey, int]] = []
    for add in adds:
        index = _document_of(original, add.mapping)
        doc: Document = before.documents[index]
        mapping = _find(doc.root, add.mapping.path)
        if not isinstance(mapping, Mapping) or mapping.get(add.key) is not None:
            raise ProofError(original.name, format_path(add.mapping.path), "mapping moved")
        at, line = insertion(text, mapping, add.key, add.value)
        inserts.append((at, line, add, index))
    # equal offsets: insert later ones first so the lines end up in request order
    order = sorted(range(len(inserts)), key=lambda i: (inserts[i][0], i))
    new_text = text
    for i in reversed(order):
        at, line, _, _ = inserts[i]
        new_text = new_text[:at] + line + new_text[at:]
    after = parse_text(new_text, original.name)
    expected = [to_data(d.root) for d in before.documents]
    for _, _, add, index in inserts:
        target = _find_data(expected[index], add.mapping.path)
        target.append(((add.key, "plain"), (add.value, "any")))
    got = [to_data(d.root) for d in after.documents]
    if not _same(expected, got):
        raise ProofError(original.name, "", "inserting a key changed other data")
    edits: list[Edit] = []
    shift = 0  # lines inserted above the current one
    for i in order:
        at, line, add, index = inserts[i]
        leading = 1 if line.startswith(("\n", "\r")) else 0
        line_no = text.count("\n", 0, at) + 1 + shift + leading
        shift += 1
        edits.append(
            Edit(
                original.name, line_no, len(line.strip("\r\n")) - len(line.strip()) + 1,
                add.target, format_path((*add.mapping.path, add.key)), None, add.value, index,
                add.note,
            )
        )
    return new_text, edits


def _find_data(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(part, int):
            data = data[part]
        else:
            data = next(v for (k, v) in data if k[0] == part)
    return data


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and len(a) == 2 and a[1] == "any":
        return isinstance(b, tuple) and b[0] == a[0]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
