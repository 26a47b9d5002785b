"""`promoter demo` as a user runs it: a subprocess on a "fresh machine".

Fresh machine: an empty HOME (no git identity, no global git config), no GIT_*
variables, a dead HTTP proxy configured (the tour must not ask it for 127.0.0.1),
and canary tokens / CI variables in the environment that the tour must neither
use nor print.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

CANARY = "canary-token-must-not-leak-7f3a"
RUN = [sys.executable, "-c", "from promoter.cli import main; main()", "demo"]
# the demo's own sandbox token: "demo-" + 32 URL-safe characters
DEMO_TOKEN = re.compile(r"demo-[A-Za-z0-9_-]{20,}")


def fresh_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PROMOTER_", "GITHUB_", "GITLAB_", "CI_"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "TMPDIR": str(tmp),
        "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
        "PROMOTER_TOKEN": CANARY, "GITHUB_TOKEN": CANARY, "GITHUB_ACTOR": "canary-actor",
        "GITHUB_API_URL": "http://127.0.0.1:9/api/v3", "PYTHONUNBUFFERED": "1",
    })
    return env


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True,
                          check=True, env={"PATH": os.environ["PATH"]}).stdout.decode()


def section(out: str, number: int) -> str:
    return out.split(f"== {number}.")[1].split("\n== ")[0]


def test_demo_opens_one_pr_updates_it_and_merges_it(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    proc = subprocess.run([*RUN, "--keep"], capture_output=True, text=True, env=env, timeout=120)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err and err == ""
    assert CANARY not in out and "canary-actor" not in out
    assert not DEMO_TOKEN.search(out)

    # 1. set-image on the copy
    assert "7 changes in 5 files" in section(out, 1)
    # 3. one PR created, with the change table
    first = section(out, 3)
    assert "promoted: pushed" in first and "promoter/main/staging/web" in first
    assert "clusters/staging/web-helmrelease.yaml:18" in first and "1.4.2 -> 1.5.0" in first
    assert "pull request #1 created" in first
    assert re.search(r"pull request #1: http://127\.0\.0\.1:\d+/acme/gitops/pull/1", first)
    # 4. rerun: up to date, same PR, no second one
    again = section(out, 4)
    assert "up to date: nothing pushed" in again and "pull request #1:" in again
    assert "1 pull request(s) in acme/gitops: #1 open" in again
    # 5. newer version: the same PR updated
    newer = section(out, 5)
    assert "1.4.2 -> 1.5.1" in newer and "pull request #1 updated" in newer
    assert "labels: promotion, auto-merge: squash" in newer
    # 6. merged
    assert "Promote ghcr.io/acme/web to 1.5.1 in staging (#1)" in section(out, 6)
    assert "#2" not in out

    # what the tour left behind (--keep): the sandbox's repository and state
    kept = Path(re.findall(r"^kept: (.+)$", out, re.M)[-1])
    try:
        bare = kept / "forge" / "acme" / "gitops.git"
        released = git(bare, "show", "main:clusters/staging/web-helmrelease.yaml")
        assert 'tag: 1.5.1 # {"$imagepolicy": "flux-system:web:tag"}\r\n' in released
        assert git(bare, "log", "--format=%s", "main").splitlines() == [
            "Promote ghcr.io/acme/web to 1.5.1 in staging (#1)", "the example GitOps tree"]
        assert "canary" not in git(bare, "log", "--format=%an %ae %cn %ce", "--all")
        state = json.loads((kept / "forge" / ".sandbox" / "github.json").read_text())
        pulls = state["pulls"]["acme/gitops"]
        assert list(pulls) == ["1"]
        assert pulls["1"]["state"] == "closed" and pulls["1"]["merged_at"]
        assert pulls["1"]["labels"] == ["promotion"]
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_demo_cleans_up_its_temporary_directories(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    proc = subprocess.run(RUN, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kept:" not in proc.stdout
    assert "promoter promote --help" in proc.stdout.split("== What next")[1]
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    proc = subprocess.Popen(RUN, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("== 3."):  # the sandbox is running, the first promotion starts
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the tour finished before the signal arrived")
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in out + err
    assert os.listdir(tmp_path / "tmp") == []


def old_git(tmp_path: Path, version: str) -> dict[str, str]:
    """A fresh environment whose ``git`` says ``version`` and, like git < 2.38, knows no
    ``merge-tree --write-tree``; everything else is the real git."""
    real = shutil.which("git")
    assert real
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/sh\n[ "$1" = --version ] && echo "git version {version}" && exit 0\n'
        'for a in "$@"; do [ "$a" = --write-tree ] && echo "usage: old git" >&2 && exit 129\n'
        f'done\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    env = fresh_env(tmp_path)
    env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script stands in for git")
def test_git_without_merge_tree_write_tree_runs_the_whole_tour(tmp_path: Path) -> None:
    """Ubuntu 22.04's git 2.34: the sandbox merges without ``merge-tree --write-tree``."""
    env = old_git(tmp_path, "2.34.1")
    proc = subprocess.run(RUN, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pull request #1 updated" in section(proc.stdout, 5)
    assert "Promote ghcr.io/acme/web to 1.5.1 in staging (#1)" in section(proc.stdout, 6)
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script stands in for git")
def test_too_old_git_is_explained_after_part_one(tmp_path: Path) -> None:
    env = old_git(tmp_path, "2.30.2")
    proc = subprocess.run(RUN, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "7 changes in 5 files" in proc.stdout and "== 2." not in proc.stdout
    assert "needs git 2.31 or newer" in proc.stderr and "2.30.2" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert os.listdir(tmp_path / "tmp") == []
