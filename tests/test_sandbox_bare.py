"""The sandbox's merges on git older than 2.38 (no ``merge-tree --write-tree``).

The fallback (a three-way ``read-tree`` in a private index) runs with the real
git here, forced by ``bare.USE_MERGE_TREE = False``; every verdict, conflict list
and merged tree must equal what ``git merge-tree --write-tree`` gives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from promoter.sandbox import bare

ENV = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1",
       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
       "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
LINES = "".join(f"line {i}\n" for i in range(1, 21))


def git(work: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(work), *args], capture_output=True, check=True,
                          env=ENV).stdout.decode().strip()


def write(work: Path, name: str, data: str | bytes, mode: int = 0o644) -> None:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def edit(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = new + "\n"
    return "".join(lines)


Side = Callable[[Path], None]


def build(tmp_path: Path, base: Side, ours: Side, theirs: Side) -> Path:
    """A repository whose ``main`` got ``ours`` and whose ``head`` got ``theirs`` on ``base``."""
    work = tmp_path / "work"
    tmp_path.mkdir(parents=True, exist_ok=True)
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    base(work)
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", "base")
    git(work, "branch", "head")
    for branch, change in (("main", ours), ("head", theirs)):
        git(work, "checkout", "-q", branch)
        change(work)
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", branch)
    return work / ".git"


def nothing(work: Path) -> None:
    pass


def remove(name: str) -> Side:
    return lambda work: (work / name).unlink()


def put(name: str, data: str | bytes, mode: int = 0o644) -> Side:
    return lambda work: write(work, name, data, mode)


def both(*sides: Side) -> Side:
    def run(work: Path) -> None:
        for side in sides:
            side(work)
    return run


BASE = both(put("app/values.yaml", LINES), put("other.txt", "other\n"),
            put("bin.dat", b"\x00\x01binary\x00"))
CASES: dict[str, tuple[Side, Side]] = {
    "different files": (put("other.txt", "changed\n"),
                        put("app/values.yaml", edit(LINES, 3, "tag: 2"))),
    "one file, distant lines": (put("app/values.yaml", edit(LINES, 18, "x")),
                                put("app/values.yaml", edit(LINES, 2, "tag: 2"))),
    "one line, two values": (put("app/values.yaml", edit(LINES, 5, "tag: 1")),
                             put("app/values.yaml", edit(LINES, 5, "tag: 2"))),
    "the same change twice": (put("app/values.yaml", edit(LINES, 5, "tag: 2")),
                              put("app/values.yaml", edit(LINES, 5, "tag: 2"))),
    "added on both sides alike": (put("new.yaml", "a: 1\n"), put("new.yaml", "a: 1\n")),
    "added on both sides differently": (put("new.yaml", "a: 1\n"), put("new.yaml", "a: 2\n")),
    "modified and deleted": (put("other.txt", "changed\n"), remove("other.txt")),
    "deleted and kept": (nothing, remove("other.txt")),
    "deleted on both sides": (remove("other.txt"), remove("other.txt")),
    "mode and content": (put("other.txt", "other\n", 0o755), put("other.txt", "changed\n")),
    "binary on both sides": (put("bin.dat", b"\x00ours\x00"), put("bin.dat", b"\x00theirs\x00")),
    "new directory and edit": (put("app/new/x.yaml", "x: 1\n"),
                               put("app/values.yaml", edit(LINES, 9, "y"))),
    "head already merged": (put("other.txt", "changed\n"), nothing),
}


@pytest.fixture
def merge_tree_switch() -> Iterator[Callable[[bool], None]]:
    def use(flag: bool) -> None:
        bare.USE_MERGE_TREE = flag
    yield use
    bare.USE_MERGE_TREE = None


@pytest.mark.parametrize("case", CASES)
def test_fallback_verdicts_and_trees_equal_merge_tree(
    tmp_path: Path, case: str, merge_tree_switch: Callable[[bool], None]
) -> None:
    ours, theirs = CASES[case]
    repo = build(tmp_path, BASE, ours, theirs)
    if case == "head already merged":
        bare.run(repo, "update-ref", "refs/heads/head", "main~1")  # head is in main
    merge_tree_switch(True)
    expected = bare.merge_check(repo, "main", "head")
    merge_tree_switch(False)
    got = bare.merge_check(repo, "main", "head")
    assert got == expected
    want_clean = {"one line, two values", "added on both sides differently",
                  "modified and deleted", "binary on both sides"}
    assert expected.clean is (case not in want_clean)


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_fallback_merges_make_the_same_trees(
    tmp_path: Path, method: str, merge_tree_switch: Callable[[bool], None]
) -> None:
    ours, theirs = CASES["one file, distant lines"]
    tips = []
    for flag in (True, False):
        repo = build(tmp_path / str(flag), BASE, ours, theirs)
        merge_tree_switch(flag)
        new = bare.merge_commit(repo, "main", bare.out(repo, "rev-parse", "head"), method, "t", "")
        assert new is not None and bare.resolve(repo, "main") == new
        tips.append(bare.out(repo, "rev-parse", f"{new}^{{tree}}"))
    assert tips[0] == tips[1]
    assert "tag: 2" in bare.out(repo, "show", "main:app/values.yaml")


def test_fallback_refuses_a_conflicting_merge(
    tmp_path: Path, merge_tree_switch: Callable[[bool], None]
) -> None:
    repo = build(tmp_path, BASE, *CASES["one line, two values"])
    merge_tree_switch(False)
    before = bare.resolve(repo, "main")
    assert bare.merge_commit(repo, "main", bare.out(repo, "rev-parse", "head"), "merge", "t",
                             "") is None
    assert bare.resolve(repo, "main") == before


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script stands in for git")
def test_an_old_git_gets_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git that says 2.34.1 and knows no ``merge-tree --write-tree`` still merges."""
    real = shutil.which("git")
    assert real
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && echo "git version 2.34.1" && exit 0\n'
        'for a in "$@"; do [ "$a" = --write-tree ] && echo "usage: old git" >&2 && exit 129\n'
        f'done\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    repo = build(tmp_path, BASE, *CASES["one file, distant lines"])
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    bare.git_version.cache_clear()
    try:
        assert bare.git_version() == (2, 34)
        check = bare.merge_check(repo, "main", "head")
        assert check.clean and check.tree
        conflict = build(tmp_path / "c", BASE, *CASES["one line, two values"])
        assert bare.merge_check(conflict, "main", "head") == bare.MergeCheck(
            False, None, ("app/values.yaml",))
    finally:
        bare.git_version.cache_clear()


