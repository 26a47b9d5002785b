"""A fast YAML loader for validation: values typed the way Kubernetes reads them, with marks.

libyaml (PyYAML's C parser) builds the node tree, so every node keeps its
line and column. Our own resolver and constructor then type plain scalars by
go-yaml v2's rules, which kubectl, kustomize and kubeconform use (through
sigs.k8s.io/yaml) and which differ from PyYAML's YAML 1.1 rules:
``y``/``n``/``on``/``off`` are booleans, ``12:30`` and dates are strings,
``1e3`` and ``0o17`` are numbers (see ../shared/notes/yaml-typing.md).
Mapping keys become JSON strings as sigs.k8s.io/yaml makes them (``1`` ->
``"1"``, ``true`` -> ``"true"``). Duplicate keys, values JSON cannot hold
(``.inf``, ``.nan``) and tabs in indentation are reported as lint findings.

The resolver only marks a scalar as plain or quoted (one cheap call per
scalar from the C composer); typing happens once, in the constructor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promoter.validate.findings import Finding, pointer

_PLAIN = "!plain"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

_TRUE = frozenset("y Y yes Yes YES on On ON true True TRUE".split())
_FALSE = frozenset("n N no No NO off Off OFF false False FALSE".split())
_NULL = frozenset(["", "~", "null", "Null", "NULL"])
_NONFINITE = frozenset(
    ".inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF .nan .NaN .NAN".split()
)
# strconv.ParseInt(s, 0, 64) after go-yaml removed the underscores.
_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
# go-yaml v2's yamlStyleFloat, then strconv.ParseFloat.
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_NUMERIC_START = frozenset("0123456789+-")


class NonFinite(ValueError):
    """A plain scalar such as ``.inf``: go-yaml reads it, but it has no JSON form."""


def _go_int(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0":
        prefix = body[1]
        if prefix in "xX":
            return sign * int(body[2:], 16)
        if prefix in "oO":
            return sign * int(body[2:], 8)
        if prefix in "bB":
            return sign * int(body[2:], 2)
        return sign * int(body[1:], 8)
    return sign * int(body)


def plain_scalar(text: str) -> Any:
    """Type one plain (unquoted, untagged) scalar by go-yaml v2's rules."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _NULL:
        return None
    first = text[0]
    if first in _NUMERIC_START:
        plain = text.replace("_", "") if "_" in text else text
        if _INT_RE.match(plain):
            return _go_int(plain)
        if _FLOAT_RE.match(plain):
            number = float(plain)
            if not math.isfinite(number):
                return text  # strconv.ParseFloat fails on overflow; go-yaml keeps the text
            # Go's JSON encoder writes float64(1000) as `1000`, so schemas see an integer.
            return int(number) if number.is_integer() else number
        return text
    if first == ".":
        if text in _NONFINITE:
            raise NonFinite(text)
        if _DOT_FLOAT_RE.match(text):
            number = float(text)
            return int(number) if number.is_integer() else number
    return text


def _tagged_scalar(tag: str, text: str) -> Any:
    """An explicitly tagged scalar (``!!int 3``); unknown tags read as strings."""
    short = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else ""
    if short in ("int", "float", "bool", "null"):
        value = plain_scalar(text)
        if short == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    return text


def key_string(value: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml turns it into a JSON object key."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _NodeLoader(CParser):
    """libyaml's composer with a resolver that only tells plain from quoted scalars."""

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, *args: object) -> None:
        return None

    def ascend_resolver(self, *args: object) -> None:
        return None


_MISS = object()
# Plain scalars repeat a lot (keys, label values): cache their typed value.
_PLAIN_CACHE: dict[str, Any] = {}
_PLAIN_CACHE_LIMIT = 200_000


def _cached_plain(text: str) -> Any:
    """``plain_scalar`` with a cache; raises ``NonFinite`` like it."""
    value = _PLAIN_CACHE.get(text, _MISS)
    if value is _MISS:
        value = plain_scalar(text)
        if len(text) <= 64:
            if len(_PLAIN_CACHE) >= _PLAIN_CACHE_LIMIT:
                _PLAIN_CACHE.clear()
            _PLAIN_CACHE[text] = value
    return value


