"""Contract test: every GitHub response the sandbox produces is valid against GitHub's OpenAPI.

The sandbox records each response (operation id, status, body) while this module
drives it over real HTTP — with PyGithub through our forge, and with raw
requests for the error cases — and each one is validated against the response
schema GitHub publishes for that operation and status
(``shared/contracts/github/openapi-subset.json``; OpenAPI 3.0 ``nullable``
turned into JSON Schema). Error bodies are also compared with the recorded
real ones in ``shared/contracts/github/ERRORS.md``.
"""

from __future__ import annotations

import ast
import json
import random
from typing import Any

import pytest
import requests
from conftest import SANDBOX_TOKEN, RepoFactory
from github_contract import CONTRACTS, Contract, validate_all

from promoter.forges.base import PullRequestSpec
from promoter.forges.github import GitHubForge
from promoter.forges.retry import RetryPolicy
from promoter.sandbox import github_api
from promoter.sandbox.app import build_sandbox

REPO = "acme/manifests"
HEAD = "promoter/production/web"


@pytest.fixture(scope="module")
def contract() -> Contract:
    loaded = Contract.load()
    if loaded is None:
        pytest.skip(f"contract data not found under {CONTRACTS}")
    return loaded


def drive(sb_url: str, repos: RepoFactory, sb: Any) -> dict[str, tuple[int, Any]]:
    """Exercise every endpoint; returns the named error cases for exact comparison."""
    api = f"{sb_url}/api/v3"
    s = requests.Session()
    s.headers["Authorization"] = f"token {SANDBOX_TOKEN}"
    r = f"{api}/repos/{REPO}"
    policy = RetryPolicy(sleep=lambda x: None, rng=random.Random(0))
    forge = GitHubForge(f"{sb_url}/{REPO}.git", token=SANDBOX_TOKEN, env={}, policy=policy)
    spec = PullRequestSpec(repo_url=f"{sb_url}/{REPO}.git", base="main", head=HEAD,
                           title="Promote web", body="body", labels=("promotion",),
                           reviewers=("alice",), assignees=("bob",), draft=True,
                           auto_merge="squash")
    forge.open_or_update(spec)
    forge.open_or_update(PullRequestSpec(**{**_spec_dict(spec), "draft": False,
                                            "title": "Promote web 2"}))
    for path in ("", "/user", "/rate_limit"):
        s.get(f"{api}{path}")
    s.get(r)
    s.get(f"{r}/branches/main")
    s.get(f"{r}/branches/nope")
    s.get(f"{r}/pulls", params={"state": "all", "per_page": "1"})
    s.get(f"{r}/pulls/1")
    s.patch(f"{r}/pulls/1", json={"body": "edited"})
    s.get(f"{r}/pulls/1/commits")
    s.get(f"{r}/issues/1/labels")
    s.put(f"{r}/issues/1/labels", json={"labels": ["promotion", "prod"]})
    s.delete(f"{r}/issues/1/labels/prod")
    s.get(f"{r}/pulls/1/requested_reviewers")
    s.delete(f"{r}/pulls/1/requested_reviewers", json={"reviewers": ["alice"]})
    s.delete(f"{r}/issues/1/assignees", json={"assignees": ["bob"]})
    s.post(f"{r}/issues/1/comments", json={"body": "hello"})
    s.get(f"{r}/issues/1/comments")
    s.get(f"{r}/pulls/1/merge")
    cases: dict[str, tuple[int, Any]] = {}

    def case(name: str, resp: requests.Response) -> None:
        cases[name] = (resp.status_code, resp.json() if resp.content else None)

    case("already_exists", s.post(f"{r}/pulls", json={"title": "t", "head": HEAD, "base": "main"}))
    repos.commit(REPO, {}, branch="empty", parent=repos.rev(REPO))
    s.patch(f"{api}/repos/{REPO}/pulls/1", json={})  # no-op edit
    _reset(repos, "empty")
    case("no_commits", s.post(f"{r}/pulls", json={"title": "t", "head": "empty", "base": "main"}))
    case("head_invalid", s.post(f"{r}/pulls", json={"title": "t", "head": "nope",
                                                       "base": "main"}))
    case("head_changed", s.put(f"{r}/pulls/1/merge", json={"sha": "0" * 40}))
    # a conflicting PR: base gets the same new file with other content
    repos.commit(REPO, {"other.yaml": "a: 1\n"}, branch="conflict", parent=repos.rev(REPO))
    s.post(f"{r}/pulls", json={"title": "c", "head": "conflict", "base": "main"})
    repos.commit(REPO, {"other.yaml": "a: 2\n"}, branch="other", parent=repos.rev(REPO))
    s.post(f"{r}/pulls", json={"title": "o", "head": "other", "base": "main"})
    assert s.put(f"{r}/pulls/3/merge", json={"merge_method": "merge"}).status_code == 200
    case("not_mergeable", s.put(f"{r}/pulls/2/merge", json={}))
    head_sha = s.get(f"{r}/pulls/1").json()["head"]["sha"]
    case("merged", s.put(f"{r}/pulls/1/merge", json={"sha": head_sha, "merge_method": "squash"}))
    s.get(f"{r}/pulls/1/merge")
    s.patch(f"{r}/pulls/2", json={"state": "closed"})
    case("bad_credentials", requests.get(r, headers={"Authorization": "token nope"}))
    case("requires_auth", requests.get(r))
    case("repo_not_found", s.get(f"{api}/repos/acme/missing"))
    return cases


