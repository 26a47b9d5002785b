"""The sandbox's GitHub emulation: handlers called directly (no sockets) and over HTTP."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import RepoFactory

from promoter.sandbox import bare
from promoter.sandbox.faults import FaultInjector, parse_fault
from promoter.sandbox.github_api import GitHubApi
from promoter.sandbox.state import StateStore
from promoter.sandbox.types import ApiRequest, ApiResponse

BASE = "http://127.0.0.1:9"
REPO = "acme/manifests"
HEAD = "promoter/production/web"


def call(api: Any, method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
         token: str | None = "tok") -> tuple[int, Any, dict[str, str]]:
    req = ApiRequest(
        method=method, path=path, query={k: [v] for k, v in (query or {}).items()},
        headers={}, body=json.dumps(body).encode() if body is not None else b"",
        base_url=BASE, token=token,
    )
    resp = api(req)
    assert isinstance(resp, ApiResponse)
    data = json.loads(resp.body) if resp.body else None
    return resp.status, data, {k.lower(): v for k, v in resp.headers}


@pytest.fixture
def api(repos: RepoFactory) -> GitHubApi:
    repos.create(REPO, {"env/prod/values.yaml": "image:\n  tag: \"1.0\"\n", "README": "r\n"})
    base = repos.rev(REPO)
    repos.commit(REPO, {"env/prod/values.yaml": "image:\n  tag: \"1.1\"\n"}, branch=HEAD,
                 parent=base)
    return GitHubApi(repos.root, StateStore(repos.root), tokens=["tok"])


def create(api: GitHubApi, head: str = HEAD, **extra: Any) -> tuple[int, Any, dict[str, str]]:
    body = {"title": "Promote web", "head": head, "base": "main", "body": "b", **extra}
    return call(api, "POST", f"/api/v3/repos/{REPO}/pulls", body)


def test_create_get_and_list_pull(api: GitHubApi) -> None:
    status, pr, headers = create(api)
    assert status == 201
    assert headers["location"] == f"{BASE}/api/v3/repos/{REPO}/pulls/1"
    assert pr["number"] == 1 and pr["state"] == "open" and pr["mergeable"] is None
    assert pr["html_url"] == f"{BASE}/{REPO}/pull/1"
    assert pr["head"]["label"] == f"acme:{HEAD}" and pr["base"]["ref"] == "main"
    assert pr["commits"] == 1 and pr["changed_files"] == 1
    status, got, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert status == 200 and got["mergeable"] is True and got["mergeable_state"] == "clean"
    status, listed, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls",
                             query={"head": f"acme:{HEAD}", "state": "open", "base": "main"})
    assert [p["number"] for p in listed] == [1]
    _, none, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls", query={"head": "acme:other"})
    assert none == []
    assert all(v.startswith(BASE) for k, v in got["_links"].items() for v in v.values())


def test_create_errors_match_github(api: GitHubApi, repos: RepoFactory) -> None:
    create(api)
    status, body, _ = create(api)
    assert status == 422
    assert body == {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom",
                    "message": f"A pull request already exists for acme:{HEAD}."}],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        "status": "422",
    }
    repos.commit(REPO, {}, branch="same", parent=repos.rev(REPO))
    bare.update_ref(repos.path(REPO), "same", repos.rev(REPO), repos.rev(REPO, "same"))
    status, body, _ = create(api, head="same")
    assert status == 422 and body["errors"][0]["message"] == "No commits between main same"
    status, body, _ = create(api, head="nope")
    assert status == 422 and body["errors"] == [
        {"resource": "PullRequest", "field": "head", "code": "invalid"}]


def test_auth_errors(api: GitHubApi) -> None:
    status, body, _ = call(api, "GET", f"/api/v3/repos/{REPO}", token="wrong")
    assert status == 401 and body["message"] == "Bad credentials"
    status, body, _ = call(api, "GET", f"/api/v3/repos/{REPO}", token=None)
    assert status == 401 and body["message"] == "Requires authentication"
    status, body, headers = call(api, "GET", "/api/v3/repos/acme/missing")
    assert status == 404 and body["message"] == "Not Found"
    assert headers["x-ratelimit-limit"] == "5000" and "x-ratelimit-reset" in headers


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merge_makes_real_commits(api: GitHubApi, repos: RepoFactory, method: str) -> None:
    create(api)
    # base moves on (another file), so merge/rebase are not fast-forwards
    repos.commit(REPO, {"README": "r2\n"})
    _, pr, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    status, body, _ = call(api, "PUT", f"/api/v3/repos/{REPO}/pulls/1/merge",
                           {"sha": "0" * 40, "merge_method": method})
    assert status == 409 and body["message"].startswith("Head branch was modified")
    status, body, _ = call(api, "PUT", f"/api/v3/repos/{REPO}/pulls/1/merge",
                           {"sha": pr["head"]["sha"], "merge_method": method})
    assert status == 200 and body["merged"] is True
    path = repos.path(REPO)
    tip = bare.commit_info(path, "main")
    assert tip.sha == body["sha"]
    assert len(tip.parents) == (2 if method == "merge" else 1)
    assert repos.read(REPO, "env/prod/values.yaml") == "image:\n  tag: \"1.1\"\n"
    assert repos.read(REPO, "README") == "r2\n"
    status, again, _ = call(api, "PUT", f"/api/v3/repos/{REPO}/pulls/1/merge", {})
    assert status == 405 and again["message"] == "Pull Request is not mergeable"
    assert call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1/merge")[0] == 204
    _, merged, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert merged["merged"] and merged["state"] == "closed" and merged["merged_by"]


def test_conflicting_pull_is_not_mergeable(api: GitHubApi, repos: RepoFactory) -> None:
    create(api)
    repos.commit(REPO, {"env/prod/values.yaml": "image:\n  tag: \"0.9\"\n"})
    _, pr, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert pr["mergeable"] is False and pr["mergeable_state"] == "dirty"
    status, body, _ = call(api, "PUT", f"/api/v3/repos/{REPO}/pulls/1/merge", {})
    assert status == 405 and body["status"] == "405"


def test_pagination_link_headers(api: GitHubApi, repos: RepoFactory) -> None:
    for i in range(5):
        repos.commit(REPO, {f"f{i}": "x"}, branch=f"b{i}", parent=repos.rev(REPO))
        assert create(api, head=f"b{i}")[0] == 201
    _, page, headers = call(api, "GET", f"/api/v3/repos/{REPO}/pulls",
                                 query={"per_page": "2", "page": "2"})
    assert [p["number"] for p in page] == [3, 2]
    # same shape as github.com's (octokit fixture paginate-issues): by repository id,
    # prev, next, last, first
    rid = api.state.read("github")["repos"][REPO]["id"]
    url = f"{BASE}/api/v3/repositories/{rid}/pulls?per_page=2&page="
    assert headers["link"] == (f'<{url}1>; rel="prev", <{url}3>; rel="next", '
                               f'<{url}3>; rel="last", <{url}1>; rel="first"')
    _, page3, _ = call(api, "GET", f"/api/v3/repositories/{rid}/pulls",
                       query={"per_page": "2", "page": "3"})
    assert [p["number"] for p in page3] == [1]


def test_labels_reviewers_assignees_comments(api: GitHubApi) -> None:
    create(api)
    p = f"/api/v3/repos/{REPO}"
    status, labels, _ = call(api, "POST", f"{p}/issues/1/labels", ["promotion", "prod"])
    assert status == 200 and [x["name"] for x in labels] == ["promotion", "prod"]
    status, _, _ = call(api, "POST", f"{p}/pulls/1/requested_reviewers", {"reviewers": ["al"]})
    assert status == 201
    status, body, _ = call(api, "POST", f"{p}/pulls/1/requested_reviewers",
                           {"reviewers": ["promoter-bot"]})
    assert status == 422 and "author" in body["errors"][0]["message"]
    status, issue, _ = call(api, "POST", f"{p}/issues/1/assignees", {"assignees": ["bo"]})
    assert status == 201 and issue["assignees"][0]["login"] == "bo"
    status, comment, _ = call(api, "POST", f"{p}/issues/1/comments", {"body": "hello"})
    assert status == 201 and comment["html_url"].startswith(f"{BASE}/{REPO}/pull/1#")
    _, pr, _ = call(api, "GET", f"{p}/pulls/1")
    assert pr["comments"] == 1 and [u["login"] for u in pr["requested_reviewers"]] == ["al"]


def test_graphql_auto_merge_and_draft(api: GitHubApi) -> None:
    _, pr, _ = create(api)
    q = ("mutation Mutation($input: EnablePullRequestAutoMergeInput!) { "
         "enablePullRequestAutoMerge(input: $input) { actor { login } clientMutationId } }")
    status, body, _ = call(api, "POST", "/api/graphql", {
        "query": q, "variables": {"input": {"pullRequestId": pr["node_id"],
                                            "mergeMethod": "SQUASH"}}})
    assert status == 200
    assert body == {"data": {"enablePullRequestAutoMerge": {
        "actor": {"login": "promoter-bot"}, "clientMutationId": None}}}
    _, got, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert got["auto_merge"]["merge_method"] == "squash"
    status, body, _ = call(api, "POST", "/api/graphql", {
        "query": q, "variables": {"input": {"pullRequestId": "nope"}}})
    assert status == 200 and body["errors"][0]["type"] == "NOT_FOUND"


def test_bodies_of_the_wrong_json_shape_are_answered_not_dropped(api: GitHubApi) -> None:
    """A JSON array, or variables that are not objects, get GitHub's answers (no exception)."""
    _, pr, _ = create(api)
    for path in ("/api/graphql", f"/api/v3/repos/{REPO}/pulls"):
        status, body, _ = call(api, "POST", path, [1])
        assert (status, body["message"]) == (400, "Problems parsing JSON")
    status, body, _ = call(api, "PATCH", f"/api/v3/repos/{REPO}/pulls/1", "closed")
    assert (status, body["message"]) == (400, "Problems parsing JSON")
    q = ("mutation($input: EnablePullRequestAutoMergeInput!) { "
         "enablePullRequestAutoMerge(input: $input) { clientMutationId } }")
    status, body, _ = call(api, "POST", "/api/graphql", {"query": q, "variables": [1]})
    assert status == 200 and body["errors"][0]["message"] == "Variables are invalid JSON."
    status, body, _ = call(api, "POST", "/api/graphql", {"query": q, "variables": {"input": 3}})
    assert status == 200 and "provided invalid value" in body["errors"][0]["message"]
    _, got, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert got["auto_merge"] is None and got["state"] == "open" and pr["number"] == 1


