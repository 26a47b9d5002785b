"""The ``kubeconform`` backend: run the Go binary, turn its JSON output into findings.

Command: ``kubeconform -strict -summary -output json -schema-location L... FILES``
(an argument list, never a shell). The schema locations are always ours
(registry.py): the user's ``--schema-location`` entries, then the shipped
Kubernetes and CRD schemas, as local paths, so kubeconform never downloads
anything unless the user passes ``--schema-location default`` (its remote
default). We do not pass ``-ignore-missing-schemas``: "could not find schema"
comes back as an error and is mapped to our own rule (skipped, or an error
with ``--strict-kinds``).

What kubeconform cannot give, we add: it reports no line numbers, so each
result is matched back to its document by file, kind and name, and each
JSON path in its message to the line of that key. Its exit status is 1 for
invalid resources, missing schemas, parse errors and bad flags alike (see
../shared/kubeconform-output-samples/README.md), so we read stdout, not the
exit status: a run whose stdout is not its JSON report is a tool failure.
Results come in no fixed order; findings are sorted afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from promoter.validate.findings import Finding
from promoter.validate.loader import Document, SourceFile, key_string
from promoter.validate.registry import SchemaConfigError, SchemaRegistry
from promoter.validate.schema import KUSTOMIZATION_FILES, SchemaOptions, SchemaValidator

# One leaf of the flattened error tree in `msg`.
_LEAF_RE = re.compile(r"- at '([^']*)': (.*?)(?=\s+- at '|$)", re.S)
_ADDITIONAL_RE = re.compile(r"additional properties? (.*) not allowed")
_QUOTED_RE = re.compile(r"'([^']*)'")
_MISSING_SCHEMA = "could not find schema for "
_PARSE_ERROR_PREFIXES = ("error unmarshalling resource", "error converting YAML")
TIMEOUT_SECONDS = 600


class KubeconformFailed(SchemaConfigError):
    """kubeconform did not produce its JSON report (bad flag, crash, missing binary)."""


def build_args(binary: str, registry: SchemaRegistry, files: Sequence[str]) -> list[str]:
    args = [binary, "-strict", "-summary", "-output", "json"]
    for location in registry.kubeconform_locations():
        args += ["-schema-location", location]
    return [*args, *files]


def pointer_parts(path: str) -> list[str]:
    if not path:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def leaf_errors(message: str) -> list[tuple[str, str]]:
    """(JSON path, message) for each leaf of kubeconform's flattened error tree."""
    out = []
    for path, text in _LEAF_RE.findall(message):
        text = text.strip()
        if text != "validation failed":
            out.append((path, text))
    return out


def _split_additional(path: str, text: str) -> list[tuple[str, str]]:
    """``additional properties 'a', 'b' not allowed`` at /spec -> one finding per key."""
    m = _ADDITIONAL_RE.match(text)
    if not m:
        return [(path, text)]
    keys = _QUOTED_RE.findall(m.group(1))
    return [
        (f"{path}/{key}", f'unknown field "{key}" (not in the schema; check the spelling)')
        for key in keys
    ] or [(path, text)]


