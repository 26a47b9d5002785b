"""Shared fixtures: real bare git repositories and a running sandbox server.

Reuse them from any test module (pytest finds this file automatically):

* ``git_env`` -- an environment for running ``git`` in tests that ignores the
  machine's system/global git config and has a fixed identity.
* ``run_git(*args, cwd=...)`` -- ``git`` with that environment; returns stdout (str).
* ``repos`` -- a :class:`RepoFactory` rooted in ``tmp_path / "srv"``:
  ``repos.create("acme/manifests", {"path/file.yaml": "..."})`` makes the bare
  repository ``srv/acme/manifests.git`` with one commit on ``main`` holding those
  files; ``repos.commit(...)`` adds a commit to a branch; ``repos.read(...)``
  reads a file at a ref; ``repos.file_url(...)`` is its ``file://`` URL.
* (autouse) ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY`` and ``PROMOTER_DOTENV`` are
  removed from the environment of every test (CI outputs of promoter/report.py).
* ``sandbox`` -- a running :class:`promoter.sandbox.server.Sandbox` serving
  ``repos.root`` with auth on (token ``SANDBOX_TOKEN``); ``sandbox.repo_url("acme/manifests")``.

Keep additions here additive and documented: several test files depend on them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from promoter.sandbox.server import Sandbox

SANDBOX_TOKEN = "sandbox-token-0123456789"


def make_git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PROMOTER_"))}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
        }
    )
    env.update(extra or {})
    return env


def run_git(*args: str, cwd: Path | str | None = None, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else make_git_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


class RepoFactory:
    """Bare repositories under ``root`` (``root/<path>.git``), built with the real git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / f"{name.strip('/').removesuffix('.git')}.git"

    def file_url(self, name: str) -> str:
        return self.path(name).as_uri()

    def create(self, name: str, files: Mapping[str, str | bytes], branch: str = "main") -> Path:
        bare = self.path(name)
        bare.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "-q", "--bare", "-b", branch, str(bare))
        self.commit(name, files, message="initial", branch=branch)
        return bare

    def commit(
        self,
        name: str,
        files: Mapping[str, str | bytes | None],
        message: str = "change",
        branch: str = "main",
        parent: str | None = None,
    ) -> str:
        """Commit ``files`` (None deletes) on top of ``parent`` (default: the branch tip).

        Works straight on the bare repository through a temporary index, so no
        clone is needed. Returns the new commit id and moves ``branch`` to it.
        """
        bare = self.path(name)
        with tempfile.TemporaryDirectory() as tmp:
            env = make_git_env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
            base = parent
            if base is None:
                probe = subprocess.run(
                    ["git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}"],
                    cwd=bare,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                base = probe.stdout.strip() or None
            if base:
                run_git("read-tree", base, cwd=bare, env=env)
            for rel, content in files.items():
                if content is None:
                    run_git("rm", "-q", "--cached", "--ignore-unmatch", rel, cwd=bare, env=env)
                    continue
                data = content.encode() if isinstance(content, str) else content
                blob = (
                    subprocess.run(
                        ["git", "hash-object", "-w", "--stdin"],
                        cwd=bare,
                        env=env,
                        input=data,
                        capture_output=True,
                        check=True,
                    )
                    .stdout.decode()
                    .strip()
                )
                run_git(
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"100644,{blob},{rel}",
                    cwd=bare,
                    env=env,
                )
            tree = run_git("write-tree", cwd=bare, env=env).strip()
            args = ["commit-tree", tree, "-m", message]
            if base:
                args += ["-p", base]
            sha = run_git(*args, cwd=bare, env=env).strip()
            run_git("update-ref", f"refs/heads/{branch}", sha, cwd=bare, env=env)
            return sha

    def read(self, name: str, path: str, ref: str = "main") -> str:
        return run_git("show", f"{ref}:{path}", cwd=self.path(name))

    def rev(self, name: str, ref: str = "main") -> str:
        return run_git("rev-parse", "--verify", ref, cwd=self.path(name)).strip()

    def log(self, name: str, ref: str = "main", fmt: str = "%s") -> list[str]:
        out = run_git("log", f"--format={fmt}", ref, cwd=self.path(name))
        return out.splitlines()

    def branches(self, name: str) -> list[str]:
        out = run_git(
            "for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=self.path(name)
        )
        return out.split()


@pytest.fixture(autouse=True)
def _no_ci_output_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the suite itself runs in GitHub Actions/GitLab CI, promotions made by tests
    must not append to the real job's step outputs, summary or dotenv report."""
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "PROMOTER_DOTENV"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_env() -> dict[str, str]:
    return make_git_env()


@pytest.fixture
def repos(tmp_path: Path) -> RepoFactory:
    root = tmp_path / "srv"
    root.mkdir()
    return RepoFactory(root)


@pytest.fixture
def sandbox(repos: RepoFactory) -> Iterator[Sandbox]:
    from promoter.sandbox.server import Sandbox

    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        yield server
