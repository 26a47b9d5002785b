"""The sandbox's git smart HTTP: real git clients against real bare repositories."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory, make_git_env, run_git

from promoter.sandbox.server import Sandbox, presented_token
from promoter.sandbox.types import ApiRequest, ApiResponse


def _auth_env(token: str, user: str = "x-access-token") -> dict[str, str]:
    header = "Authorization: Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    return make_git_env(
        {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": header,
        }
    )


def test_clone_and_push_with_token(repos: RepoFactory, sandbox: Sandbox, tmp_path: Path) -> None:
    repos.create("acme/manifests", {"a.txt": "one\n"})
    env = _auth_env(SANDBOX_TOKEN)
    work = tmp_path / "work"
    run_git("clone", "-q", sandbox.repo_url("acme/manifests"), str(work), env=env)
    assert (work / "a.txt").read_text() == "one\n"
    (work / "a.txt").write_text("two\n")
    run_git("commit", "-qam", "two", cwd=work, env=env)
    run_git("push", "-q", "origin", "main", cwd=work, env=env)
    assert repos.read("acme/manifests", "a.txt") == "two\n"
    assert any(r.path.endswith("git-receive-pack") and r.status == 200 for r in sandbox.records)


def test_nested_groups_and_url_without_suffix(
    repos: RepoFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    repos.create("group/sub/project", {"x": "1\n"})
    env = _auth_env(SANDBOX_TOKEN, user="oauth2")
    run_git("clone", "-q", sandbox.repo_url("group/sub/project"), str(tmp_path / "a"), env=env)
    url = sandbox.base_url + "/group/sub/project"
    run_git("clone", "-q", url, str(tmp_path / "b"), env=env)
    assert (tmp_path / "b" / "x").read_text() == "1\n"


def test_partial_sparse_clone_and_large_chunked_push(
    repos: RepoFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    files = {f"dir{i % 7}/f{i}.txt": f"{i}\n" for i in range(50)}
    repos.create("acme/big", files)
    env = _auth_env(SANDBOX_TOKEN)
    work = tmp_path / "w"
    run_git(
        "clone",
        "-q",
        "--filter=blob:none",
        "--depth=1",
        "--sparse",
        "--single-branch",
        sandbox.repo_url("acme/big"),
        str(work),
        env=env,
    )
    run_git("sparse-checkout", "set", "dir3", cwd=work, env=env)
    assert (work / "dir3" / "f3.txt").read_text() == "3\n"
    assert not (work / "dir2").exists()
    # > http.postBuffer (1 MiB) forces a chunked request body.
    (work / "dir3" / "blob.bin").write_bytes(bytes(range(256)) * 12000 + b"x" * 7)
    import os

    (work / "dir3" / "random.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    run_git("add", "dir3", cwd=work, env=env)
    run_git("commit", "-qm", "big", cwd=work, env=env)
    run_git("push", "-q", "origin", "main", cwd=work, env=env)
    assert run_git(
        "cat-file", "-s", "main:dir3/random.bin", cwd=repos.path("acme/big")
    ).strip() == str(3 * 1024 * 1024)


def test_wrong_and_missing_token_are_refused(
    repos: RepoFactory, sandbox: Sandbox, tmp_path: Path
) -> None:
    repos.create("acme/m", {"a": "1\n"})
    with pytest.raises(AssertionError, match=r"Authentication failed|could not read Username"):
        run_git("clone", "-q", sandbox.repo_url("acme/m"), str(tmp_path / "n"))
    # With a wrong header git gets a 401 again and (prompts disabled) gives up.
    with pytest.raises(AssertionError, match=r"Authentication failed|could not read Username"):
        run_git(
            "clone", "-q", sandbox.repo_url("acme/m"), str(tmp_path / "w"), env=_auth_env("wrong")
        )
    assert [r.status for r in sandbox.records if r.git] == [401, 401]


def test_auth_off_when_no_tokens(repos: RepoFactory, tmp_path: Path) -> None:
    repos.create("o/r", {"a": "1\n"})
    with Sandbox(repos.root) as server:
        work = tmp_path / "w"
        run_git("clone", "-q", server.repo_url("o/r"), str(work))
        (work / "a").write_text("2\n")
        run_git("commit", "-qam", "2", cwd=work)
        run_git("push", "-q", "origin", "main", cwd=work)
    assert repos.read("o/r", "a") == "2\n"


def test_missing_repo_is_404(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"not found|404"):
        run_git(
            "clone",
            "-q",
            sandbox.repo_url("no/such"),
            str(tmp_path / "x"),
            env=_auth_env(SANDBOX_TOKEN),
        )


def test_api_handler_gets_parsed_request(repos: RepoFactory) -> None:
    seen: list[ApiRequest] = []

    def handler(req: ApiRequest) -> ApiResponse | None:
        if req.path.endswith("/skip"):
            return None
        seen.append(req)
        if req.path.endswith("/drop"):
            return ApiResponse(0, drop_connection=True)
        return ApiResponse(
            201, json.dumps({"ok": True}).encode(), [("Content-Type", "application/json")]
        )

    with Sandbox(repos.root, tokens=["t1"]) as server:
        server.add_handler("/api/v3", handler)
        req = urllib.request.Request(
            server.base_url + "/api/v3/repos/o/r/pulls?state=open&head=o:b",
            data=b'{"a": 1}',
            method="POST",
            headers={"Authorization": "token t1", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 201
            assert json.loads(resp.read()) == {"ok": True}
        got = seen[-1]
        assert got.method == "POST"
        assert got.path == "/api/v3/repos/o/r/pulls"
        assert got.query == {"state": ["open"], "head": ["o:b"]}
        assert got.body == b'{"a": 1}'
        assert got.token == "t1"
        assert got.base_url == server.base_url
        assert got.headers["content-type"] == "application/json"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.base_url + "/api/v3/skip")
        assert err.value.code == 404
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(server.base_url + "/api/v3/drop")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc"}, (None, "abc")),
        ({"authorization": "token abc"}, (None, "abc")),
        ({"authorization": "Basic " + base64.b64encode(b"oauth2:abc").decode()}, ("oauth2", "abc")),
        ({"authorization": "Basic " + base64.b64encode(b"abc:").decode()}, ("abc", "abc")),
        ({"private-token": "abc"}, (None, "abc")),
        ({"job-token": "abc"}, (None, "abc")),
        ({}, (None, None)),
        ({"authorization": "Basic %%%"}, (None, None)),
    ],
)
def test_presented_token(headers: dict[str, str], expected: tuple[str | None, str | None]) -> None:
    assert presented_token(headers) == expected