def test_unrelated_histories_are_an_error_on_both_paths(
    tmp_path: Path, merge_tree_switch: Callable[[bool], None]
) -> None:
    repo = build(tmp_path, BASE, nothing, nothing)
    lone = bare.commit_tree(repo, bare.out(repo, "rev-parse", "main^{tree}"), [], "lone\n")
    for flag in (True, False):
        merge_tree_switch(flag)
        with pytest.raises(bare.GitError, match="unrelated histories"):
            bare.merge_check(repo, "main", lone)


def test_fallback_rebase_replays_each_commit_like_apply_3way(
    tmp_path: Path, merge_tree_switch: Callable[[bool], None]
) -> None:
    """Two head commits replayed onto a moved base: the same trees, one commit each."""
    results = []
    for flag in (True, False):
        repo = build(tmp_path / str(flag), BASE, put("app/values.yaml", edit(LINES, 18, "x")),
                     put("app/values.yaml", edit(LINES, 2, "tag: 2")))
        work = repo.parent
        git(work, "checkout", "-q", "head")
        write(work, "app/values.yaml", edit(edit(LINES, 2, "tag: 2"), 9, "y"))
        git(work, "commit", "-qam", "second")
        merge_tree_switch(flag)
        new = bare.merge_commit(repo, "main", bare.out(repo, "rev-parse", "head"), "rebase",
                                "t", "")
        assert new is not None
        results.append([bare.out(repo, "rev-parse", f"{new}~{n}^{{tree}}") for n in (0, 1)])
        assert bare.out(repo, "log", "--format=%s", "-3", new).splitlines() == [
            "second", "head", "main"]
    assert results[0] == results[1]
    conflict = build(tmp_path / "c", BASE, *CASES["one line, two values"])
    assert bare.merge_commit(conflict, "main", bare.out(conflict, "rev-parse", "head"),
                             "rebase", "t", "") is None
