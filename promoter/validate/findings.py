"""What every validation backend reports: one ``Finding`` per problem (or skip).

Findings are plain data so the reporters (text, json, GitHub workflow
commands, JUnit) and the promotion can consume them without knowing which
backend produced them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

# Backends, by name, as they appear in ``Finding.backend``.
BACKENDS = ("lint", "schema", "kubeconform", "kustomize", "policy")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (``error``/``warning``) or note (``info``, e.g. a skipped kind).

    ``line``/``column`` are 1-based and 0 when unknown. ``document`` is the
    0-based index of the YAML document in ``file`` (-1 when the finding is
    about the whole file). ``path`` is a JSON pointer into the document
    (``/spec/replicas``), empty for the document itself.
    """

    severity: Severity
    file: str
    message: str
    backend: str
    line: int = 0
    column: int = 0
    document: int = -1
    api_version: str = ""
    kind: str = ""
    name: str = ""
    path: str = ""
    # Set on findings about a skipped resource (no schema): reporters count them apart.
    skipped: bool = False

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        """``file:line:column`` (parts that are unknown are left out)."""
        out = self.file
        if self.line:
            out += f":{self.line}"
            if self.column:
                out += f":{self.column}"
        return out

    @property
    def resource(self) -> str:
        """``Kind/name`` (or what is known of it)."""
        if self.kind and self.name:
            return f"{self.kind}/{self.name}"
        return self.kind or self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.is_error for f in findings)


def sort_key(f: Finding) -> tuple[str, int, int, int, str, str]:
    """Stable report order: by file, document, position, then text."""
    return (f.file, f.document, f.line, f.column, f.path, f.message)


def escape_pointer(part: str | int) -> str:
    """One JSON-pointer token (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + escape_pointer(p) for p in parts)
