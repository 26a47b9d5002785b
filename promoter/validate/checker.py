"""Compile a JSON schema into a fast yes/no predicate.

Why not ``jsonschema`` alone: its ``iter_errors`` walks every keyword through
generic dispatch and builds error objects, which made a 2,000-manifest run
take ~4.5 s. Almost every manifest is valid, so we answer "valid?" with plain
closures specialised per schema node (compiled lazily, one ``$ref`` target at
a time, cached per schema file) and ask ``jsonschema`` for the detailed,
well-worded errors only for the few documents that fail.

The predicate implements the assertion keywords the Kubernetes and CRD
schemas use, with the same semantics as ``jsonschema`` (and kubeconform):
booleans are not numbers, ``2.0`` is an integer, ``$ref`` siblings are
ignored before draft 2019-09, ``format: date-time`` is asserted for drafts
4-7 only. A keyword it does not implement raises ``Unsupported`` so the
caller can fall back to ``jsonschema`` for that schema: it never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

Predicate = Callable[[Any], bool]

# Assertion keywords we do not implement (annotations and unknown keywords are
# ignored, as every JSON Schema validator does).
_UNSUPPORTED = frozenset(
    [
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "propertyNames",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedProperties",
        "unevaluatedItems",
        "prefixItems",
        "additionalItems",
        "$dynamicRef",
        "$recursiveRef",
        "$anchor",
        "$dynamicAnchor",
        "$id",
        "id",
    ]
)

_DATE_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))\Z"
)


class Unsupported(Exception):
    """The schema uses a keyword the fast path does not implement."""


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time (what kubeconform asserts for ``format: date-time``)."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME_RE.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    try:
        # Leap second 60 is legal in RFC 3339; datetime rejects it, so check :59.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    if m.group(7) and (int(m.group(8)) > 23 or int(m.group(9)) > 59):
        return False
    return True


def draft_of(schema: dict[str, Any]) -> int:
    """4, 6, 7 or 2020 (2019-09 behaves as 2020-12 here); no ``$schema`` means draft 4."""
    uri = str(schema.get("$schema", ""))
    if "2020-12" in uri or "2019-09" in uri:
        return 2020
    if "draft-07" in uri:
        return 7
    if "draft-06" in uri:
        return 6
    return 4


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _is_integer(x: Any) -> bool:
    t = type(x)
    return t is int or (t is float and x.is_integer())


def _is_number(x: Any) -> bool:
    t = type(x)
    return t is int or t is float


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda x: type(x) is str,
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
}


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``true != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _all_of(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def both(x: Any) -> bool:
            return first(x) and second(x)

        return both

    def every(x: Any) -> bool:
        for check in checks:
            if not check(x):
                return False
        return True

    return every


class Compiler:
    """Compiles one root schema (and the ``$ref`` targets it reaches, lazily)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.draft = draft_of(root)
        self._refs: dict[str, Predicate] = {}

    def compile(self, schema: Any = None) -> Predicate:
        return self._compile(self.root if schema is None else schema)

    # -- references ---------------------------------------------------------

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise Unsupported(f"non-local $ref {ref!r}")
        node: Any = self.root
        for token in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(token)]
            elif isinstance(node, dict) and token in node:
                node = node[token]
            else:
                raise Unsupported(f"unresolvable $ref {ref!r}")
        return node

    def _ref(self, ref: str) -> Predicate:
        cached = self._refs.get(ref)
        if cached is not None:
            return cached
        target = self._resolve(ref)  # resolve now so a bad ref fails at compile time
        slot: list[Predicate] = []

        def via_ref(x: Any) -> bool:
            if not slot:
                slot.append(self._compile(target))
            return slot[0](x)

        self._refs[ref] = via_ref
        return via_ref

    # -- one schema node ----------------------------------------------------

    def _compile(self, schema: Any) -> Predicate:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"schema node of type {type(schema).__name__}")
        for key in schema:
            if key in _UNSUPPORTED:
                raise Unsupported(f"keyword {key!r}")
        if "$ref" in schema:
            ref_check = self._ref(str(schema["$ref"]))
            if self.draft < 2019:
                return ref_check  # siblings of $ref are ignored before 2019-09
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return _all_of([ref_check, self._compile(rest)])
        checks: list[Predicate] = []
        if "type" in schema:
            checks.append(self._type(schema["type"]))
        if "enum" in schema:
            checks.append(_enum(list(schema["enum"])))
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda x: json_equal(x, const))
        obj = self._object(schema)
        if obj is not None:
            checks.append(obj)
        arr = self._array(schema)
        if arr is not None:
            checks.append(arr)
        text = self._string(schema)
        if text is not None:
            checks.append(text)
        num = self._number(schema)
        if num is not None:
            checks.append(num)
        for key in ("allOf", "anyOf", "oneOf"):
            if key in schema:
                checks.append(self._combinator(key, schema[key]))
        if "not" in schema:
            negated = self._compile(schema["not"])
            checks.append(lambda x: not negated(x))
        return _all_of(checks)

    def _type(self, spec: Any) -> Predicate:
        names = [spec] if isinstance(spec, str) else list(spec)
        for name in names:
            if name not in _TYPE_TESTS:
                raise Unsupported(f"type {name!r}")
        table = _TYPE_TESTS
        if self.draft == 4:
            # Draft 4 (as jsonschema reads it): 2.0 is a number but not an integer. Our
            # loader never yields integral floats, so this only matters for other callers.
            table = {**_TYPE_TESTS, "integer": lambda x: type(x) is int}
        if len(names) == 1:
            return table[names[0]]
        if "integer" not in names:
            # bool is a subclass of int: compare exact types, not isinstance.
            allowed = frozenset(t for n in names for t in _PY_TYPES[n])
            return lambda x: type(x) in allowed
        tests = [table[n] for n in names]
        return lambda x: any(t(x) for t in tests)

    def _object(self, schema: dict[str, Any]) -> Predicate | None:
        props_spec = schema.get("properties")
        patterns_spec = schema.get("patternProperties")
        additional_spec = schema.get("additionalProperties", True)
        required = tuple(schema.get("required", ()))
        min_p = schema.get("minProperties")
        max_p = schema.get("maxProperties")
        if (
            props_spec is None
            and patterns_spec is None
            and additional_spec is True
            and not required
            and min_p is None
            and max_p is None
        ):
            return None
        props = {k: self._compile(v) for k, v in (props_spec or {}).items()}
        patterns = [
            (_regex(p), self._compile(v)) for p, v in (patterns_spec or {}).items()
        ]
        additional: Predicate | None
        if additional_spec is True or additional_spec == {}:
            additional = None
        else:
            additional = self._compile(additional_spec)
        closed = additional is _never

        def check_object(x: Any) -> bool:
            if type(x) is not dict:
                return True
            for name in required:
                if name not in x:
                    return False
            if min_p is not None and len(x) < min_p:
                return False
            if max_p is not None and len(x) > max_p:
                return False
            for key, value in x.items():
                check = props.get(key)
                matched = check is not None
                if matched and not check(value):  # type: ignore[misc]
                    return False
                if patterns:
                    for regex, pcheck in patterns:
                        if regex.search(key):
                            matched = True
                            if not pcheck(value):
                                return False
                if not matched and additional is not None:
                    if closed or not additional(value):
                        return False
            return True

        return check_object

    def _array(self, schema: dict[str, Any]) -> Predicate | None:
        items_spec = schema.get("items")
        if isinstance(items_spec, list):
            raise Unsupported("array form of 'items'")
        min_i = schema.get("minItems")
        max_i = schema.get("maxItems")
        unique = bool(schema.get("uniqueItems", False))
        if items_spec is None and min_i is None and max_i is None and not unique:
            return None
        items = self._compile(items_spec) if items_spec is not None else None

        def check_array(x: Any) -> bool:
            if type(x) is not list:
                return True
            if min_i is not None and len(x) < min_i:
                return False
            if max_i is not None and len(x) > max_i:
                return False
            if items is not None and items is not _always:
                for item in x:
                    if not items(item):
                        return False
            if unique:
                for i, a in enumerate(x):
                    for b in x[i + 1 :]:
                        if json_equal(a, b):
                            return False
            return True

        return check_array

    def _string(self, schema: dict[str, Any]) -> Predicate | None:
        min_l = schema.get("minLength")
        max_l = schema.get("maxLength")
        pattern = _regex(schema["pattern"]) if "pattern" in schema else None
        date_time = schema.get("format") == "date-time" and self.draft < 2019
        if min_l is None and max_l is None and pattern is None and not date_time:
            return None

        def check_string(x: Any) -> bool:
            if type(x) is not str:
                return True
            if min_l is not None and len(x) < min_l:
                return False
            if max_l is not None and len(x) > max_l:
                return False
            if pattern is not None and not pattern.search(x):
                return False
            return not date_time or is_date_time(x)

        return check_string

    def _number(self, schema: dict[str, Any]) -> Predicate | None:
        minimum = schema.get("minimum")
        maximum = schema.get("maximum")
        ex_min = schema.get("exclusiveMinimum")
        ex_max = schema.get("exclusiveMaximum")
        multiple = schema.get("multipleOf")
        if self.draft == 4:
            # Draft 4: exclusiveMinimum/Maximum are booleans modifying minimum/maximum.
            strict_min, strict_max = ex_min is True, ex_max is True
            ex_min = ex_max = None
        else:
            strict_min = strict_max = False
        if all(v is None for v in (minimum, maximum, ex_min, ex_max, multiple)):
            return None

        def check_number(x: Any) -> bool:
            if not _is_number(x):
                return True
            if minimum is not None and (x <= minimum if strict_min else x < minimum):
                return False
            if maximum is not None and (x >= maximum if strict_max else x > maximum):
                return False
            if ex_min is not None and x <= ex_min:
                return False
            if ex_max is not None and x >= ex_max:
                return False
            if multiple is not None:
                quotient = x / multiple
                if not float(quotient).is_integer():
                    return False
            return True

        return check_number

    def _combinator(self, key: str, subs: Any) -> Predicate:
        checks = [self._compile(s) for s in subs]
        if key == "allOf":
            return _all_of(checks)
        if key == "anyOf":
            return lambda x: any(c(x) for c in checks)

        def exactly_one(x: Any) -> bool:
            hits = 0
            for c in checks:
                if c(x):
                    hits += 1
                    if hits > 1:
                        return False
            return hits == 1

        return exactly_one


def _enum(values: list[Any]) -> Predicate:
    if all(type(v) is str for v in values):
        allowed = frozenset(values)
        return lambda x: type(x) is str and x in allowed
    return lambda x: any(json_equal(x, v) for v in values)


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise Unsupported(f"pattern {pattern!r} is not a Python regex: {exc}") from exc


def compile_schema(root: dict[str, Any]) -> Predicate:
    """A predicate for ``root``; may raise ``Unsupported`` now or on first use."""
    return Compiler(root).compile()
