"""Manifest validation: one module per backend behind ``base.Validator``.

``validate(paths, ...) -> list[Finding]`` (and ``run`` for the full report)
are the library entry points; they are imported lazily so that importing a
submodule (``findings``, ``policy``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promoter.validate.api import Report, run, validate, validate_text
    from promoter.validate.findings import Finding

__all__ = ["Finding", "Report", "run", "validate", "validate_text"]


def __getattr__(name: str) -> Any:
    if name in ("validate", "validate_text", "run", "Report"):
        from promoter.validate import api

        return getattr(api, name)
    if name == "Finding":
        from promoter.validate.findings import Finding

        return Finding
    raise AttributeError(name)
