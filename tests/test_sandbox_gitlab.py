"""The sandbox's GitLab v4 emulation over real HTTP, driven by python-gitlab and urllib."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import gitlab
import pytest
from conftest import SANDBOX_TOKEN, RepoFactory, run_git
from sandbox_gitlab_helpers import HEAD, PROJECT, VALUES, GitLabEnv, env_fixture

from promoter.sandbox.gitlab_model import GUEST, MAINTAINER

ENC = PROJECT.replace("/", "%2F")


@pytest.fixture
def env(repos: RepoFactory) -> Iterator[GitLabEnv]:
    yield from env_fixture(repos)


def test_project_by_path_and_id_with_urls_on_our_host(env: GitLabEnv) -> None:
    gl = env.client()
    project = gl.projects.get(PROJECT)
    assert project.path_with_namespace == PROJECT
    assert project.default_branch == "main"
    assert project.http_url_to_repo == f"{env.url}/{PROJECT}.git"
    assert project.web_url == f"{env.url}/{PROJECT}"
    assert project.namespace["full_path"] == "group/subgroup"
    again = gl.projects.get(project.id)
    assert again.path_with_namespace == PROJECT
    status, _, body = env.http("GET", "/projects/group%2Fnope")
    assert (status, body) == (404, {"message": "404 Project Not Found"})
    status, _, body = env.http("GET", "/projects/999")
    assert (status, body) == (404, {"message": "404 Project Not Found"})
    status, _, body = env.http("GET", f"/projects/{ENC}", token="wrong")
    assert (status, body) == (401, {"message": "401 Unauthorized"})
    status, _, body = env.http("GET", "/no/such/route")
    assert (status, body) == (404, {"error": "404 Not Found"})


def test_create_list_get_and_duplicate(env: GitLabEnv) -> None:
    env.push_branch()
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create({
        "source_branch": HEAD, "target_branch": "main", "title": "Promote web 1.1",
        "description": "body", "labels": "promotion,env::production",
        "remove_source_branch": True,
    })
    assert mr.iid == 1 and mr.state == "opened"
    assert mr.merge_status == "checking"  # mergeability is computed asynchronously
    assert mr.web_url == f"{env.url}/{PROJECT}/-/merge_requests/1"
    assert mr.labels == ["env::production", "promotion"]
    assert mr.author["username"] == "root" and mr.force_remove_source_branch is True
    assert mr.references["full"] == f"{PROJECT}!1"
    got = project.mergerequests.get(1)
    assert got.merge_status == "can_be_merged" and got.detailed_merge_status == "mergeable"
    assert got.sha == env.repos.rev(PROJECT, HEAD) and got.changes_count == "1"
    assert got.diff_refs["start_sha"] == env.repos.rev(PROJECT, "main")
    listed = project.mergerequests.list(state="opened", source_branch=HEAD, target_branch="main")
    assert [m.iid for m in listed] == [1]
    assert project.mergerequests.list(state="merged") == []
    assert project.mergerequests.list(source_branch="other") == []
    with pytest.raises(gitlab.GitlabCreateError) as exc:
        project.mergerequests.create(
            {"source_branch": HEAD, "target_branch": "main", "title": "again"})
    assert exc.value.response_code == 409
    assert exc.value.error_message == [
        "Another open merge request already exists for this source branch: !1"]


def test_create_errors(env: GitLabEnv) -> None:
    env.push_branch()
    path = f"/projects/{ENC}/merge_requests"
    status, _, body = env.http("POST", path, {"source_branch": HEAD, "target_branch": "main"})
    assert (status, body) == (400, {"error": "title is missing"})
    status, _, body = env.http("POST", path, {"source_branch": "main", "target_branch": "main",
                                              "title": "t"})
    assert (status, body) == (422, {"message": [
        "You can't use same project/branch for source and target"]})
    status, _, body = env.http("POST", path, {"source_branch": "does-not-exist",
                                              "target_branch": "main", "title": "t"})
    assert (status, body) == (422, {"message": ['Source branch "does-not-exist" does not exist']})
    status, _, body = env.http("POST", path, {"source_branch": HEAD, "target_branch": "x",
                                              "title": "t"})
    assert (status, body) == (422, {"message": ['Target branch "x" does not exist']})


def test_empty_mr_is_accepted_like_gitlab(env: GitLabEnv) -> None:
    env.repos.commit(PROJECT, {}, branch="same", parent=env.repos.rev(PROJECT))
    run_git("update-ref", "refs/heads/same", env.repos.rev(PROJECT), cwd=env.repos.path(PROJECT))
    status, _, body = env.http("POST", f"/projects/{ENC}/merge_requests",
                               {"source_branch": "same", "target_branch": "main", "title": "t"})
    assert status == 201
    status, _, body = env.http("GET", f"/projects/{ENC}/merge_requests/{body['iid']}")
    assert body["detailed_merge_status"] == "commits_status"
    assert body["has_conflicts"] is True and body["changes_count"] == ""


def test_update_labels_people_and_draft(env: GitLabEnv) -> None:
    env.push_branch()
    gl = env.client()
    project = gl.projects.get(PROJECT)
    mr = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
    alice = gl.users.list(username="alice")[0]
    bob = gl.users.list(username="bob")[0]
    assert gl.users.list(username="nobody") == []
    mr.title = "Draft: Promote"
    mr.description = "new body"
    mr.labels = ["promotion"]
    mr.assignee_ids = [alice.id]
    mr.reviewer_ids = [bob.id, 9999]  # unknown ids are dropped, as on GitLab
    mr.save()
    got = project.mergerequests.get(mr.iid)
    assert got.draft is True and got.work_in_progress is True
    assert got.detailed_merge_status == "draft_status"
    assert got.description == "new body" and got.labels == ["promotion"]
    assert [u["username"] for u in got.assignees] == ["alice"]
    assert got.assignee["username"] == "alice"
    assert [u["username"] for u in got.reviewers] == ["bob"]
    assert got.updated_at >= got.created_at
    status, _, body = env.http("PUT", f"/projects/{ENC}/merge_requests/{mr.iid}",
                               {"add_labels": "x,y", "remove_labels": "promotion"})
    assert status == 200 and body["labels"] == ["x", "y"]
    status, _, body = env.http("PUT", f"/projects/{ENC}/merge_requests/{mr.iid}", {})
    assert status == 400 and body["error"].endswith(
        "are missing, at least one parameter must be provided")
    status, _, body = env.http("GET", f"/projects/{ENC}/merge_requests/77")
    assert (status, body) == (404, {"message": "404 Not found"})


def test_merge_makes_a_real_merge_commit(env: GitLabEnv) -> None:
    head = env.push_branch()
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create({"source_branch": HEAD, "target_branch": "main",
                                       "title": "Promote web", "remove_source_branch": True})
    old_main = env.repos.rev(PROJECT)
    with pytest.raises(gitlab.GitlabMRClosedError) as exc:
        mr.merge(sha="0" * 40)
    assert exc.value.response_code == 409
    assert exc.value.error_message == f"SHA does not match HEAD of source branch: {head}"
    mr.merge(sha=head)
    assert mr.state == "merged" and mr.merged_by["username"] == "root"
    main = env.repos.rev(PROJECT)
    assert mr.merge_commit_sha == main
    parents = run_git("rev-list", "--parents", "-n1", main, cwd=env.repos.path(PROJECT)).split()
    assert parents[1:] == [old_main, head]
    assert env.repos.read(PROJECT, VALUES) == 'image:\n  tag: "1.1"\n'
    assert env.repos.log(PROJECT, fmt="%s")[0] == f"Merge branch '{HEAD}' into 'main'"
    assert HEAD not in env.repos.branches(PROJECT)  # remove_source_branch honoured
    with pytest.raises(gitlab.GitlabMRClosedError) as exc:
        mr.merge()
    assert exc.value.response_code == 405
    assert exc.value.error_message == "405 Method Not Allowed"
    again = project.mergerequests.get(mr.iid)
    assert again.state == "merged" and again.sha == head


def test_squash_merge_and_conflict(env: GitLabEnv) -> None:
    env.push_branch()
    env.repos.commit(PROJECT, {"README.md": "two\n"}, branch=HEAD)
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote", "squash": True})
    mr.merge(squash_commit_message="Squashed promote")
    assert env.repos.log(PROJECT, fmt="%s")[0] == f"Merge branch '{HEAD}' into 'main'"
    assert env.repos.log(PROJECT, "main^2", fmt="%s")[:2] == ["Squashed promote", "initial"]
    assert mr.squash_commit_sha == env.repos.rev(PROJECT, "main^2")
    # A conflict: the target changes the same line.
    env.push_branch("conflicting", {VALUES: "image: other\n"}, parent="main~1")
    mr2 = project.mergerequests.create(
        {"source_branch": "conflicting", "target_branch": "main", "title": "c"})
    got = project.mergerequests.get(mr2.iid)
    assert got.has_conflicts is True and got.detailed_merge_status == "conflict"
    assert got.merge_status == "cannot_be_merged"
    with pytest.raises(gitlab.GitlabMRClosedError) as exc:
        got.merge()
    assert (exc.value.response_code, exc.value.error_message) == (405, "405 Method Not Allowed")
    # auto_merge without a pipeline tries an immediate merge: 422 as on GitLab >= 16.
    status, _, body = env.http("PUT", f"/projects/{ENC}/merge_requests/{mr2.iid}/merge",
                               {"auto_merge": True})
    assert (status, body) == (422, {"message": "Branch cannot be merged"})


def test_auto_merge_waits_for_the_pipeline(repos: RepoFactory) -> None:
    ci = {"README.md": "x\n", ".gitlab-ci.yml": "test: {script: [true]}\n", VALUES: "image: a\n"}
    gen = env_fixture(repos, files=ci)
    env = next(gen)
    try:
        head = env.push_branch()
        project = env.client().projects.get(PROJECT)
        mr = project.mergerequests.create(
            {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
        got = project.mergerequests.get(mr.iid)
        assert got.head_pipeline["status"] == "running"
        assert got.head_pipeline["web_url"].startswith(f"{env.url}/{PROJECT}/-/pipelines/")
        got.merge(merge_when_pipeline_succeeds=True, sha=head)
        assert got.state == "opened" and got.merge_when_pipeline_succeeds is True
        status, _, body = env.http("POST", f"/projects/{ENC}/statuses/{head}",
                                   {"state": "success", "name": "ci"})
        assert status == 201 and body["status"] == "success"
        merged = project.mergerequests.get(mr.iid)
        assert merged.state == "merged" and merged.merge_user["username"] == "root"
        assert env.repos.read(PROJECT, VALUES) == 'image:\n  tag: "1.1"\n'
        # cancel on a merged MR: 405; on one without auto-merge: 406
        status, _, body = env.http(
            "POST", f"/projects/{ENC}/merge_requests/{mr.iid}/cancel_merge_when_pipeline_succeeds")
        assert (status, body) == (405, {"message": "405 Method Not Allowed"})
        env.push_branch("second")
        mr2 = project.mergerequests.create(
            {"source_branch": "second", "target_branch": "main", "title": "2"})
        path = f"/projects/{ENC}/merge_requests/{mr2.iid}"
        status, _, body = env.http("POST", f"{path}/cancel_merge_when_pipeline_succeeds")
        assert (status, body) == (406, {"message": "406 Not Acceptable"})
        status, _, body = env.http("PUT", f"{path}/merge", {"auto_merge": True})
        assert status == 200 and body["merge_when_pipeline_succeeds"] is True
        status, _, body = env.http("POST", f"{path}/cancel_merge_when_pipeline_succeeds")
        assert (status, body) == (201, {"status": "success"})
        env.api.set_pipeline(PROJECT, env.repos.rev(PROJECT, "second"), "failed")
        status, _, body = env.http("PUT", f"{path}/merge", {"auto_merge": True})
        assert (status, body) == (405, {"message": "405 Method Not Allowed"})
    finally:
        next(gen, None)


def test_auto_merge_without_ci_merges_at_once(env: GitLabEnv) -> None:
    env.push_branch()
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
    mr.merge(merge_when_pipeline_succeeds=True)
    assert mr.state == "merged"  # no pipeline: GitLab merges immediately


def test_notes_and_close(env: GitLabEnv) -> None:
    env.push_branch()
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
    note = mr.notes.create({"body": "Superseded: branch equals base"})
    assert note.body == "Superseded: branch equals base" and note.noteable_type == "MergeRequest"
    mr.state_event = "close"
    mr.save()
    got = project.mergerequests.get(mr.iid)
    assert got.state == "closed" and got.closed_by["username"] == "root"
    assert got.user_notes_count == 1
    assert [n.body for n in got.notes.list()] == ["Superseded: branch equals base"]
    # A closed MR does not block a new one for the same branch.
    again = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
    assert again.iid == 2


def test_pagination_headers_and_links(env: GitLabEnv) -> None:
    for i in range(3):
        env.push_branch(f"b{i}")
        env.http("POST", f"/projects/{ENC}/merge_requests",
                 {"source_branch": f"b{i}", "target_branch": "main", "title": f"t{i}"})
    status, headers, body = env.http("GET", f"/projects/{ENC}/merge_requests?per_page=2&page=1")
    assert status == 200 and [m["iid"] for m in body] == [3, 2]
    assert headers["x-page"] == "1" and headers["x-per-page"] == "2"
    assert headers["x-total"] == "3" and headers["x-total-pages"] == "2"
    assert headers["x-next-page"] == "2" and headers["x-prev-page"] == ""
    link = headers["link"]
    assert f'<{env.url}/api/v4/projects/{ENC}/merge_requests?page=2&per_page=2>; rel="next"' in link
    assert 'rel="first"' in link and 'rel="last"' in link
    project = env.client(per_page=1).projects.get(PROJECT)
    with warnings.catch_warnings():
        # python-gitlab warns when a Link URL leaves the configured server: it must not.
        warnings.simplefilter("error")
        assert sorted(m.iid for m in project.mergerequests.list(get_all=True)) == [1, 2, 3]
        assert len(list(project.mergerequests.list(iterator=True))) == 3


def test_permissions_guest_and_developer(env: GitLabEnv) -> None:
    env.push_branch()
    env.api.add_user("guest", access_level=GUEST, token="guest-token")
    env.api.add_user("dev", token="dev-token")
    path = f"/projects/{ENC}/merge_requests"
    status, _, body = env.http("POST", path, {"source_branch": HEAD, "target_branch": "main",
                                              "title": "t"}, token="guest-token")
    assert (status, body) == (403, {"message": "403 Forbidden"})
    status, _, body = env.http("POST", path, {"source_branch": HEAD, "target_branch": "main",
                                              "title": "t"}, token="dev-token")
    assert status == 201 and body["author"]["username"] == "dev"
    assert body["user"]["can_merge"] is False
    status, _, body = env.http("PUT", f"{path}/1/merge", {}, token="dev-token")
    assert (status, body) == (401, {"message": "401 Unauthorized"})
    env.api.add_user("dev", access_level=MAINTAINER)
    status, _, body = env.http("PUT", f"{path}/1/merge", {}, token="dev-token")
    assert status == 200 and body["state"] == "merged"


def test_rate_limit_headers_and_429(repos: RepoFactory) -> None:
    # A frozen clock: the four requests stay in one minute window even when the wall clock
    # would cross a minute boundary between them (the count starts again there).
    gen = env_fixture(repos, rate_limit=3, clock=lambda: 1_700_000_039.9)
    env = next(gen)
    try:
        status, headers, _ = env.http("GET", "/user")
        assert status == 200 and headers["ratelimit-limit"] == "3"
        assert headers["ratelimit-remaining"] == "2" and headers["ratelimit-observed"] == "1"
        env.http("GET", "/user")
        env.http("GET", "/user")
        status, headers, body = env.http("GET", "/user")
        assert status == 429 and body == "Retry later\n"
        assert headers["retry-after"] == "1" and headers["ratelimit-remaining"] == "0"
        assert headers["ratelimit-reset"] == "1700000040"
    finally:
        next(gen, None)


def test_server_hook_refusing_the_merge_is_422(env: GitLabEnv) -> None:
    """A ref update refused server-side after the checks passed: 'Branch cannot be merged'."""
    env.push_branch()
    hook = env.repos.path(PROJECT) / "hooks" / "reference-transaction"
    hook.write_text("#!/bin/sh\n[ \"$1\" = prepared ] && grep -q refs/heads/main && exit 1\n"
                    "exit 0\n")
    hook.chmod(0o755)
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.create(
        {"source_branch": HEAD, "target_branch": "main", "title": "Promote"})
    with pytest.raises(gitlab.GitlabMRClosedError) as exc:
        mr.merge()
    assert (exc.value.response_code, exc.value.error_message) == (422, "Branch cannot be merged")
    assert project.mergerequests.get(mr.iid).state == "opened"


def test_job_token_header_is_accepted(env: GitLabEnv) -> None:
    import gitlab as gl_mod

    gl = gl_mod.Gitlab(env.url, job_token=SANDBOX_TOKEN)
    assert gl.projects.get(PROJECT).path_with_namespace == PROJECT


def test_concurrent_creates_make_exactly_one_mr(env: GitLabEnv) -> None:
    import threading

    env.push_branch()
    statuses: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        status, _, _ = env.http("POST", f"/projects/{ENC}/merge_requests",
                                {"source_branch": HEAD, "target_branch": "main", "title": "t"})
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 7


def test_deleted_source_branch_keeps_last_sha(env: GitLabEnv) -> None:
    head = env.push_branch()
    status, _, mr = env.http("POST", f"/projects/{ENC}/merge_requests",
                             {"source_branch": HEAD, "target_branch": "main", "title": "t"})
    run_git("update-ref", "-d", f"refs/heads/{HEAD}", cwd=env.repos.path(PROJECT))
    status, _, got = env.http("GET", f"/projects/{ENC}/merge_requests/{mr['iid']}")
    assert status == 200 and got["sha"] == head
    assert got["detailed_merge_status"] == "commits_status" and got["has_conflicts"] is True


def test_title_and_description_limits(env: GitLabEnv) -> None:
    env.push_branch()
    status, _, body = env.http("POST", f"/projects/{ENC}/merge_requests",
                               {"source_branch": HEAD, "target_branch": "main", "title": "x" * 256})
    assert (status, body) == (400, {"message": {"title": [
        "is too long (maximum is 255 characters)"]}})


def test_empty_repository_has_no_default_branch(env: GitLabEnv) -> None:
    run_git("init", "-q", "--bare", "-b", "main", str(env.repos.path("group/empty")))
    status, _, body = env.http("GET", "/projects/group%2Fempty")
    assert status == 200 and body["default_branch"] is None and body["empty_repo"] is True
