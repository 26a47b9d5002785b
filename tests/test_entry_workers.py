"""set-image's forked workers: a worker killed at any point never changes the files or the
report (promoter.setimage._plan_all)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

import promoter.setimage as setimage
import promoter.yamledit.engine as engine
from promoter.setimage import SetImageResult, set_image

POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}\n"
W1, W2 = "ghcr.io/acme/web:1", "ghcr.io/acme/web:2"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")


def make(root: Path) -> None:
    root.mkdir()
    for i in range(24):
        (root / f"f{i:02d}.yaml").write_text(POD.format(v=W1 if i % 4 else "ghcr.io/acme/web:2"))


def summary(result: SetImageResult) -> tuple[Any, ...]:
    return (
        [(e.file, e.line, e.old, e.new) for e in result.edits],
        [(e.file, e.line) for e in result.up_to_date],
        [str(e) for e in result.errors],
        result.changed_files,
        result.files_scanned,
        result.files_parsed,
        result.diff,
    )


def contents(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(root.iterdir())}


def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, str]]:
    root = tmp_path / "serial" / "tree"
    root.parent.mkdir()
    make(root)
    monkeypatch.chdir(root.parent)
    monkeypatch.setattr(setimage, "_workers", lambda weight: 1)
    result = set_image(["tree"], [W2], diff=True)
    monkeypatch.undo()
    return summary(result), contents(root)


def forked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, str]]:
    root = tmp_path / "forked" / "tree"
    root.parent.mkdir()
    make(root)
    monkeypatch.chdir(root.parent)
    monkeypatch.setattr(setimage, "_workers", lambda weight: 2)
    result = set_image(["tree"], [W2], diff=True)
    return summary(result), contents(root)


def test_a_worker_killed_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = reference(tmp_path, monkeypatch)
    parent = os.getpid()
    real = engine.write_atomic
    written: list[str] = []

    def dying(path: str, data: bytes, durable: bool = False) -> None:
        real(path, data, durable=durable)
        if os.getpid() != parent:
            written.append(path)
            if len(written) == 3:  # some of its files written, the others not
                os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(engine, "write_atomic", dying)
    got = forked(tmp_path, monkeypatch)
    assert got == expected
    assert len(got[0][0]) == 18  # every change reported as a change, none as up to date
    assert len(got[0][1]) == 6


def test_a_worker_killed_while_planning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = reference(tmp_path, monkeypatch)
    parent = os.getpid()
    real = setimage._process

    def dying(*args: Any) -> Any:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)

    monkeypatch.setattr(setimage, "_process", dying)
    assert forked(tmp_path, monkeypatch) == expected


def test_workers_agree_with_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = reference(tmp_path, monkeypatch)
    assert forked(tmp_path, monkeypatch) == expected
