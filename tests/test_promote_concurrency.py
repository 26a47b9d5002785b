"""Concurrent promotions into one repository: git is the lock, nothing is lost.

Real processes (the ``promoter`` CLI) racing over smart HTTP with auth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory, make_git_env
from test_promote_e2e import deployment

from promoter.sandbox.server import Sandbox

REPO = "acme/fleet"
CLI = [sys.executable, "-c", "from promoter.cli import main; main()"]


def _launch(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    env = make_git_env({"PROMOTER_TOKEN": SANDBOX_TOKEN})
    return subprocess.Popen(
        [*CLI, "promote", *args, "--output", "json"],
        env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(procs: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stdout + stderr
        out.append(json.loads(stdout))
    return out


@pytest.mark.slow
def test_twelve_pushers_twelve_apps_none_lost(repos: RepoFactory, tmp_path: Path) -> None:
    apps = [f"app{i:02d}" for i in range(12)]
    files = {f"envs/dev/{a}/deployment.yaml": deployment(a, f"ghcr.io/acme/{a}:1.0.0")
             for a in apps}
    repos.create(REPO, files)
    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        url = server.repo_url(REPO)
        procs = [
            _launch(["--repo", url, "--image", f"ghcr.io/acme/{a}:2.0.0",
                     "--path", f"envs/dev/{a}", "--mode", "push"], tmp_path)
            for a in apps
        ]
        results = _finish(procs)
    assert {r["status"] for r in results} == {"changed"}
    for a in apps:
        text = repos.read(REPO, f"envs/dev/{a}/deployment.yaml")
        assert f'"ghcr.io/acme/{a}:2.0.0"' in text, a
    subjects = repos.log(REPO)
    assert len(subjects) == 13  # initial + one commit per app, none lost or doubled
    attempts = sorted(int(r["attempts"]) for r in results)  # type: ignore[call-overload]
    print("attempts per process:", attempts)
    # The history is linear: every push was a fast-forward.
    merges = repos.log(REPO, "main", "%p")
    assert all(len(p.split()) <= 1 for p in merges)


@pytest.mark.slow
def test_four_pr_runs_same_app_branch_ends_at_highest(repos: RepoFactory, tmp_path: Path) -> None:
    manifest = deployment("web", "ghcr.io/acme/web:1.0.0")
    repos.create(REPO, {"envs/prod/web/deployment.yaml": manifest})
    versions = ["1.0.3", "1.0.10", "1.0.2", "1.0.9"]
    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        url = server.repo_url(REPO)
        procs = [
            _launch(["--repo", url, "--image", f"ghcr.io/acme/web:{v}", "--path", "envs/prod/web",
                     "--env", "production", "--app", "web"], tmp_path)
            for v in versions
        ]
        results = _finish(procs)
    branch = "promoter/main/production/web"
    assert {r["branch"] for r in results} == {branch}
    assert '"ghcr.io/acme/web:1.0.10"' in repos.read(REPO, "envs/prod/web/deployment.yaml", branch)
    # One promotion commit on top of base, whatever order the pushes landed in.
    assert repos.log(REPO, f"main..{branch}") == [
        "promote ghcr.io/acme/web to 1.0.10 in production"
    ]
    assert any(r["status"] == "changed" for r in results)


@pytest.mark.slow
def test_four_pushers_same_file_different_images(repos: RepoFactory, tmp_path: Path) -> None:
    """Different keys of one file never conflict: each retry re-applies on the new tip."""
    names = ["web", "api", "worker", "cron"]
    containers = "".join(
        f"        - name: {n}\n          image: ghcr.io/acme/{n}:1.0.0\n" for n in names
    )
    manifest = deployment("shop", "ghcr.io/acme/shop:1.0.0").replace(
        "      containers:\n", "      containers:\n" + containers
    )
    path = "envs/prod/shop/deployment.yaml"
    repos.create(REPO, {path: manifest})
    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        url = server.repo_url(REPO)
        procs = [
            _launch(["--repo", url, "--image", f"ghcr.io/acme/{n}:2.0.0", "--path", path,
                     "--mode", "push"], tmp_path)
            for n in names
        ]
        results = _finish(procs)
    assert {r["status"] for r in results} == {"changed"}
    text = repos.read(REPO, path)
    assert text == manifest.replace(":1.0.0", ":2.0.0").replace("shop:2.0.0", "shop:1.0.0")
    assert len(repos.log(REPO)) == 5
