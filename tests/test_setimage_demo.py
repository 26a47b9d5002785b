"""`promoter demo`, part 1: set-image on a copy of the bundled example tree (in-process, fast).

The whole tour (sandbox, pull request, merge) runs as a subprocess in tests/test_demo.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from promoter.commands.demo import changed_lines, example_tree, part_set_image


def _digest(tree: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(tree.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(tree)).encode() + f.read_bytes())
    return h.hexdigest()


def test_set_image_part_edits_a_copy_and_shows_changed_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(example_tree())
    part_set_image(tmp_path, "ghcr.io/acme/web:1.10")
    out = capsys.readouterr().out
    assert "7 changes in 5 files" in out
    assert "+      tag: \"1.10\" # {\"$imagepolicy\": \"flux-system:web:tag\"}" in out
    assert "note: digest removed" in out
    assert "already up to date: 6 pins" in out
    assert "envoy" not in out  # the proxy image is not touched
    assert _digest(example_tree()) == before
    copy = tmp_path / "shop" / "clusters" / "staging" / "web-helmrelease.yaml"
    assert b'tag: "1.10" # {"$imagepolicy": "flux-system:web:tag"}\r\n' in copy.read_bytes()


def test_changed_lines_keeps_file_names_and_changed_lines_only() -> None:
    diff = ("--- a/x.yaml\n+++ b/x.yaml\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\r\n+b: 3\r\n c: 4\n")
    assert changed_lines(diff) == ["  x.yaml", "    -b: 2", "    +b: 3"]


def test_git_version_parsing() -> None:
    from promoter.commands.demo import MIN_GIT, git_version

    assert git_version("git version 2.39.5\n") == (2, 39)
    assert git_version("git version 2.34.1") == (2, 34) and (2, 30) < MIN_GIT <= (2, 34)
    assert git_version("git version 2.45.2.windows.1") == (2, 45)
    assert git_version("") is None