class _Constructor:
    """Build JSON-like values from nodes; collect duplicate keys and non-JSON values.

    Hot path: no JSON paths are tracked while building (an issue records its
    node, and the path is found afterwards: issues are rare); tags are
    compared by identity with the resolver's own constants.
    """

    def __init__(self, track_blocks: bool) -> None:
        self.issues: list[tuple[str, Node]] = []
        self.block_scalar_lines: list[tuple[int, int]] = []
        self._memo: dict[int, Any] = {}
        self._track_blocks = track_blocks

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return self._scalar(node)
        key = id(node)
        memo = self._memo
        found = memo.get(key, _MISS)
        if found is not _MISS:  # an alias: share the value (no re-walk, no alias bombs)
            return found
        if cls is SequenceNode:
            out: list[Any] = []
            memo[key] = out
            append = out.append
            build = self.build
            scalar = self._scalar
            for item in node.value:
                append(scalar(item) if item.__class__ is ScalarNode else build(item))
            return out
        result: dict[str, Any] = {}
        memo[key] = result
        self._mapping(node, result)
        return result

    def _scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag is _STR:
            if self._track_blocks and node.style in ("|", ">"):  # type: ignore[attr-defined]
                self.block_scalar_lines.append((node.start_mark.line + 1, node.end_mark.line + 1))
            return node.value
        if tag is _PLAIN:
            try:
                return _cached_plain(node.value)
            except NonFinite:
                self.issues.append(
                    (
                        f"{node.value} is not a JSON number (Kubernetes tools reject it); "
                        "quote it if a string is meant",
                        node,
                    )
                )
                return node.value
        return _tagged_scalar(tag, node.value)

    def _key(self, knode: Node) -> str:
        if knode.__class__ is not ScalarNode:
            return repr(self.build(knode))  # go-yaml accepts complex keys; JSON cannot
        tag = knode.tag
        if tag is _STR:
            return str(knode.value)
        if tag is _PLAIN:
            try:
                return key_string(_cached_plain(knode.value))
            except NonFinite:
                return str(knode.value)
        return key_string(_tagged_scalar(tag, knode.value))

    def _mapping(self, node: Node, result: dict[str, Any]) -> None:
        merged: dict[str, Any] | None = None
        build = self.build
        scalar = self._scalar
        key = self._key
        for knode, vnode in node.value:
            if knode.tag is _PLAIN and knode.value == "<<":
                merged = merged if merged is not None else {}
                self._merge(vnode, merged)
                continue
            name = key(knode)
            if name in result:
                self._duplicate(node, knode, name)
            result[name] = scalar(vnode) if vnode.__class__ is ScalarNode else build(vnode)
        if merged:
            for k, v in merged.items():
                result.setdefault(k, v)

    def _duplicate(self, node: Node, knode: Node, name: str) -> None:
        first = next(k for k, _ in node.value if k is not knode and self._key(k) == name)
        self.issues.append(
            (
                f'duplicate key "{name}" (first at line {first.start_mark.line + 1}); '
                "kubectl and kubeconform reject it, remove one",
                knode,
            )
        )

    def _merge(self, vnode: Node, merged: dict[str, Any]) -> None:
        sources = vnode.value if vnode.__class__ is SequenceNode else [vnode]
        for src in sources:
            value = self.build(src)
            if not isinstance(value, dict):
                self.issues.append(("a '<<' merge key needs a mapping or a list of mappings", src))
                continue
            for k, v in value.items():
                merged.setdefault(k, v)  # earlier sources win, as in YAML 1.1 merge


def _path_to(root: Node, target: Node) -> tuple[str | int, ...]:
    """The JSON path of ``target`` under ``root`` (for the rare issue); () if not found."""
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    seen: set[int] = set()
    keyer = _Constructor(False)
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.__class__ is MappingNode:
            for knode, vnode in node.value:
                if knode is target or vnode is target:
                    return (*path, keyer._key(knode))
                stack.append((vnode, (*path, keyer._key(knode))))
        elif node.__class__ is SequenceNode:
            for i, item in enumerate(node.value):
                if item is target:
                    return (*path, i)
                stack.append((item, (*path, i)))
    return ()


