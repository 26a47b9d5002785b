"""The GitHub forge (PyGithub) against the sandbox over real HTTP, plus render/retry/detect."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory
from github_contract import Contract, validate_all

from promoter.forges import detect, make_forge
from promoter.forges.base import PullRequestSpec
from promoter.forges.github import AppCredentials, GitHubForge, api_url_for, parse_repo_url
from promoter.forges.none import compare_url
from promoter.forges.render import (
    ChangeRow,
    Provenance,
    RenderInput,
    escape_markdown,
    render_body,
    render_title,
)
from promoter.forges.retry import Decision, RetryPolicy, call_with_retry, retry_after_seconds
from promoter.sandbox import github_api
from promoter.sandbox.app import ForgeSandbox, build_sandbox

REPO = "acme/manifests"
HEAD = "promoter/production/web"


@pytest.fixture
def forge_sandbox(repos: RepoFactory) -> Iterator[ForgeSandbox]:
    repos.create(REPO, {"values.yaml": "tag: \"1.0\"\n"})
    repos.commit(REPO, {"values.yaml": "tag: \"1.1\"\n"}, branch=HEAD, parent=repos.rev(REPO))
    sink = github_api.start_recording()
    try:
        with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as sb:
            yield sb
            base = sb.base_url
    finally:
        github_api.stop_recording(sink)
    contract = Contract.load()
    if contract is not None:
        validate_all(contract, sink, base)


def no_sleep_policy() -> RetryPolicy:
    return RetryPolicy(sleep=lambda s: None, rng=random.Random(0))


def spec(sb: ForgeSandbox, **kw: Any) -> PullRequestSpec:
    base: dict[str, Any] = {"repo_url": sb.repo_url(REPO), "base": "main", "head": HEAD,
                            "title": "Promote web to 1.1", "body": "body"}
    base.update(kw)
    return PullRequestSpec(**base)


def forge(sb: ForgeSandbox) -> GitHubForge:
    return GitHubForge(sb.repo_url(REPO), token=SANDBOX_TOKEN, env={}, policy=no_sleep_policy())


def open_pulls(sb: ForgeSandbox) -> list[dict[str, Any]]:
    pulls = sb.state.read("github").get("pulls", {}).get(REPO, {}).values()
    return [p for p in pulls if p["state"] == "open"]


def test_create_then_rerun_updates_in_place(forge_sandbox: ForgeSandbox) -> None:
    sb = forge_sandbox
    first = forge(sb).open_or_update(spec(sb, labels=("promotion",), reviewers=("alice",),
                                          assignees=("bob",)))
    assert first.action == "created" and first.number == 1
    assert first.url == f"{sb.base_url}/{REPO}/pull/1"
    again = forge(sb).open_or_update(spec(sb, labels=("promotion",), reviewers=("alice",),
                                          assignees=("bob",)))
    assert again.action == "unchanged" and again.number == 1
    newer = forge(sb).open_or_update(spec(sb, title="Promote web to 1.2", body="new",
                                          labels=("promotion", "prod")))
    assert newer.action == "updated" and newer.number == 1
    [pr] = open_pulls(sb)
    assert pr["title"] == "Promote web to 1.2" and pr["body"] == "new"
    assert pr["labels"] == ["promotion", "prod"]
    assert pr["reviewers"] == ["alice"] and pr["assignees"] == ["bob"]


def test_draft_auto_merge_and_merge_now(forge_sandbox: ForgeSandbox, repos: RepoFactory) -> None:
    sb = forge_sandbox
    res = forge(sb).open_or_update(spec(sb, draft=True))
    assert open_pulls(sb)[0]["draft"] is True
    res = forge(sb).open_or_update(spec(sb, draft=False, auto_merge="squash"))
    [pr] = open_pulls(sb)
    assert pr["draft"] is False and pr["auto_merge"]["merge_method"] == "squash"
    assert res.auto_merge_enabled and res.action == "updated"
    res = forge(sb).open_or_update(spec(sb, auto_merge="squash", merge_now=True))
    assert res.action == "merged" and open_pulls(sb) == []
    assert repos.read(REPO, "values.yaml") == "tag: \"1.1\"\n"
    assert repos.log(REPO)[0] == "Promote web to 1.1 (#1)"


def test_close_if_empty_comments_and_closes(forge_sandbox: ForgeSandbox) -> None:
    sb = forge_sandbox
    forge(sb).open_or_update(spec(sb))
    res = forge(sb).close_if_empty(spec(sb), "Base already has this version.")
    assert res.action == "closed" and res.number == 1 and open_pulls(sb) == []
    comments = sb.state.read("github")["comments"][REPO]
    assert [c["body"] for c in comments] == ["Base already has this version."]
    assert forge(sb).close_if_empty(spec(sb), "x").action == "none"


def test_retried_create_adopts_existing_pr(forge_sandbox: ForgeSandbox) -> None:
    sb = forge_sandbox
    # the create reaches the backend, but its answer is lost (502 after the fact)
    sb.faults.add("status=502,method=POST,path=/pulls$,after,times=1")
    res = forge(sb).open_or_update(spec(sb))
    assert res.number == 1 and len(open_pulls(sb)) == 1
    assert any("adopted" in m for m in res.messages)


def test_rate_limit_and_5xx_are_retried(forge_sandbox: ForgeSandbox) -> None:
    sb = forge_sandbox
    sb.faults.add("status=429,retry_after=1,times=1")
    sb.faults.add("status=502,times=2")
    sb.faults.add("drop,times=1")
    sb.faults.add("status=403,rate_limit,times=1,message=API rate limit exceeded for user ID 1.")
    waits: list[float] = []
    policy = RetryPolicy(sleep=waits.append, rng=random.Random(0))
    f = GitHubForge(sb.repo_url(REPO), token=SANDBOX_TOKEN, env={}, policy=policy)
    assert f.open_or_update(spec(sb)).number == 1
    assert waits[0] == 1.0 and len(waits) == 5
    assert 1.0 <= waits[-1] <= 3.0  # the primary limit: until x-ratelimit-reset (+1 s)
    assert [i.status for i in sb.faults.log] == [429, 502, 502, None, 403]
    assert sb.faults.log[3].dropped
    assert len(open_pulls(sb)) == 1


def test_github_app_auth(forge_sandbox: ForgeSandbox) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    sb = forge_sandbox
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    sb.github.register_app(4242, pub)
    f = GitHubForge(sb.repo_url(REPO), app=AppCredentials("4242", pem), env={},
                    policy=no_sleep_policy())
    res = f.open_or_update(spec(sb))
    assert res.action == "created"
    assert open_pulls(sb)[0]["user"] == "promoter[bot]"
    assert sb.token_valid(f.installation_token())  # the token git pushes with
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad_pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
    bad = GitHubForge(sb.repo_url(REPO), app=AppCredentials("4242", bad_pem), env={},
                      policy=no_sleep_policy())
    from github import GithubException

    with pytest.raises(GithubException) as info:
        bad.installation_token()
    assert info.value.status == 401


def test_urls_and_detection() -> None:
    assert parse_repo_url("https://ghe.example.com:8443/acme/manifests.git") == (
        "https://ghe.example.com:8443", "acme", "manifests")
    assert parse_repo_url("git@github.com:acme/manifests.git")[1:] == ("acme", "manifests")
    assert api_url_for("https://github.com/acme/m.git", env={}) == "https://api.github.com"
    assert api_url_for("https://ghe.corp/acme/m.git", env={}) == "https://ghe.corp/api/v3"
    assert api_url_for("https://x/acme/m", "https://ghe.corp", env={}) == "https://ghe.corp/api/v3"
    assert api_url_for("https://x/a/m", env={"GITHUB_API_URL": "https://ghe.corp/api/v3"}) == (
        "https://ghe.corp/api/v3")
    assert detect("https://github.com/a/b.git", env={}) == "github"
    assert detect("https://gitlab.example.com/g/s/p.git", env={}) == "gitlab"
    assert detect("https://code.corp/a/b.git", env={"GITHUB_ACTIONS": "true",
                                                    "GITHUB_SERVER_URL": "https://code.corp"}) == (
        "github")
    assert detect("https://code.corp/a/b.git", "https://code.corp/api/v4", env={}) == "gitlab"
    assert detect("file:///tmp/x.git", env={}) == "none"
    assert compare_url("https://github.com/a/b.git", "main", "promoter/p/web") == (
        "https://github.com/a/b/compare/main...promoter%2Fp%2Fweb")
    none = make_forge("none", "https://code.corp/a/b.git", env={})
    res = none.open_or_update(PullRequestSpec("https://code.corp/a/b.git", "main", "x", "t", "b"))
    assert res.action == "none" and res.url == "https://code.corp/a/b/compare/main...x"


def test_escape_markdown_blocks_injection() -> None:
    evil = "1.0<img src=x onerror=alert(1)> @org/admins [x](http://e) **b** #1 `c`\n# h"
    out = escape_markdown(evil)
    assert "<" not in out and ">" not in out and "@" not in out
    assert re.search(r"(?<!\\)[`*\[\]()#_]", out.replace("&#64;", "")) is None and "\n" not in out
    data = RenderInput(app="web", environment="prod", image="ghcr.io/acme/web", new=evil,
                       branch=HEAD, base="main",
                       changes=[ChangeRow("env/prod/values.yaml", "1.0", evil, 3)],
                       validation_ok=True, validation_lines=["lint ok"],
                       provenance=Provenance.from_env({
                           "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
                           "GITHUB_REPOSITORY": "acme/web", "GITHUB_RUN_ID": "7",
                           "GITHUB_SHA": "abc", "GITHUB_ACTOR": "@evil"}))
    body = render_body(data)
    assert "<img" not in body and "@org" not in body and "@evil" not in body
    assert "| env/prod/values\\.yaml (line 3) | 1\\.0 |" in body.replace("\\/", "/")
    assert "[run](<https://github.com/acme/web/actions/runs/7>)" in body
    assert "<!-- promoter:branch=promoter/production/web -->" in body
    assert "\n" not in render_title(data) and render_title(data).startswith("Promote ghcr.io")
    with pytest.raises(ValueError, match="unknown field"):
        render_title(data, "{nope}")


def test_retry_helpers() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "110"},
                               now=100) == 11.0
    assert retry_after_seconds({"x-ratelimit-remaining": "5"}) is None
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("reset")
        return "ok"

    waits: list[float] = []
    policy = RetryPolicy(sleep=waits.append, rng=random.Random(1))
    assert call_with_retry(flaky, lambda e: Decision(None, "conn"), policy) == "ok"
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_auto_merge_refused_is_a_note_and_merge_settings_are_honoured(
    forge_sandbox: ForgeSandbox,
) -> None:
    from promoter.forges.github import ForgeError

    sb = forge_sandbox
    sb.github.set_repo_settings(REPO, allow_auto_merge=False, allow_squash_merge=False)
    res = forge(sb).open_or_update(spec(sb, auto_merge="squash"))
    assert res.number == 1 and not res.auto_merge_enabled
    assert any("Auto merge is not allowed" in m for m in res.messages)
    with pytest.raises(ForgeError, match="Squash merges are not allowed"):
        forge(sb).open_or_update(spec(sb, auto_merge="squash", merge_now=True))
    sb.github.set_repo_settings(REPO, delete_branch_on_merge=True)
    assert forge(sb).open_or_update(spec(sb, auto_merge="rebase", merge_now=True)).action == (
        "merged")
    assert open_pulls(sb) == []
    from promoter.sandbox import bare

    assert bare.resolve(sb.root / f"{REPO}.git", f"refs/heads/{HEAD}") is None


def test_pr_text_is_left_to_the_run_that_moved_the_branch(
    forge_sandbox: ForgeSandbox, repos: RepoFactory
) -> None:
    sb = forge_sandbox
    first = repos.rev(REPO, HEAD)
    forge(sb).open_or_update(spec(sb, head_sha=first))
    newer = repos.commit(REPO, {"values.yaml": "tag: \"1.3\"\n"}, branch=HEAD)
    forge(sb).open_or_update(spec(sb, title="Promote web to 1.3", head_sha=newer))
    # the slower run (which pushed `first`) finishes last: it must not revert the title
    res = forge(sb).open_or_update(spec(sb, title="Promote web to 1.1", head_sha=first))
    assert res.action == "unchanged" and any("moved on" in m for m in res.messages)
    assert open_pulls(sb)[0]["title"] == "Promote web to 1.3"