def _spec_dict(spec: PullRequestSpec) -> dict[str, Any]:
    return {f: getattr(spec, f) for f in spec.__dataclass_fields__}


def _reset(repos: RepoFactory, branch: str) -> None:
    from conftest import run_git

    run_git("update-ref", f"refs/heads/{branch}", repos.rev(REPO), cwd=repos.path(REPO))


def test_every_response_matches_the_openapi_contract(
    contract: Contract, repos: RepoFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    repos.create(REPO, {"values.yaml": "tag: \"1.0\"\n"})
    repos.commit(REPO, {"values.yaml": "tag: \"1.1\"\n"}, branch=HEAD, parent=repos.rev(REPO))
    sink = github_api.start_recording()
    try:
        with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as sb:
            cases = drive(sb.base_url, repos, sb)
            base = sb.base_url
    finally:
        github_api.stop_recording(sink)
    validated, operations = validate_all(contract, sink, base)
    assert validated > 0
    with capsys.disabled():
        print(f"\n[contract] GitHub responses validated against the OpenAPI subset: {validated} "
              f"({len(operations)} operations)")
    assert len(operations) >= 20

    errors_md = (CONTRACTS / "ERRORS.md").read_text(encoding="utf-8")
    status, body = cases["already_exists"]
    expected = json.loads(_block_after(errors_md, "## 1. 422"))
    expected["errors"][0]["message"] = f"A pull request already exists for acme:{HEAD}."
    assert (status, body) == (422, expected)
    status, body = cases["no_commits"]
    expected = json.loads(_block_after(errors_md, "## 2. 422"))
    expected["errors"][0]["message"] = "No commits between main empty"
    assert (status, body) == (422, expected)
    assert cases["head_invalid"] == (422, {
        "message": "Validation Failed", "status": "422",
        "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"})
    assert cases["head_changed"] == (409, json.loads(_block_after(errors_md, "## 3. 409")))
    assert cases["not_mergeable"] == (405, json.loads(_block_after(errors_md, "## 4. 405")))
    assert cases["bad_credentials"] == (401, json.loads(_block_after(errors_md, "## 6. 401")))
    assert cases["repo_not_found"] == (404, json.loads(_block_after(errors_md, "## 7. 404")))
    assert cases["requires_auth"][0] == 401
    assert cases["requires_auth"][1]["message"] == "Requires authentication"
    assert cases["merged"][0] == 200 and cases["merged"][1]["merged"] is True


def _block_after(text: str, heading: str) -> str:
    start = text.index(heading)
    block = text.index("```json", start) + len("```json")
    return text[block:text.index("```", block)].strip()




def _replay(name: str) -> list[list[str]]:
    """PyGithub ReplayData: 11 lines per exchange (see shared/contracts/github/README.md)."""
    path = CONTRACTS / "replay" / name
    if not path.is_file():
        pytest.skip(f"replay data not found at {path}")
    lines = path.read_text(encoding="utf-8").split("\n")
    return [lines[i:i + 11] for i in range(0, len(lines) - 10, 11)]


def test_objects_have_the_fields_of_recorded_pygithub_exchanges(repos: RepoFactory) -> None:
    from test_sandbox_github import call, create

    from promoter.sandbox.github_api import GitHubApi
    from promoter.sandbox.state import StateStore

    repos.create(REPO, {"values.yaml": "tag: \"1.0\"\n"})
    repos.commit(REPO, {"values.yaml": "tag: \"1.1\"\n"}, branch=HEAD, parent=repos.rev(REPO))
    api = GitHubApi(repos.root, StateStore(repos.root), tokens=["tok"])
    create(api, head=HEAD)
    _, pr, headers = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    _, repo, _ = call(api, "GET", f"/api/v3/repos/{REPO}")
    recorded = {r[4]: r for r in _replay("PullRequest.setUp.txt")}
    real_pr = json.loads(recorded["/repos/PyGithub/PyGithub/pulls/31"][9])
    real_repo = json.loads(recorded["/repos/PyGithub/PyGithub"][9])
    assert set(pr) == set(real_pr)
    assert set(pr["head"]) == set(real_pr["head"])
    assert set(pr["user"]) >= set(real_pr["user"])
    assert set(pr["base"]["repo"]) >= set(real_pr["base"]["repo"])
    # org-only and clone-token fields aside, the full repository has every recorded field
    assert set(real_repo) - set(repo) <= {"organization", "temp_clone_token"}
    real_headers = {k.lower() for k, _ in
                    ast.literal_eval(recorded["/repos/PyGithub/PyGithub/pulls/31"][8])}
    wanted = {"content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
              "x-ratelimit-used", "x-ratelimit-resource", "x-github-media-type",
              "x-github-api-version-selected", "x-github-request-id"}
    assert wanted <= real_headers and wanted <= set(headers)


def test_graphql_auto_merge_matches_recorded_exchanges(repos: RepoFactory) -> None:
    from test_sandbox_github import call, create

    from promoter.sandbox.github_api import GitHubApi
    from promoter.sandbox.state import StateStore

    ok = {r[1]: r for r in _replay("PullRequest.testEnableAutomerge.txt")}["POST"]
    refused = {r[1]: r for r in _replay("PullRequest.testEnableAutomergeError.txt")}["POST"]
    repos.create(REPO, {"values.yaml": "tag: \"1.0\"\n"})
    repos.commit(REPO, {"values.yaml": "tag: \"1.1\"\n"}, branch=HEAD, parent=repos.rev(REPO))
    api = GitHubApi(repos.root, StateStore(repos.root), tokens=["tok"])
    _, pr, _ = create(api, head=HEAD)
    request = json.loads(ok[6])
    request["variables"]["input"].update(pullRequestId=pr["node_id"],
                                         expectedHeadOid=pr["head"]["sha"])
    status, body, _ = call(api, "POST", "/api/graphql", request)
    expected = json.loads(ok[9])
    assert status == int(ok[7]) == 200
    assert set(body["data"]["enablePullRequestAutoMerge"]["actor"]) == set(
        expected["data"]["enablePullRequestAutoMerge"]["actor"])
    assert body["data"]["enablePullRequestAutoMerge"]["clientMutationId"] is None
    _, got, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert got["auto_merge"] == {**got["auto_merge"], "merge_method": "squash",
                                 "commit_title": "The commit headline",
                                 "commit_message": "body of the commit"}
    # a repository that does not allow auto-merge: HTTP 200 with errors[], like github.com
    api.set_repo_settings(REPO, allow_auto_merge=False)
    request = json.loads(refused[6])
    request["variables"]["input"]["pullRequestId"] = pr["node_id"]
    status, body, _ = call(api, "POST", "/api/graphql", request)
    expected = json.loads(refused[9])
    assert status == 200
    for item in (body, expected):
        item["errors"][0].pop("locations")
    assert body == expected