def test_state_transactions_do_not_lose_updates(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    def bump() -> None:
        for _ in range(25):
            with store.transaction("github") as st:
                st["n"] = st.get("n", 0) + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read("github")["n"] == 100
    assert StateStore(tmp_path).read("github")["n"] == 100  # persisted


def test_faults_are_seeded_and_bounded(api: GitHubApi) -> None:
    def run(seed: int) -> list[int]:
        inj = FaultInjector(seed=seed)
        inj.add("status=502,p=0.5,path=^/api/v3/")
        inj.add(parse_fault("status=429,retry_after=1,times=1"))
        handler = inj.wrap(api)
        return [call(handler, "GET", f"/api/v3/repos/{REPO}")[0] for _ in range(20)]

    first = run(7)
    assert first == run(7)
    assert set(first) <= {200, 502, 429} and first.count(429) <= 1 and 502 in first
    inj = FaultInjector()
    inj.add("status=429,retry_after=1,times=1")
    status, body, headers = call(inj.wrap(api), "GET", f"/api/v3/repos/{REPO}")
    assert status == 429 and headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining"] != "0" and "secondary rate limit" in body["message"]
    assert call(inj.wrap(api), "GET", f"/api/v3/repos/{REPO}")[0] == 200
    inj.add("drop,times=1")
    req = ApiRequest("GET", f"/api/v3/repos/{REPO}", {}, {}, b"", BASE, "tok")
    dropped = inj.wrap(api)(req)
    assert dropped is not None and dropped.drop_connection


def test_fault_after_commits_then_fails(api: GitHubApi) -> None:
    inj = FaultInjector()
    inj.add("status=502,method=POST,path=/pulls$,after,times=1")
    status, _, _ = create(inj.wrap(api))
    assert status == 502
    _, listed, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls")
    assert len(listed) == 1  # the backend did create it: the answer was lost


def test_parse_fault_errors() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        parse_fault("status=502,bogus=1")
    with pytest.raises(ValueError, match="does nothing"):
        parse_fault("p=0.5")


def test_primary_rate_limit_is_enforced(repos: RepoFactory) -> None:
    repos.create(REPO, {"a": "b"})
    api = GitHubApi(repos.root, StateStore(repos.root), tokens=["tok"], rate_limit=2)
    assert call(api, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    status, _, headers = call(api, "GET", f"/api/v3/repos/{REPO}")
    assert status == 200 and headers["x-ratelimit-remaining"] == "0"
    status, body, headers = call(api, "GET", f"/api/v3/repos/{REPO}")
    assert status == 403 and body["message"].startswith("API rate limit exceeded")
    assert headers["x-ratelimit-remaining"] == "0"
    _, rate, _ = call(api, "GET", "/api/v3/rate_limit")
    assert rate["resources"]["core"]["remaining"] == 0


def test_concurrent_writes_lose_nothing(api: GitHubApi) -> None:
    create(api)
    path = f"/api/v3/repos/{REPO}/issues/1/labels"
    threads = [threading.Thread(target=call, args=(api, "POST", path, [f"l{i}"]))
               for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, pr, _ = call(api, "GET", f"/api/v3/repos/{REPO}/pulls/1")
    assert sorted(x["name"] for x in pr["labels"]) == sorted(f"l{i}" for i in range(12))


def test_latency_only_faults_pass_through_and_skip_counts(api: GitHubApi) -> None:
    inj = FaultInjector()
    inj.add("latency=0.01,times=1")
    inj.add("status=503,skip=1,times=1")
    handler = inj.wrap(api)
    # 1st: latency rule matches first and lets the real answer through
    assert call(handler, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    # 2nd: the 503 rule is skipped once (its first match), 3rd: injected, 4th: exhausted
    assert call(handler, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    assert call(handler, "GET", f"/api/v3/repos/{REPO}")[0] == 503
    assert call(handler, "GET", f"/api/v3/repos/{REPO}")[0] == 200
    assert [i.status for i in inj.log] == [None, 503]
