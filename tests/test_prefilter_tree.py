"""Tree mode of the grep pre-filter: a ``grep -r`` started at entry picks exactly the files
the pure-Python scan picks (promoter.prefilter.TreeGrep, promoter.setimage._tree_filtered)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import promoter.prefilter as prefilter
from promoter import entry
from promoter.setimage import SetImageResult, build_request, needles, set_image

W1 = "ghcr.io/acme/web:1"
W2 = "ghcr.io/acme/web:2"
POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}\n"
KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"


def gnu_grep() -> bool:
    import subprocess

    program = shutil.which("grep")
    if program is None:
        return False
    out = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
    return "GNU grep" in out and "--no-ignore-case" in subprocess.run(
        [program, "--help"], capture_output=True, text=True
    ).stdout


pytestmark = pytest.mark.skipif(not gnu_grep(), reason="needs GNU grep >= 3.3")


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def tree(root: Path, outside: Path) -> None:
    for i in range(30):
        v = W1 if i % 7 == 0 else f"ghcr.io/acme/other{i}:1"
        write(root / f"d{i % 3}" / f"f{i:02d}.yaml", POD.format(v=v))
    write(root / "d0" / "crlf.yml", POD.format(v=W1).replace("\n", "\r\n"))
    write(root / "d1" / "Kustomization", KUST)  # no image: parsed only with --add
    write(root / "d1" / "kustomization.yaml", KUST + "images:\n- name: ghcr.io/acme/web\n")
    write(root / "d2" / "marker.yaml", "tag: v1 # promoter: ghcr.io/acme/web:tag\n")
    u16 = f"image: {W1}\n".encode("utf-16-le")
    write(root / "d2" / "u16.yaml", b"\xff\xfe" + u16)  # grep cannot see 'web' in UTF-16
    write(root / "d2" / "bad.yaml", f"image: {W1}\nx: [\n")
    write(root / "d2" / "notes.txt", f"{W1}\n")  # not a YAML name
    write(root / ".git" / "x.yaml", POD.format(v=W1))  # skipped
    write(root / "d0" / ".git" / "y.yaml", POD.format(v=W1))  # skipped at any depth
    write(root / "d0" / ".yaml", POD.format(v=W1))
    write(root / "d0" / "-dash.yaml", POD.format(v=W1))
    write(root / "d0" / "line\nbreak.yaml", POD.format(v=W1))
    write(root / "d0" / "tab\tname.yml", POD.format(v=W1))
    write(outside / "out.yaml", POD.format(v=W1))
    write(outside / "sub" / "deep.yaml", POD.format(v=W1))
    (root / "d1" / "in-link.yaml").symlink_to(root / "d0" / "f00.yaml")  # inside: edited once
    (root / "d2" / "in-link2.yaml").symlink_to(root / "d2" / "marker.yaml")
    (root / "d1" / "out-link.yaml").symlink_to(outside / "out.yaml")  # outside: skipped
    (root / "d1" / "dir-link").symlink_to(outside / "sub", target_is_directory=True)
    (root / "d1" / "in-dir-link").symlink_to(root / "d0", target_is_directory=True)
    os.mkfifo(root / "d2" / "fifo.yaml")  # neither grep nor Python may block on it


def summary(result: SetImageResult) -> tuple[Any, ...]:
    return (
        [(e.file, e.line, e.old, e.new) for e in result.edits],
        [(e.file, e.line) for e in result.up_to_date],
        [str(e) for e in result.errors],
        result.warnings,
        result.files_scanned,
        result.files_parsed,
        result.diff,
    )


def python_scan(monkeypatch: pytest.MonkeyPatch, paths: list[str], **kw: Any) -> Any:
    monkeypatch.setenv("PROMOTER_NO_GREP", "1")
    try:
        return summary(set_image(paths, [W2], dry_run=True, diff=True, **kw))
    finally:
        monkeypatch.delenv("PROMOTER_NO_GREP")


def tree_scan(monkeypatch: pytest.MonkeyPatch, paths: list[str], add: bool = False) -> Any:
    """set_image after the console script's early start; fails unless grep -r's verdict
    was used."""
    verdicts: list[bool] = []
    real = prefilter.TreeGrep.hits

    def hits(self: prefilter.TreeGrep) -> set[str] | None:
        found = real(self)
        verdicts.append(found is not None)
        return found

    monkeypatch.setattr(prefilter.TreeGrep, "hits", hits)
    monkeypatch.setattr(prefilter, "MIN_FILES", 10**9)  # no batch grep behind our back
    wanted = prefilter.needles(["web"], (), add)
    assert prefilter.start_tree(paths, wanted)
    result = summary(set_image(paths, [W2], dry_run=True, diff=True, add=add))
    assert verdicts == [True], "the early grep's answer was not used"
    return result


@pytest.mark.parametrize("add", [False, True])
def test_tree_grep_and_python_pick_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, add: bool
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    paths = [str(root), str(root / "d1" / "f07.yaml"), str(root / "d1" / "in-link.yaml")]
    python = python_scan(monkeypatch, paths, add=add)
    assert tree_scan(monkeypatch, paths, add=add) == python
    files = [e[0] for e in python[0]]
    assert any("u16.yaml" in f for f in files) and any("break" in f for f in files)
    assert any("tab" in f for f in files) and any("in-link2.yaml" in f for f in files)
    assert not any(".git" in f or "out" in f or "deep" in f for f in files)
    assert python[5] < python[4]  # the pre-filter did skip files


@pytest.mark.parametrize("form", ["{root}/", "./{rel}", "{rel}", "{rel}/d0/.."])
def test_path_spellings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    monkeypatch.chdir(tmp_path)
    paths = [form.format(root=root, rel="root")]
    assert tree_scan(monkeypatch, paths) == python_scan(monkeypatch, paths)


def test_roots_grep_would_spell_differently_use_the_batch_mode(tmp_path: Path) -> None:
    (tmp_path / "d" / ".git").mkdir(parents=True)
    assert prefilter.tree_roots([str(tmp_path / "d")]) == [str(tmp_path / "d")]
    assert prefilter.tree_roots([str(tmp_path / "d") + "//"]) is None
    assert prefilter.tree_roots([str(tmp_path / "d" / ".git")]) is None
    assert prefilter.tree_roots([str(tmp_path / "d" / ".git" / "..")]) is None
    assert prefilter.tree_roots(["/"]) is None
    assert not prefilter.start_tree([str(tmp_path / "d") + "//"], (b"web",))


def test_unreadable_file_falls_back_to_the_batch_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    locked = root / "d1" / "locked.yaml"
    write(locked, POD.format(v=W1))
    locked.chmod(0)
    try:
        python = python_scan(monkeypatch, [str(root)])
        monkeypatch.setattr(prefilter, "MIN_FILES", 0)
        batches: list[int] = []
        real_spawn = prefilter.Run._spawn

        def counting(self: prefilter.Run) -> None:
            batches.append(len(self.paths) - self.start)
            real_spawn(self)

        monkeypatch.setattr(prefilter.Run, "_spawn", counting)
        assert prefilter.start_tree([str(root)], prefilter.needles(["web"], (), False))
        assert summary(set_image([str(root)], [W2], dry_run=True, diff=True)) == python
        assert batches, "grep -r failed, so the batch mode should have run"
        assert any("locked.yaml" in e and "cannot read" in e for e in python[2])
    finally:
        locked.chmod(0o644)


def test_a_grep_error_after_partial_output_falls_back_to_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an unreadable file does to GNU grep -r (hits so far, then exit 2), also as root."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    python = python_scan(monkeypatch, [str(root)])
    real = shutil.which("grep")
    fake = tmp_path / "bin" / "grep"
    write(
        fake,
        "#!/bin/sh\n"
        'if [ "$1" = -r ]; then\n'
        f'  {real} "$@" | head -c 40; echo "grep: x.yaml: Permission denied" >&2; exit 2\n'
        "fi\n"
        f'exec {real} "$@"\n',
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    verdicts: list[bool] = []
    real_hits = prefilter.TreeGrep.hits

    def hits(self: prefilter.TreeGrep) -> set[str] | None:
        found = real_hits(self)
        verdicts.append(found is not None)
        return found

    monkeypatch.setattr(prefilter.TreeGrep, "hits", hits)
    assert prefilter.start_tree([str(root)], prefilter.needles(["web"], (), False))
    assert summary(set_image([str(root)], [W2], dry_run=True, diff=True)) == python
    assert verdicts == [False]


def test_a_grep_without_gnu_options_falls_back_to_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    python = python_scan(monkeypatch, [str(root)])
    real = shutil.which("grep")
    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "grep"
    write(
        fake,
        "#!/bin/sh\n"
        f"echo \"$1\" >> '{log}'\n"
        'for a in "$@"; do case "$a" in --include*|--no-ignore-case)\n'
        '  echo "grep: unrecognized option \'$a\'" >&2; exit 2;; esac; done\n'
        f'exec {real} "$@"\n',
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(prefilter, "MIN_FILES", 0)
    assert prefilter.start_tree([str(root)], prefilter.needles(["web"], (), False))
    assert summary(set_image([str(root)], [W2], dry_run=True, diff=True)) == python
    calls = log.read_text().split()
    assert calls[0] == "-r" and "-l" in calls[1:], calls  # tried tree mode, then batches


def test_a_grep_started_for_other_arguments_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    assert prefilter.start_tree([str(root)], prefilter.needles(["other"], (), False))
    started = prefilter._tree
    assert started is not None
    pids = [pid for pid, _ in started.children]
    python = python_scan(monkeypatch, [str(root)])  # takes (and drops) it: other needles
    assert prefilter._tree is None and started.children == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped
    assert prefilter.start_tree([str(root)], prefilter.needles(["web"], (), False))
    assert prefilter.take_tree([str(root / "d0")], prefilter.needles(["web"], (), False)) is None
    assert summary(set_image([str(root)], [W2], dry_run=True, diff=True)) == python


def test_a_failed_walk_reaps_the_tree_grep(tmp_path: Path) -> None:
    from promoter.setimage import UsageError

    write(tmp_path / "d" / "a.yaml", POD.format(v=W1))
    paths = [str(tmp_path / "d"), str(tmp_path / "missing")]
    assert prefilter.start_tree(paths, prefilter.needles(["web"], (), False))
    started = prefilter._tree
    assert started is not None
    pids = [pid for pid, _ in started.children]
    with pytest.raises(UsageError, match="no such file"):
        set_image(paths, [W2])
    assert started.children == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize(
    ("images", "add"),
    [([W2], False), ([W2, "nginx:1"], True), (["localhost:5000/a/b/c@sha256:" + "a" * 64], False),
     (["docker.io/library/redis:7", "quay.io/x/y:1"], True)],
)
def test_entry_needles_equal_set_image_needles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, images: list[str], add: bool
) -> None:
    started: list[tuple[bytes, ...]] = []
    monkeypatch.setattr(prefilter, "start_tree", lambda paths, wanted: started.append(wanted))
    args = entry.parse_set_image(["set-image", str(tmp_path), *(f"--image={i}" for i in images),
                                  *(["--add"] if add else [])])  # fmt: skip
    assert args is not None
    entry._start_grep(args)
    assert started == [needles(build_request(images, (), add))]


def test_the_tree_is_shared_among_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    write(root / "top.yaml", POD.format(v=W1))  # a top-level file: a grep operand of its own
    write(root / ".git" / "t.yaml", POD.format(v=W1))
    (root / "top-link.yaml").symlink_to(root / "d0" / "f00.yaml")
    flat = tmp_path / "flat"
    for i in range(5):
        write(flat / f"f{i}.yaml", POD.format(v=W1 if i == 2 else "x:1"))
    operands, _ = prefilter._split_operands([str(root), str(flat)])
    assert operands == [
        *(str(root / d) for d in ("d0", "d1", "d2")), str(root / "top.yaml"), str(flat)
    ]
    monkeypatch.setattr(prefilter, "_PROCESSES_PER_CPU", 8)  # one process per operand
    paths = [str(root), str(flat)]
    python = python_scan(monkeypatch, paths)
    assert prefilter.start_tree(paths, prefilter.needles(["web"], (), False))
    assert prefilter._tree is not None and len(prefilter._tree.children) == min(
        len(operands), prefilter._processes()
    )
    prefilter.cancel_tree()
    assert tree_scan(monkeypatch, paths) == python
    assert any("top.yaml" in e[0] for e in python[0])


def test_a_new_top_level_directory_voids_the_tree_grep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    tree(root, outside)
    assert prefilter.start_tree([str(root)], prefilter.needles(["web"], (), False))
    write(root / "d9" / "late.yaml", POD.format(v=W1))  # grep never saw d9
    assert prefilter.take_tree([str(root)], prefilter.needles(["web"], (), False)) is None
    python = python_scan(monkeypatch, [str(root)])
    assert any("late.yaml" in e[0] for e in python[0])
