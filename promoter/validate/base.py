"""The one protocol every validation backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from promoter.validate.findings import Finding
from promoter.validate.loader import SourceFile


class Validator(Protocol):
    """A backend: takes loaded files (each read and parsed once), returns findings.

    Backends that need the files themselves (kubeconform, kustomize) use
    ``SourceFile.path``; the loaded documents let them map results back to lines.
    """

    name: str

    def check(self, files: Sequence[SourceFile]) -> list[Finding]: ...