@dataclass(slots=True)
class Document:
    """One YAML document: its value typed the Kubernetes way, and its node tree for marks."""

    index: int
    value: Any
    node: Node | None
    line: int  # 1-based line where the document's content starts

    @property
    def api_version(self) -> str:
        v = self.value.get("apiVersion") if isinstance(self.value, dict) else None
        return v if isinstance(v, str) else ""

    @property
    def kind(self) -> str:
        v = self.value.get("kind") if isinstance(self.value, dict) else None
        return v if isinstance(v, str) else ""

    @property
    def name(self) -> str:
        meta = self.value.get("metadata") if isinstance(self.value, dict) else None
        v = meta.get("name") if isinstance(meta, dict) else None
        return v if isinstance(v, str) else ("" if v is None else key_string(v))

    @property
    def namespace(self) -> str:
        meta = self.value.get("metadata") if isinstance(self.value, dict) else None
        v = meta.get("namespace") if isinstance(meta, dict) else None
        return v if isinstance(v, str) else ""

    def locate(self, parts: Sequence[str | int]) -> tuple[int, int]:
        """1-based (line, column) of the deepest node on ``parts`` that exists.

        For a mapping entry the key's position is given (that is where an
        editor should point), for a list item the item's.
        """
        if self.node is None:
            return (self.line, 1)
        mark = self.node.start_mark
        node: Node | None = self.node
        for part in parts:
            found = _child(node, part) if node is not None else None
            if found is None:
                break
            key_node, node = found
            mark = (key_node or node).start_mark
        return (mark.line + 1, mark.column + 1)


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if type(node) is SequenceNode:
        if isinstance(part, str) and part.isdigit():
            part = int(part)  # a JSON pointer token indexing a list
        if isinstance(part, int) and 0 <= part < len(node.value):
            return (None, node.value[part])
        return None
    if type(node) is not MappingNode:
        return None
    wanted = str(part)
    merges: list[Node] = []
    for knode, vnode in node.value:
        if type(knode) is not ScalarNode:
            continue
        if knode.tag == _PLAIN and knode.value == "<<":
            merges.extend(vnode.value if type(vnode) is SequenceNode else [vnode])
            continue
        try:
            raw = plain_scalar(knode.value) if knode.tag == _PLAIN else knode.value
        except NonFinite:
            raw = knode.value
        if key_string(raw) == wanted:
            return (knode, vnode)
    for src in merges:
        found = _child(src, part)
        if found is not None:
            return found
    return None


@dataclass(slots=True)
class SourceFile:
    """A loaded file: documents plus the lint findings met while reading it."""

    path: Path
    display: str  # how findings name the file (as the user gave it)
    text: str
    documents: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)


def _lint(display: str, message: str, line: int, column: int, document: int = -1) -> Finding:
    return Finding(
        severity="error",
        file=display,
        message=message,
        backend="lint",
        line=line,
        column=column,
        document=document,
    )


def _tab_findings(
    display: str, text: str, block_lines: list[tuple[int, int]], skip: set[int]
) -> Iterator[Finding]:
    inside: set[int] = set()
    for start, end in block_lines:
        # The block's header line holds the indicator; its content is lines after it.
        inside.update(range(start + 1, end + 1))
    for number, line in enumerate(text.splitlines(), start=1):
        if number in inside or number in skip:
            continue
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        if "\t" in indent and stripped and not stripped.startswith("#"):
            yield _lint(
                display,
                "tab character in indentation: YAML indents with spaces only; replace the tab",
                number,
                indent.index("\t") + 1,
            )


def load_text(text: str, display: str, path: Path | None = None) -> SourceFile:
    """Parse ``text`` (all documents); never raises for bad YAML, reports it instead."""
    source = SourceFile(path=path or Path(display), display=display, text=text)
    loader = _NodeLoader(text)
    has_tabs = "\t" in text
    constructor = _Constructor(track_blocks=has_tabs)
    index = 0
    parse_error_line = 0
    try:
        while loader.check_node():
            node: Node | None = loader.get_node()
            if node is None:
                break
            constructor.issues.clear()
            value = constructor.build(node)
            doc = Document(index, value, node, node.start_mark.line + 1)
            for message, at in constructor.issues:
                mark = at.start_mark
                source.findings.append(
                    replace(
                        _lint(display, message, mark.line + 1, mark.column + 1, index),
                        api_version=doc.api_version,
                        kind=doc.kind,
                        name=doc.name,
                        path=pointer(_path_to(node, at)),
                    )
                )
            source.documents.append(doc)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        column = mark.column + 1 if mark else 0
        parse_error_line = line
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        hint = ""
        text_lines = text.splitlines()
        if 0 < line <= len(text_lines) and "\t" in text_lines[line - 1][:column]:
            hint = "; a tab in indentation? YAML indents with spaces only"
        source.findings.append(
            _lint(display, f"YAML parse error: {problem}{context}{hint}", line, column, index)
        )
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry no marks
        source.findings.append(_lint(display, f"YAML error: {exc}", 0, 0, index))
    if has_tabs:
        skip = {parse_error_line} if parse_error_line else set()
        source.findings.extend(
            _tab_findings(display, text, constructor.block_scalar_lines, skip)
        )
    return source


def load_path(path: Path, display: str | None = None) -> SourceFile:
    """Read and parse a file; unreadable or non-UTF-8 files become findings, not exceptions."""
    shown = display if display is not None else str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        source = SourceFile(path=path, display=shown, text="")
        reason = exc.strerror or str(exc)
        source.findings.append(_lint(shown, f"cannot read file: {reason}", 0, 0))
        return source
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        source = SourceFile(path=path, display=shown, text="")
        source.findings.append(
            _lint(shown, f"not UTF-8 text (byte {exc.start}): save the file as UTF-8", 0, 0)
        )
        return source
    return load_text(text, shown, path)
