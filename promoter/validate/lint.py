"""The ``lint`` backend: YAML problems found while loading (see loader.py).

Parse errors (file:line:column), duplicate keys, tabs in indentation and
values JSON cannot hold are detected by the loader in the same pass that
types the values, so this backend only hands them on.
"""

from __future__ import annotations

from collections.abc import Sequence

from promoter.validate.findings import Finding
from promoter.validate.loader import SourceFile, load_text


class LintValidator:
    name = "lint"

    def check(self, files: Sequence[SourceFile]) -> list[Finding]:
        return [f for source in files for f in source.findings]


def lint_text(text: str, display: str = "<text>") -> list[Finding]:
    """Lint one YAML text (handy for checking an edit before it is written)."""
    return load_text(text, display).findings