class KubeconformValidator:
    """Validate files with a kubeconform binary; findings carry our line numbers."""

    name = "kubeconform"

    def __init__(
        self,
        binary: str,
        options: SchemaOptions | None = None,
        registry: SchemaRegistry | None = None,
    ) -> None:
        self.binary = binary
        self.options = options or SchemaOptions()
        self.registry = registry or SchemaRegistry(
            self.options.kubernetes_version, tuple(self.options.schema_locations)
        )

    def check(self, files: Sequence[SourceFile]) -> list[Finding]:
        findings: list[Finding] = []
        passed: list[SourceFile] = []
        for source in files:
            bare_kustomization = source.path.name in KUSTOMIZATION_FILES and any(
                isinstance(d.value, dict) and not (d.value.get("apiVersion") or d.value.get("kind"))
                for d in source.documents
            )
            if bare_kustomization:
                # kubeconform says "missing 'kind'" here; kustomize accepts it: check it ourselves.
                findings.extend(SchemaValidator(self.options).check([source]))
            elif source.documents or not source.findings:
                passed.append(source)
        if passed:
            findings.extend(self._run(passed))
        return findings

    def _run(self, files: Sequence[SourceFile]) -> list[Finding]:
        by_name = {str(f.path): f for f in files}
        args = build_args(self.binary, self.registry, list(by_name))
        try:
            proc = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
                env=_offline_env("default" in self.registry.locations),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KubeconformFailed(f"could not run kubeconform ({self.binary}): {exc}") from exc
        try:
            report = json.loads(proc.stdout)
            results = report["resources"]
        except (ValueError, KeyError, TypeError) as exc:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise KubeconformFailed(
                f"kubeconform ({self.binary}) exited {proc.returncode} without a JSON report: "
                f"{detail[0] if detail else 'no output'}"
            ) from exc
        out: list[Finding] = []
        used: set[tuple[str, int, tuple[Any, ...]]] = set()
        for result in results:
            source = by_name.get(result.get("filename", ""))
            if source is None:
                continue
            out.extend(self._findings(source, result, used))
        return out

    def _findings(
        self,
        source: SourceFile,
        result: dict[str, Any],
        used: set[tuple[str, int, tuple[Any, ...]]],
    ) -> list[Finding]:
        status = result.get("status", "")
        message = str(result.get("msg", ""))
        kind = str(result.get("kind", ""))
        name = str(result.get("name", ""))
        api_version = str(result.get("version", ""))
        if status in ("statusValid", ""):
            return []
        if status == "statusError" and message.startswith(_PARSE_ERROR_PREFIXES):
            if not source.ok:
                return []  # our lint already reported it, with line and column
        doc, prefix = _match(source, kind, name, used)

        def make(severity: str, text: str, parts: Sequence[Any], skipped: bool = False) -> Finding:
            full = [*prefix, *parts]
            line, column = doc.locate(full) if doc else (0, 0)
            return Finding(
                severity=severity,  # type: ignore[arg-type]
                file=source.display,
                message=text,
                backend=self.name,
                line=line,
                column=column,
                document=doc.index if doc else -1,
                api_version=api_version,
                kind=kind,
                name=name,
                path="".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in full),
                skipped=skipped,
            )

        if status == "statusSkipped":
            return [make("info", "skipped by kubeconform (no schema)", [], skipped=True)]
        if status == "statusError":
            if message.startswith(_MISSING_SCHEMA):
                if self.options.strict_kinds:
                    return [make("error", f"no schema for {kind} ({api_version}): {message}", [])]
                return [
                    make(
                        "info",
                        f"no schema for {kind} ({api_version}): skipped "
                        "(use --strict-kinds to make this an error)",
                        [],
                        skipped=True,
                    )
                ]
            if doc is not None and not prefix and isinstance(doc.value, dict):
                if "missing 'kind'" in message or "missing 'apiVersion'" in message:
                    if not (doc.value.get("apiVersion") or doc.value.get("kind")):
                        # Same rule as the schema backend for non-Kubernetes YAML.
                        found = SchemaValidator(self.options).not_an_object(source, doc)
                        return [replace(found, backend=self.name)]
            return [make("error", message, [])]
        leaves = leaf_errors(message)
        if not leaves:
            leaves = [
                (str(e.get("path", "")), str(e.get("msg", "")))
                for e in result.get("validationErrors") or []
            ] or [("", message)]
        out = []
        for path, text in leaves:
            for leaf_path, leaf_text in _split_additional(path, text):
                out.append(make("error", leaf_text, pointer_parts(leaf_path)))
        return out


def _resource_name(value: dict[str, Any]) -> str:
    meta = value.get("metadata")
    raw = meta.get("name") if isinstance(meta, dict) else None
    return "" if raw is None else key_string(raw)


def _match(
    source: SourceFile,
    kind: str,
    name: str,
    used: set[tuple[str, int, tuple[Any, ...]]],
) -> tuple[Document | None, tuple[Any, ...]]:
    """The document (and path prefix, for List items) kubeconform's result is about."""
    candidates: list[tuple[Document, tuple[Any, ...]]] = []
    for doc in source.documents:
        value = doc.value
        if not isinstance(value, dict):
            continue
        items = value.get("items")
        if value.get("kind") == "List" and isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    candidates.append((doc, ("items", i)))
        else:
            candidates.append((doc, ()))
    first_free: tuple[Document, tuple[Any, ...]] | None = None
    for doc, prefix in candidates:
        value = doc.value
        for part in prefix:
            value = value[part]
        if str(value.get("kind") or "") == kind and _resource_name(value) == name:
            key = (source.display, doc.index, prefix)
            if key not in used:
                used.add(key)
                return doc, prefix
            first_free = first_free or (doc, prefix)
    if first_free:
        return first_free
    return None, ()


def _offline_env(allow_download: bool) -> dict[str, str]:
    """kubeconform's environment; unless downloads were asked for, proxies point nowhere.

    Our locations are local files, so nothing should be fetched anyway; routing
    HTTP(S) to a closed local port is a second, best-effort fence (Go's
    default transport honours these variables).
    """
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    if not allow_download:
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[key] = "http://127.0.0.1:9"
    return env


def find_binary(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    import shutil

    return shutil.which("kubeconform")


def binary_exists(binary: str) -> bool:
    import shutil

    return Path(binary).is_file() or shutil.which(binary) is not None
