"""The grep pre-filter picks exactly the files the Python scan picks (promoter.prefilter)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import promoter.prefilter as prefilter
from promoter.setimage import SetImageResult, set_image

W1 = "ghcr.io/acme/web:1"
POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}\n"
KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep on PATH")


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def tree(root: Path, outside: Path) -> None:
    for i in range(40):
        v = "ghcr.io/acme/web:1" if i % 7 == 0 else f"ghcr.io/acme/other{i}:1"
        write(root / f"d{i % 3}" / f"f{i:02d}.yaml", POD.format(v=v))
    write(root / "d0" / "crlf.yml", POD.format(v=W1).replace("\n", "\r\n"))
    write(root / "d1" / "Kustomization", KUST)  # no image: parsed only with --add
    images = "images:\n- name: ghcr.io/acme/web\n  newTag: '1'\n"
    write(root / "d1" / "kustomization.yaml", KUST + images)
    write(root / "d2" / "marker.yaml", "tag: v1 # promoter: ghcr.io/acme/web:tag\n")
    write(root / "d2" / "flux.yaml", 'tag: v1 # {"$imagepolicy": "flux-system:web:tag"}\n')
    u16 = f"image: {W1}\n".encode("utf-16-le")
    write(root / "d2" / "u16.yaml", b"\xff\xfe" + u16)  # grep cannot see 'web' in UTF-16
    write(root / "d2" / "bad.yaml", f"image: {W1}\nx: [\n")
    write(root / "d2" / "notes.txt", f"{W1}\n")  # not a YAML name
    write(root / ".git" / "x.yaml", POD.format(v=W1))  # skipped
    write(root / "d0" / ".yaml", POD.format(v=W1))
    write(root / "d0" / "-dash.yaml", POD.format(v=W1))
    write(root / "d0" / "line\nbreak.yaml", POD.format(v=W1))
    write(outside / "out.yaml", POD.format(v=W1))
    (root / "d1" / "in-link.yaml").symlink_to(root / "d0" / "f00.yaml")
    (root / "d1" / "out-link.yaml").symlink_to(outside / "out.yaml")
    (root / "d1" / "dir-link").symlink_to(outside, target_is_directory=True)


def summary(result: SetImageResult) -> tuple[Any, ...]:
    return (
        [(e.file, e.line, e.old, e.new) for e in result.edits],
        [(e.file, e.line) for e in result.up_to_date],
        [str(e) for e in result.errors],
        result.warnings,
        result.files_scanned,
        result.files_parsed,
    )


@pytest.mark.parametrize("add", [False, True])
def test_grep_and_python_pick_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, add: bool
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    args = ([root], ["ghcr.io/acme/web:2"])
    monkeypatch.setenv("PROMOTER_NO_GREP", "1")
    python = summary(set_image(*args, add=add, dry_run=True))
    monkeypatch.delenv("PROMOTER_NO_GREP")
    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    monkeypatch.setattr(prefilter, "_BATCH_BYTES", 200)  # several grep processes
    spawned: list[int] = []
    real_spawn = prefilter.Run._spawn

    def counting(self: prefilter.Run) -> None:
        spawned.append(len(self.paths) - self.start)
        real_spawn(self)

    monkeypatch.setattr(prefilter.Run, "_spawn", counting)
    grep = summary(set_image(*args, add=add, dry_run=True))
    assert len(spawned) > 1, "grep did not run in several batches"
    assert grep == python
    assert python[5] < python[4]  # the pre-filter did skip files
    assert any("u16.yaml" in e[0] for e in python[0]) and any("break" in e[0] for e in python[0])


def test_grep_failure_falls_back_to_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    monkeypatch.setenv("PROMOTER_NO_GREP", "1")
    python = summary(set_image([root], ["ghcr.io/acme/web:2"], dry_run=True))
    monkeypatch.delenv("PROMOTER_NO_GREP")
    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    fake = tmp_path / "bin" / "grep"
    write(fake, "#!/bin/sh\necho \"$0: broken\" >&2\nexit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert prefilter.grep_program() == str(fake)
    assert summary(set_image([root], ["ghcr.io/acme/web:2"], dry_run=True)) == python


def test_writes_with_grep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    for i in range(10):
        write(tmp_path / f"f{i}.yaml", POD.format(v=W1 if i == 3 else "x:1"))
    result = set_image([tmp_path], ["ghcr.io/acme/web:2"])
    assert [e.file for e in result.edits] == [str(tmp_path / "f3.yaml")]
    assert (tmp_path / "f3.yaml").read_text() == POD.format(v="ghcr.io/acme/web:2")
    assert result.files_scanned == 10 and result.files_parsed == 1


def test_no_grep_left_behind_when_a_path_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promoter.setimage import UsageError

    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    monkeypatch.setattr(prefilter, "_BATCH_BYTES", 1)  # a grep per file
    for i in range(5):
        write(tmp_path / "d" / f"f{i}.yaml", POD.format(v=W1))
    pids: list[int] = []
    real_spawn = prefilter.Run._spawn

    def keep(self: prefilter.Run) -> None:
        real_spawn(self)
        pids.append(self.children[-1][0])

    monkeypatch.setattr(prefilter.Run, "_spawn", keep)
    with pytest.raises(UsageError, match="no such file"):
        set_image([tmp_path / "d", tmp_path / "missing"], ["ghcr.io/acme/web:2"])
    assert len(pids) == 5
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped
