"""`promoter demo` (interim): runs set-image on a copy of the bundled example tree."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from promoter.cli import main
from promoter.commands.demo import example_tree


def _digest(tree: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(tree.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(tree)).encode() + f.read_bytes())
    return h.hexdigest()


def test_demo_runs_on_a_copy() -> None:
    before = _digest(example_tree())
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "7 changes in 5 files" in out
    assert "+      tag: \"1.10\" # {\"$imagepolicy\": \"flux-system:web:tag\"}" in out
    assert "note: digest removed" in out
    assert "already up to date: 6 pins" in out
    assert "envoy" not in out.split("--- a/")[0]  # the proxy image is not touched
    assert _digest(example_tree()) == before
