"""The ``kustomize`` backend: render kustomization roots and validate what they produce.

Rendering uses ``kustomize build ROOT`` when kustomize is on PATH, else
``kubectl kustomize ROOT`` (kubectl embeds kustomize), always with an
argument list and never with ``--enable-helm``, ``--enable-alpha-plugins`` or
exec functions. Network is fenced off as far as an environment can do it:
HTTP(S) proxies point at a closed local port and git may use the ``file``
protocol only, so a remote base fails fast instead of being fetched.

The rendered documents go through the schema backend. Each finding names
the overlay (the kustomization root) and, where the object can be traced to
a file of the overlay or of its bases/patches (same kind, name equal up to
the overlay's prefix/suffix; the file whose value at the error's path equals
the rendered one wins), that file and line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promoter.validate.findings import Finding
from promoter.validate.loader import Document, SourceFile, key_string, load_path, load_text
from promoter.validate.schema import KUSTOMIZATION_FILES, SchemaValidator

TIMEOUT_SECONDS = 120
_LIST_KEYS = ("resources", "bases", "components")
_PATCH_KEYS = ("patches", "patchesStrategicMerge", "patchesJson6902")


class KustomizeUnavailable(RuntimeError):
    """Neither kustomize nor kubectl is installed."""


def render_command(root: Path) -> list[str]:
    """The argument list that renders ``root`` (no plugins, no Helm)."""
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build", str(root)]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize", str(root)]
    raise KustomizeUnavailable(
        "rendering needs kustomize or kubectl on PATH; install one, or drop --render-kustomize"
    )


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[key] = "http://127.0.0.1:9"
    env["GIT_ALLOW_PROTOCOL"] = "file"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def kustomization_in(directory: Path) -> Path | None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


@dataclass
class _Origin:
    source: SourceFile
    doc: Document
    is_patch: bool


def _entries(value: Any, keys: Sequence[str]) -> Iterator[str]:
    if not isinstance(value, dict):
        return
    for key in keys:
        items = value.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            rel = item.get("path") if isinstance(item, dict) else item
            if isinstance(rel, str) and "\n" not in rel and "://" not in rel:
                yield rel


class KustomizeValidator:
    """Render each kustomization root among the files and validate the output."""

    name = "kustomize"

    def __init__(self, schema: SchemaValidator | None = None) -> None:
        self.schema = schema or SchemaValidator()
        self._loaded: dict[Path, SourceFile] = {}

    def check(self, files: Sequence[SourceFile]) -> list[Finding]:
        for source in files:
            self._loaded.setdefault(source.path.resolve(), source)
        out: list[Finding] = []
        for source in files:
            if source.path.name in KUSTOMIZATION_FILES:
                out.extend(self.check_root(source))
        return out

    def check_root(self, kustomization: SourceFile) -> list[Finding]:
        root = kustomization.path.parent
        overlay = str(Path(kustomization.display).parent)
        try:
            args = render_command(root)
        except KustomizeUnavailable as exc:
            return [self._about_root(kustomization, "error", str(exc))]
        try:
            proc = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
                env=offline_env(),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [self._about_root(kustomization, "error", f"could not render: {exc}")]
        if proc.returncode != 0:
            reason = " ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit {proc.returncode}"
            return [
                self._about_root(
                    kustomization,
                    "error",
                    f"rendering overlay {overlay} failed ({' '.join(args[:2])}): {reason}",
                )
            ]
        rendered = load_text(proc.stdout, f"{overlay} (rendered)")
        origins = self._origins(kustomization)
        out: list[Finding] = []
        for f in rendered.findings:  # the renderer's own output should always parse
            out.append(replace(f, backend=self.name, message=f"overlay {overlay}: {f.message}"))
        for doc in rendered.documents:
            for finding in self.schema.check_document(rendered, doc):
                out.append(self._trace(finding, doc, overlay, kustomization, origins))
        return out

    def _about_root(self, kustomization: SourceFile, severity: str, message: str) -> Finding:
        return Finding(
            severity=severity,  # type: ignore[arg-type]
            file=kustomization.display,
            message=message,
            backend=self.name,
            line=1,
            column=1,
        )

    # -- tracing rendered objects back to files ----------------------------------------

    def _load(self, path: Path, display: str) -> SourceFile | None:
        key = path.resolve()
        if key not in self._loaded:
            if not path.is_file():
                return None
            self._loaded[key] = load_path(path, display)
        return self._loaded[key]

    def _origins(self, kustomization: SourceFile) -> list[_Origin]:
        """Documents of the files the kustomization (and its bases) pull in."""
        out: list[_Origin] = []
        seen: set[Path] = set()
        self._walk(kustomization, out, seen, depth=0)
        return out

    def _walk(self, kust: SourceFile, out: list[_Origin], seen: set[Path], depth: int) -> None:
        key = kust.path.resolve()
        if key in seen or depth > 10:
            return
        seen.add(key)
        base_dir = kust.path.parent
        shown_dir = Path(kust.display).parent
        for doc in kust.documents:
            for rel, is_patch in [
                *((r, False) for r in _entries(doc.value, _LIST_KEYS)),
                *((r, True) for r in _entries(doc.value, _PATCH_KEYS)),
            ]:
                target = base_dir / rel
                shown = str(shown_dir / rel)
                if target.is_dir():
                    nested = kustomization_in(target)
                    if nested is not None:
                        loaded = self._load(nested, str(Path(shown) / nested.name))
                        if loaded is not None:
                            self._walk(loaded, out, seen, depth + 1)
                    continue
                loaded = self._load(target, shown)
                if loaded is not None:
                    out.extend(_Origin(loaded, d, is_patch) for d in loaded.documents)

    def _trace(
        self,
        finding: Finding,
        rendered_doc: Document,
        overlay: str,
        kustomization: SourceFile,
        origins: list[_Origin],
    ) -> Finding:
        parts = _parts(finding.path)
        rendered_value = _at(rendered_doc.value, parts)
        best: tuple[int, int, _Origin] | None = None
        for order, origin in enumerate(origins):
            value = origin.doc.value
            if not isinstance(value, dict) or value.get("kind") != finding.kind:
                continue
            meta = value.get("metadata")
            raw = meta.get("name") if isinstance(meta, dict) else None
            name = "" if raw is None else key_string(raw)
            if not name or name not in finding.name:
                continue
            found = _at(value, parts)
            score = 2 if found is not _MISSING and found == rendered_value else 0
            score += 1 if name == finding.name else 0
            if best is None or (score, -order) > (best[0], -best[1]):
                best = (score, order, origin)
        message = f"overlay {overlay}: {finding.message}"
        if best is None:
            return replace(
                finding,
                file=kustomization.display,
                line=0,
                column=0,
                document=-1,
                backend=self.name,
                message=message,
            )
        origin = best[2]
        line, column = origin.doc.locate(parts)
        return replace(
            finding,
            file=origin.source.display,
            line=line,
            column=column,
            document=origin.doc.index,
            backend=self.name,
            message=message,
        )


_MISSING = object()


def _parts(path: str) -> list[str | int]:
    if not path:
        return []
    out: list[str | int] = []
    for token in path.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        out.append(int(token) if token.isdigit() else token)
    return out


def _at(value: Any, parts: Sequence[str | int]) -> Any:
    for part in parts:
        if isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return _MISSING
    return value
