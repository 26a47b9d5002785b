"""Secret scan: a canary token used through whole promotions never shows up anywhere."""

from __future__ import annotations

import base64
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from conftest import RepoFactory, make_git_env, run_git
from test_promote_e2e import FILES

from promoter.sandbox.server import Sandbox

REPO = "acme/manifests"
CANARY = "canary-7f3a9c1e-token-DO-NOT-LEAK"
CLI = [sys.executable, "-c", "from promoter.cli import main; main()"]


def _spellings(token: str, users: tuple[str, ...]) -> list[bytes]:
    out = [token.encode(), urllib.parse.quote(token, safe="").encode()]
    out += [base64.b64encode(f"{u}:{token}".encode()) for u in users]
    return out


def _cli(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "promote", *args], env=make_git_env(env_extra), cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_canary_token_never_leaks(repos: RepoFactory, tmp_path: Path) -> None:
    repos.create(REPO, FILES)
    needles = _spellings(CANARY, ("x-access-token", "oauth2", "gitlab-ci-token"))
    seen: list[tuple[str, bytes]] = []
    with Sandbox(repos.root, tokens=[CANARY]) as server:
        url = server.repo_url(REPO)
        common = ["--repo", url, "--path", "envs/prod/web"]
        runs = [
            # pr mode, JSON, kept checkout
            (["--image", "ghcr.io/acme/web:1.1.0", "--output", "json",
              "--workdir", str(tmp_path / "co1")], {"PROMOTER_TOKEN": CANARY}),
            # rerun (no-op), text
            (["--image", "ghcr.io/acme/web:1.1.0", "--workdir", str(tmp_path / "co2")],
             {"GITHUB_TOKEN": CANARY}),
            # push mode via --token-env, dry run via --token-file
            (["--image", "ghcr.io/acme/web:1.2.0", "--mode", "push", "--token-env", "MY_TOK",
              "--workdir", str(tmp_path / "co3")], {"MY_TOK": CANARY}),
            (["--image", "ghcr.io/acme/web:1.3.0", "--dry-run", "--output", "json",
              "--token-file", str(tmp_path / "tokfile")], {}),
            # a CI job token, and a token embedded in the URL
            (["--image", "ghcr.io/acme/web:1.4.0", "--output", "json"], {"CI_JOB_TOKEN": CANARY}),
        ]
        (tmp_path / "tokfile").write_text(CANARY + "\n")
        for args, env in runs:
            proc = _cli([*common, *args], env, tmp_path)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            seen.append(("stdout", proc.stdout.encode()))
            seen.append(("stderr", proc.stderr.encode()))
        in_url = url.replace("http://", f"http://x-access-token:{CANARY}@")
        proc = _cli(["--repo", in_url, "--path", "envs/prod/web", "--image",
                     "ghcr.io/acme/web:1.5.0", "--workdir", str(tmp_path / "co4")], {}, tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen += [("stdout", proc.stdout.encode()), ("stderr", proc.stderr.encode())]
        # A failure while the canary is in use: the error output is clean too.
        proc = _cli(["--repo", url, "--path", "envs/prod/web", "--image",
                     "ghcr.io/acme/nope:1.0.0", "--output", "json"], {"PROMOTER_TOKEN": CANARY},
                    tmp_path)
        assert proc.returncode == 1
        seen += [("stdout", proc.stdout.encode()), ("stderr", proc.stderr.encode())]
    with Sandbox(repos.root, tokens=["another-token"]) as server:
        proc = _cli(["--repo", server.repo_url(REPO), "--path", "envs/prod", "--image",
                     "ghcr.io/acme/web:9.0.0"], {"PROMOTER_TOKEN": CANARY}, tmp_path)
        assert proc.returncode == 1 and "authentication failed" in proc.stderr
        seen += [("stdout", proc.stdout.encode()), ("stderr", proc.stderr.encode())]

    for co in ("co1", "co2", "co3", "co4"):
        git_dir = tmp_path / co / ".git"
        assert git_dir.is_dir()
        for f in git_dir.rglob("*"):
            if f.is_file():
                seen.append((str(f), f.read_bytes()))
        config = (git_dir / "config").read_text()
        assert "extraheader" not in config.lower() and "@" not in config
    # Everything the server stored: commit messages and every file of the bare repository.
    messages = run_git("log", "--all", "--format=%B", cwd=repos.path(REPO))
    assert "Promoted-By: promoter" in messages
    seen.append(("commit messages", messages.encode()))
    for f in repos.root.rglob("*"):
        if f.is_file():
            seen.append((str(f), f.read_bytes()))
    leaks = [where for where, data in seen for n in needles if n in data]
    assert leaks == []


def test_canary_never_in_any_process_argv(repos: RepoFactory, tmp_path: Path) -> None:
    """While a promotion runs, no process it starts has the token in its command line."""
    import os
    import threading

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc")
    needles = _spellings(CANARY, ("x-access-token",))
    repos.create(REPO, FILES)
    found: list[str] = []
    scans = 0
    done = threading.Event()

    def scan() -> None:
        # Only this test's process tree (the promoter CLI, its git children, the
        # sandbox's git http-backend): unrelated processes on a shared machine may
        # legitimately carry the string (a developer grepping for it, say).
        nonlocal scans
        me = str(os.getpid())
        while not done.is_set():
            parents: dict[str, str] = {}
            cmds: dict[str, bytes] = {}
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    cmds[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                parents[pid] = stat.rsplit(")", 1)[1].split()[1]
            for pid, cmd in cmds.items():
                ancestor, hops = pid, 0
                while ancestor in parents and ancestor != me and hops < 64:
                    ancestor, hops = parents[ancestor], hops + 1
                if ancestor == me and any(n in cmd for n in needles):
                    found.append(cmd.decode(errors="replace"))
            scans += 1

    with Sandbox(repos.root, tokens=[CANARY]) as server:
        watcher = threading.Thread(target=scan, daemon=True)
        watcher.start()
        try:
            for version, mode in (("1.1.0", "pr"), ("1.2.0", "pr"), ("1.3.0", "push")):
                proc = _cli(["--repo", server.repo_url(REPO), "--path", "envs/prod/web",
                             "--image", f"ghcr.io/acme/web:{version}", "--mode", mode],
                            {"PROMOTER_TOKEN": CANARY}, tmp_path)
                assert proc.returncode == 0, proc.stdout + proc.stderr
        finally:
            done.set()
            watcher.join()
    assert scans > 3
    assert found == []
