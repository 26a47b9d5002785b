"""The checkout fetches only what a promotion needs: partial, shallow, sparse, one branch."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory, run_git

from promoter.credentials import Credential
from promoter.git import GitError, checkout
from promoter.sandbox.server import Sandbox

FILES = {f"envs/{env}/app{i}/deploy.yaml": f"image: app{i}:{env}\n"
         for env in ("dev", "prod") for i in range(20)}


def test_checkout_is_partial_shallow_sparse_single_branch(
    repos: RepoFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    repos.create("o/r", FILES)
    for n in range(3):
        repos.commit("o/r", {"envs/dev/app1/deploy.yaml": f"image: app1:{n}\n"}, f"c{n}")
    repos.commit("o/r", {"x": "1\n"}, "other branch", branch="feature")
    cred = Credential("x-access-token", SANDBOX_TOKEN, "test")
    ws = checkout(sandbox.repo_url("o/r"), tmp_path / "co", base="main",
                  paths=["envs/prod/app3"], credential=cred, lookup=["feature", "absent"])
    assert ws.features == ("filter", "depth", "sparse")
    co = tmp_path / "co"
    present = sorted(str(p.relative_to(co)) for p in co.rglob("*") if ".git" not in p.parts
                     and p.is_file())
    assert present == ["envs/prod/app3/deploy.yaml"]
    assert run_git("rev-list", "--count", "HEAD", cwd=co).strip() == "1"  # shallow
    missing = run_git("rev-list", "--objects", "--all", "--missing=print", cwd=co)
    assert sum(1 for line in missing.splitlines() if line.startswith("?")) >= 39  # blobs
    refs = run_git("for-each-ref", "--format=%(refname)", cwd=co).split()
    assert "refs/remotes/origin/feature" not in refs  # single branch
    assert ws.prefetched == {"feature": repos.rev("o/r", "feature"), "absent": None}
    assert ws.remote_ref("feature") == repos.rev("o/r", "feature")
    config = (co / ".git" / "config").read_text()
    assert SANDBOX_TOKEN not in config and "extraheader" not in config.lower()


def test_checkout_errors_are_immediate_and_named(
    repos: RepoFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    repos.create("o/r", FILES)
    with pytest.raises(GitError) as err:
        checkout(sandbox.repo_url("o/r"), tmp_path / "a", base="main", paths=["envs"])
    assert err.value.kind == "auth"
    assert "git clone" in str(err.value)
    cred = Credential("x-access-token", SANDBOX_TOKEN, "test")
    with pytest.raises(GitError) as err:
        checkout(sandbox.repo_url("o/missing"), tmp_path / "b", base="main", paths=["envs"],
                 credential=cred)
    assert err.value.kind == "not-found"
    with pytest.raises(GitError) as err:
        checkout(sandbox.repo_url("o/r"), tmp_path / "c", base="dev", paths=["envs"],
                 credential=cred)
    assert err.value.kind == "missing-branch"
    assert "the base branch 'dev' does not exist" in str(err.value)


def test_checkout_refuses_a_non_empty_directory(repos: RepoFactory, tmp_path: Path) -> None:
    repos.create("o/r", FILES)
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "precious.txt").write_text("do not delete\n")
    with pytest.raises(ValueError, match="not an empty directory"):
        checkout(repos.file_url("o/r"), keep, base="main", paths=["envs"])
    assert (keep / "precious.txt").read_text() == "do not delete\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    ws = checkout(repos.file_url("o/r"), empty, base="main", paths=["envs/dev"])
    assert (empty / "envs" / "dev" / "app0" / "deploy.yaml").exists()
    assert ws.base == "main"


def test_dumb_http_server_falls_back_to_a_full_clone(repos: RepoFactory, tmp_path: Path) -> None:
    """A server that refuses shallow and partial fetches (dumb HTTP) still works, step by step."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    bare = repos.create("o/r", FILES)
    run_git("update-server-info", cwd=bare)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(repos.root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/o/r.git"
        ws = checkout(url, tmp_path / "co", base="main", paths=["envs/prod/app1"])
    finally:
        server.shutdown()
        server.server_close()
    assert "depth" not in ws.features and "filter" not in ws.features
    assert ws.notes  # the fallbacks are reported
    assert (tmp_path / "co" / "envs" / "prod" / "app1" / "deploy.yaml").read_text() == (
        "image: app1:prod\n"
    )
