"""The ``schema`` backend: offline JSON-schema validation of loaded documents.

Per document: find the schema for its apiVersion/kind (registry.py), answer
"valid?" with the compiled fast predicate (checker.py) and, only when that
says no, ask ``jsonschema`` for the detailed errors, each mapped to the line
and column of the offending key (or its nearest existing parent) through the
loader's marks. Both compiled forms are cached per schema file for the life
of the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.validate.checker import Predicate, Unsupported, compile_schema, draft_of, is_date_time
from promoter.validate.findings import Finding, pointer
from promoter.validate.loader import Document, SourceFile, key_string
from promoter.validate.registry import DEFAULT_KUBERNETES_VERSION, SchemaRegistry

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator as JsonValidator

KUSTOMIZATION_FILES = frozenset(["kustomization.yaml", "kustomization.yml", "Kustomization"])
KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"


@dataclass
class _Compiled:
    schema: dict[str, Any]
    fast: Predicate | None  # None: fast path unsupported, ask jsonschema
    _full: JsonValidator | None = None

    @property
    def full(self) -> JsonValidator:
        if self._full is None:
            self._full = _jsonschema_validator(self.schema)
        return self._full

    def is_valid(self, value: Any) -> bool:
        if self.fast is not None:
            try:
                return self.fast(value)
            except Unsupported:
                self.fast = None  # met lazily inside a $ref target: use jsonschema from now on
        return bool(self.full.is_valid(value))


_COMPILED: dict[Path, _Compiled] = {}


def _jsonschema_validator(schema: dict[str, Any]) -> JsonValidator:
    import jsonschema

    draft = draft_of(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    if draft >= 2019:
        return cls(schema)
    # kubeconform asserts `format` for drafts <= 7; date-time is the only one these schemas use.
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    return cls(schema, format_checker=checker)


def compiled_for(path: Path) -> _Compiled:
    """The cached compiled validator for one schema file."""
    entry = _COMPILED.get(path)
    if entry is None:
        with path.open("rb") as fh:
            schema = json.load(fh)
        try:
            fast: Predicate | None = compile_schema(schema)
        except Unsupported:
            fast = None
        entry = _COMPILED[path] = _Compiled(schema, fast)
    return entry


@dataclass
class SchemaOptions:
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    schema_locations: Sequence[str] = ()
    strict_kinds: bool = False


class SchemaValidator:
    """Validate documents against the shipped (and user-given) JSON schemas."""

    name = "schema"

    def __init__(self, options: SchemaOptions | None = None) -> None:
        self.options = options or SchemaOptions()
        self.registry = SchemaRegistry(
            self.options.kubernetes_version, tuple(self.options.schema_locations)
        )

    def check(self, files: Sequence[SourceFile]) -> list[Finding]:
        out: list[Finding] = []
        for source in files:
            for doc in source.documents:
                out.extend(self.check_document(source, doc))
        return out

    def check_document(self, source: SourceFile, doc: Document) -> list[Finding]:
        value = doc.value
        if value is None:
            return []  # an empty document (only comments or `---`)
        if not isinstance(value, dict):
            return [self._finding(source, doc, "error", "document is not a mapping", ())]
        if not value.get("apiVersion") and not value.get("kind"):
            if source.path.name in KUSTOMIZATION_FILES:
                # kustomize accepts a kustomization.yaml without apiVersion/kind.
                value = {"apiVersion": KUSTOMIZATION_API, "kind": "Kustomization", **value}
            else:
                return [self.not_an_object(source, doc)]
        return list(self._check_object(source, doc, value, ()))

    def not_an_object(self, source: SourceFile, doc: Document) -> Finding:
        """A mapping with neither apiVersion nor kind (a Helm values file, say): skipped,
        or an error with --strict-kinds (kubeconform always calls it an error)."""
        if self.options.strict_kinds:
            return self._finding(
                source, doc, "error", "missing 'apiVersion' and 'kind': not a Kubernetes object", ()
            )
        return self._finding(
            source,
            doc,
            "info",
            "no apiVersion/kind, not a Kubernetes object: skipped "
            "(use --strict-kinds to make this an error)",
            (),
            skipped=True,
        )

    def _check_object(
        self, source: SourceFile, doc: Document, value: dict[str, Any], prefix: tuple[Any, ...]
    ) -> Iterator[Finding]:
        api_version = value.get("apiVersion")
        kind = value.get("kind")
        meta = value.get("metadata")
        raw_name = meta.get("name") if isinstance(meta, dict) else None
        name = "" if raw_name is None else key_string(raw_name)
        ident = (
            api_version if isinstance(api_version, str) else "",
            kind if isinstance(kind, str) else "",
            name,
        )
        for field, present in (("apiVersion", api_version), ("kind", kind)):
            if not present:
                yield self._finding(
                    source, doc, "error", f"missing '{field}' key", prefix, ident
                )
                return
            if not isinstance(present, str):
                yield self._finding(
                    source, doc, "error", f"'{field}' must be a string", (*prefix, field), ident
                )
                return
        assert isinstance(api_version, str) and isinstance(kind, str)
        items = value.get("items")
        if kind == "List" and isinstance(items, list):
            # kubeconform validates a v1 List item by item; so do we.
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    yield from self._check_object(source, doc, item, (*prefix, "items", i))
            return
        path = self.registry.find(api_version, kind)
        if path is None:
            severity = "error" if self.options.strict_kinds else "info"
            hint = (
                "add its schema with --schema-location DIR"
                if self.options.strict_kinds
                else "skipped (use --strict-kinds to make this an error)"
            )
            yield self._finding(
                source,
                doc,
                severity,
                f"no schema for {kind} ({api_version}) in Kubernetes "
                f"{self.registry.kubernetes_version} or the schema locations: {hint}",
                prefix,
                ident,
                skipped=not self.options.strict_kinds,
            )
            return
        compiled = compiled_for(path)
        if compiled.is_valid(value):
            return
        errors = sorted(compiled.full.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:  # should not happen: the fast path and jsonschema disagree
            yield self._finding(
                source, doc, "error", f"does not match schema {path.name}", prefix, ident
            )
            return
        for error in errors:
            for message, parts in _describe(error):
                yield self._finding(source, doc, "error", message, (*prefix, *parts), ident)

    def _finding(
        self,
        source: SourceFile,
        doc: Document,
        severity: str,
        message: str,
        parts: tuple[Any, ...],
        ident: tuple[str, str, str] = ("", "", ""),
        skipped: bool = False,
    ) -> Finding:
        api_version, kind, name = ident
        line, column = doc.locate(parts)
        return Finding(
            severity=severity,  # type: ignore[arg-type]
            file=source.display,
            message=message,
            backend=self.name,
            line=line,
            column=column,
            document=doc.index,
            api_version=api_version,
            kind=kind,
            name=name,
            path=pointer(parts),
            skipped=skipped,
        )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(error: ValidationError) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """One or more (message, JSON path) pairs for a jsonschema error, worded for people."""
    parts = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {}) if isinstance(schema, dict) else {}
        patterns = schema.get("patternProperties", {}) if isinstance(schema, dict) else {}
        import re

        extras = [
            k
            for k in instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        for key in extras or ["?"]:
            yield (f'unknown field "{key}" (not in the schema; check the spelling)', (*parts, key))
        return
    if validator == "required" and isinstance(error.validator_value, list):
        missing = [
            r for r in error.validator_value if isinstance(instance, dict) and r not in instance
        ]
        for key in missing:
            yield (f'missing required field "{key}"', parts)
        if missing:
            return
    if validator == "type":
        want = error.validator_value
        wanted = " or ".join(want) if isinstance(want, list) else str(want)
        hint = ""
        if "string" in (want if isinstance(want, list) else [want]) and isinstance(
            instance, (bool, int, float)
        ):
            hint = " (YAML reads this unquoted value as a non-string; quote it)"
        yield (f"got {_type_name(instance)} {_short(instance)}, want {wanted}{hint}", parts)
        return
    if validator == "enum":
        values = error.validator_value if isinstance(error.validator_value, list) else []
        allowed = ", ".join(json.dumps(v) for v in values)
        yield (f"{_short(instance)} is not one of the allowed values: {allowed}", parts)
        return
    if validator in ("oneOf", "anyOf") and isinstance(error.validator_value, list):
        alternatives = error.validator_value
        if all(isinstance(a, dict) and set(a) == {"type"} for a in alternatives):
            choices: list[str] = []
            for alt in alternatives:
                types = alt["type"] if isinstance(alt["type"], list) else [alt["type"]]
                choices.extend(t for t in types if t not in choices)
            if instance is None and "null" in choices and validator == "oneOf":
                yield ("null is not allowed here: leave the field out instead", parts)
            else:
                wanted_text = " or ".join(choices)
                yield (f"got {_type_name(instance)} {_short(instance)}, want {wanted_text}", parts)
            return
    message = error.message
    if error.context:
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        if best is not None:
            message = f"{message} ({best.message})"
    yield (message, parts)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
