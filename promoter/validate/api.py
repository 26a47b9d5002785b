"""``validate(paths, ...)``: the library entry point behind ``promoter validate``.

Every file is read and parsed once (loader.py); the lint findings come from
that pass, then the chosen schema backend runs on the loaded documents, then
(optionally) every kustomization root found is rendered and its output
validated too.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.validate.findings import Finding, sort_key
from promoter.validate.lint import LintValidator
from promoter.validate.loader import SourceFile, load_path
from promoter.validate.registry import DEFAULT_KUBERNETES_VERSION, SchemaConfigError
from promoter.validate.schema import KUSTOMIZATION_FILES, SchemaOptions, SchemaValidator

BACKENDS = ("auto", "schema", "kubeconform")
YAML_SUFFIXES = (".yaml", ".yml")


class ValidateConfigError(SchemaConfigError):
    """Bad options (unknown backend, kubeconform missing, ...): a usage error."""


@dataclass(frozen=True)
class DocumentInfo:
    index: int
    api_version: str
    kind: str
    name: str


@dataclass
class Report:
    """All findings of one run plus what was looked at (the reporters need both)."""

    findings: list[Finding]
    files: list[str] = field(default_factory=list)
    resources: int = 0
    backend: str = "schema"
    # file -> its non-empty documents, for reporters that list passing resources too
    documents: dict[str, list[DocumentInfo]] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def skipped(self) -> int:
        return sum(1 for f in self.findings if f.skipped)

    @property
    def ok(self) -> bool:
        return self.errors == 0


def collect(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Expand directories into their YAML files (sorted, hidden folders left out).

    Returns (path, display name) pairs; a path that does not exist is kept so
    that loading reports it as a finding.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = [
                f
                for f in p.rglob("*")
                if f.is_file()
                and (f.suffix in YAML_SUFFIXES or f.name == "Kustomization")
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            ]
            items = [(f, str(f)) for f in sorted(found)]
        else:
            items = [(p, str(given))]
        for f, shown in items:
            key = Path(os.path.abspath(f))  # no resolve(): one syscall per component
            if key not in seen:
                seen.add(key)
                out.append((f, shown))
    return out


def _patch_files(files: Sequence[SourceFile]) -> set[Path]:
    """Files a kustomization lists as patches: partial objects, never valid on their own."""
    out: set[Path] = set()
    for source in files:
        if source.path.name not in KUSTOMIZATION_FILES:
            continue
        for doc in source.documents:
            if not isinstance(doc.value, dict):
                continue
            entries: list[Any] = []
            for key in ("patchesStrategicMerge", "patchesJson6902", "patches"):
                value = doc.value.get(key)
                if isinstance(value, list):
                    entries.extend(value)
            for entry in entries:
                rel = entry.get("path") if isinstance(entry, dict) else entry
                if isinstance(rel, str) and "\n" not in rel:
                    out.add(Path(os.path.abspath(source.path.parent / rel)))
    return out


def choose_backend(backend: str, kubeconform: str | None) -> tuple[str, str | None]:
    """Resolve ``auto``; raise ``ValidateConfigError`` when the choice cannot run."""
    if backend not in BACKENDS:
        raise ValidateConfigError(
            f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    from promoter.validate.kubeconform import binary_exists, find_binary

    if backend == "schema":
        return ("schema", None)
    binary = find_binary(kubeconform)
    if binary is None:
        if backend == "kubeconform":
            raise ValidateConfigError(
                "kubeconform was not found on PATH; install it, pass --kubeconform PATH, "
                "or use --backend schema (pure Python, offline)"
            )
        return ("schema", None)
    if not binary_exists(binary):
        raise ValidateConfigError(f"kubeconform binary {binary!r} does not exist")
    return ("kubeconform", binary)


def run(
    paths: Sequence[str | Path],
    *,
    backend: str = "auto",
    render_kustomize: bool = False,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    schema_locations: Sequence[str] = (),
    strict_kinds: bool = False,
    kubeconform: str | None = None,
) -> Report:
    """Validate ``paths`` (files or directories) and return the full report."""
    with _gc_paused():
        return _run(paths, backend, render_kustomize,
                    SchemaOptions(kubernetes_version, tuple(schema_locations), strict_kinds),
                    kubeconform)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The loaded node trees are millions of small acyclic objects: the cyclic
    garbage collector would rescan them again and again (3-4x the load time on
    2,000 files) and find nothing. Reference counting frees them; pause it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    paths: Sequence[str | Path],
    backend: str,
    render_kustomize: bool,
    options: SchemaOptions,
    kubeconform: str | None,
) -> Report:
    chosen, binary = choose_backend(backend, kubeconform)
    schema = SchemaValidator(options)  # validates the options even when kubeconform runs
    files = [load_path(path, shown) for path, shown in collect(paths)]
    patches = _patch_files(files)
    checked = [f for f in files if Path(os.path.abspath(f.path)) not in patches]
    findings = LintValidator().check(files)
    if chosen == "kubeconform":
        from promoter.validate.kubeconform import KubeconformValidator

        assert binary is not None
        findings.extend(KubeconformValidator(binary, options, schema.registry).check(checked))
    else:
        findings.extend(schema.check(checked))
    if render_kustomize:
        from promoter.validate.kustomize import KustomizeValidator

        findings.extend(KustomizeValidator(schema).check(files))
    documents = {
        f.display: [
            DocumentInfo(d.index, d.api_version, d.kind, d.name)
            for d in f.documents
            if d.value is not None
        ]
        for f in files
    }
    return Report(
        findings=sorted(findings, key=sort_key),
        files=[f.display for f in files],
        resources=sum(len(docs) for docs in documents.values()),
        backend=chosen,
        documents=documents,
    )


def validate(
    paths: Sequence[str | Path],
    *,
    backend: str = "auto",
    render_kustomize: bool = False,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    schema_locations: Sequence[str] = (),
    strict_kinds: bool = False,
    kubeconform: str | None = None,
) -> list[Finding]:
    """Validate manifests; the findings, sorted by file and line.

    The manifests are valid when no finding has severity ``error`` (``info``
    findings note skipped kinds).

    Raises ``SchemaConfigError`` (a ``ValueError``) for unusable options.
    """
    return run(
        paths,
        backend=backend,
        render_kustomize=render_kustomize,
        kubernetes_version=kubernetes_version,
        schema_locations=schema_locations,
        strict_kinds=strict_kinds,
        kubeconform=kubeconform,
    ).findings


def validate_text(
    text: str,
    name: str = "<text>",
    *,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    schema_locations: Sequence[str] = (),
    strict_kinds: bool = False,
) -> list[Finding]:
    """Lint and schema-check YAML held in memory (say, an edit before it is written).

    ``name`` is how findings name the file; a name ending in ``kustomization.yaml``
    gets the kustomization rules.
    """
    from promoter.validate.loader import load_text

    options = SchemaOptions(kubernetes_version, tuple(schema_locations), strict_kinds)
    source = load_text(text, name)
    findings = [*source.findings, *SchemaValidator(options).check([source])]
    return sorted(findings, key=sort_key)
