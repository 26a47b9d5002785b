"""promoter.forges.gitlab against the sandbox over real HTTP (python-gitlab, real git)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory
from sandbox_gitlab_helpers import HEAD, PROJECT, VALUES, GitLabEnv, env_fixture

from promoter.forges.base import PullRequestSpec
from promoter.forges.gitlab import ForgeError, GitLabForge, project_path_for, server_url_for
from promoter.forges.retry import RetryPolicy
from promoter.sandbox.faults import FaultInjector

CI = {"README.md": "x\n", ".gitlab-ci.yml": "test: {script: [true]}\n", VALUES: "image: a\n"}


@pytest.fixture
def env(repos: RepoFactory) -> Iterator[GitLabEnv]:
    yield from env_fixture(repos)


def forge(env: GitLabEnv, token: str = SANDBOX_TOKEN, **kw: object) -> GitLabForge:
    return GitLabForge(f"{env.url}/{PROJECT}.git", token=token, env={},
                       policy=RetryPolicy(base_delay=0.01, max_delay=0.05), **kw)  # type: ignore[arg-type]


def spec(env: GitLabEnv, **kw: object) -> PullRequestSpec:
    base = dict(repo_url=f"{env.url}/{PROJECT}.git", base="main", head=HEAD,
                title="Promote web to 1.1 in production", body="| file | old | new |")
    base.update(kw)  # type: ignore[arg-type]
    return PullRequestSpec(**base)  # type: ignore[arg-type]


def open_mrs(env: GitLabEnv) -> list[int]:
    project = env.client().projects.get(PROJECT)
    return [m.iid for m in project.mergerequests.list(state="opened", get_all=True)]


def test_urls_for_gitlab_com_self_managed_and_ci() -> None:
    assert server_url_for("https://gitlab.com/g/s/p.git", env={}) == "https://gitlab.com"
    assert server_url_for("git@gitlab.com:g/p.git", env={}) == "https://gitlab.com"
    assert server_url_for("ssh://git@gitlab.example.com:2222/g/p.git",
                          env={}) == "https://gitlab.example.com"
    url = "https://example.com/gitlab/group/sub/proj.git"
    server = server_url_for(url, "https://example.com/gitlab/api/v4", env={})
    assert server == "https://example.com/gitlab"
    assert project_path_for(url, server) == "group/sub/proj"
    ci = {"CI_API_V4_URL": "https://git.corp.example:8443/api/v4"}
    assert server_url_for("https://git.corp.example:8443/a/b.git", env=ci) == (
        "https://git.corp.example:8443")
    # CI on another host than the manifests repository: the repository's host wins.
    assert server_url_for("https://gitlab.com/a/b.git", env=ci) == "https://gitlab.com"
    with pytest.raises(ForgeError, match="group/project"):
        project_path_for("https://gitlab.com/onlyone.git", "https://gitlab.com")


def test_create_rerun_and_update_in_place(env: GitLabEnv) -> None:
    env.push_branch()
    f = forge(env)
    first = f.open_or_update(spec(env))
    assert first.action == "created" and first.number == 1
    assert first.url == f"{env.url}/{PROJECT}/-/merge_requests/1"
    again = forge(env).open_or_update(spec(env))
    assert (again.action, again.number) == ("unchanged", 1)
    env.repos.commit(PROJECT, {VALUES: 'image:\n  tag: "1.2"\n'}, branch=HEAD)
    newer = forge(env).open_or_update(spec(env, title="Promote web to 1.2 in production",
                                            body="new table"))
    assert (newer.action, newer.number) == ("updated", 1)
    mr = env.client().projects.get(PROJECT).mergerequests.get(1)
    assert mr.title == "Promote web to 1.2 in production" and mr.description == "new table"
    assert mr.force_remove_source_branch is True
    assert open_mrs(env) == [1]


def test_labels_reviewers_assignees_are_added_never_removed(env: GitLabEnv) -> None:
    env.push_branch()
    result = forge(env).open_or_update(spec(env, labels=("promotion", "env::production"),
                                            reviewers=("alice", "ghost"), assignees=("bob",)))
    assert result.action == "created"
    assert any("'ghost' not found" in m for m in result.messages)
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.get(result.number)
    assert mr.labels == ["env::production", "promotion"]
    assert [u["username"] for u in mr.reviewers] == ["alice"]
    assert [u["username"] for u in mr.assignees] == ["bob"]
    mr.labels = [*mr.labels, "keep-me"]  # a person adds a label
    mr.save()
    again = forge(env).open_or_update(spec(env, labels=("promotion", "extra"),
                                           reviewers=("carol",), assignees=("bob",)))
    assert again.action == "updated"
    mr = project.mergerequests.get(result.number)
    assert mr.labels == ["env::production", "extra", "keep-me", "promotion"]
    assert [u["username"] for u in mr.reviewers] == ["alice", "carol"]
    same = forge(env).open_or_update(spec(env, labels=("promotion",), reviewers=("carol",)))
    assert same.action == "unchanged"


def test_draft_via_title_prefix(env: GitLabEnv) -> None:
    env.push_branch()
    result = forge(env).open_or_update(spec(env, draft=True))
    project = env.client().projects.get(PROJECT)
    mr = project.mergerequests.get(result.number)
    assert mr.title == "Draft: Promote web to 1.1 in production" and mr.draft is True
    assert forge(env).open_or_update(spec(env, draft=True)).action == "unchanged"
    ready = forge(env).open_or_update(spec(env))
    assert ready.action == "updated"
    assert project.mergerequests.get(result.number).draft is False


def test_auto_merge_waits_for_pipeline_then_sandbox_merges(repos: RepoFactory) -> None:
    gen = env_fixture(repos, files=CI)
    env = next(gen)
    try:
        head = env.push_branch()
        result = forge(env).open_or_update(spec(env, auto_merge="merge"))
        assert result.action == "created" and result.auto_merge_enabled is True
        assert any("merges when the pipeline succeeds" in m for m in result.messages)
        rerun = forge(env).open_or_update(spec(env, auto_merge="merge"))
        assert (rerun.action, rerun.auto_merge_enabled) == ("unchanged", True)
        env.api.set_pipeline(PROJECT, head, "success")  # CI passes: GitLab merges
        mr = env.client().projects.get(PROJECT).mergerequests.get(result.number)
        assert mr.state == "merged"
        assert env.repos.read(PROJECT, VALUES) == 'image:\n  tag: "1.1"\n'
        assert HEAD not in env.repos.branches(PROJECT)
        assert open_mrs(env) == []
    finally:
        next(gen, None)


def test_auto_merge_squash_without_pipeline_merges_at_once(env: GitLabEnv) -> None:
    env.push_branch()
    result = forge(env).open_or_update(spec(env, auto_merge="squash"))
    assert result.action == "merged" and result.auto_merge_enabled is False
    assert env.repos.log(PROJECT, "main^2", fmt="%s")[0] == "Promote web to 1.1 in production"


def test_auto_merge_refused_is_reported_not_fatal(env: GitLabEnv) -> None:
    env.push_branch(files={VALUES: "conflict: yes\n"})
    env.repos.commit(PROJECT, {VALUES: "moved: on\n"})  # base moves: the MR conflicts
    result = forge(env).open_or_update(spec(env, auto_merge="merge"))
    assert result.action == "created" and result.auto_merge_enabled is False
    assert any("auto-merge not enabled" in m and "422" in m for m in result.messages)
    with pytest.raises(ForgeError, match="--merge-now: GitLab did not merge"):
        forge(env).open_or_update(spec(env, merge_now=True))


def test_merge_now(env: GitLabEnv) -> None:
    env.push_branch()
    result = forge(env).open_or_update(spec(env, merge_now=True))
    assert result.action == "merged"
    assert env.repos.log(PROJECT, fmt="%s")[0] == f"Merge branch '{HEAD}' into 'main'"


def test_close_if_empty_comments_and_closes(env: GitLabEnv) -> None:
    env.push_branch()
    f = forge(env)
    assert f.close_if_empty(spec(env), "nothing to promote").action == "none"
    created = f.open_or_update(spec(env))
    closed = forge(env).close_if_empty(spec(env), "Branch is identical to main; closing.")
    assert (closed.action, closed.number) == ("closed", created.number)
    mr = env.client().projects.get(PROJECT).mergerequests.get(created.number)
    assert mr.state == "closed"
    assert [n.body for n in mr.notes.list()] == ["Branch is identical to main; closing."]


def test_auth_and_missing_project_errors_say_what_to_do(env: GitLabEnv) -> None:
    env.push_branch()
    with pytest.raises(ForgeError, match=r"rejected the token.*401"):
        forge(env, token="wrong").open_or_update(spec(env))
    missing = GitLabForge(f"{env.url}/group/nope.git", token=SANDBOX_TOKEN, env={})
    with pytest.raises(ForgeError, match=r"404.*does not exist or the token cannot see it"):
        missing.open_or_update(spec(env))
    with pytest.raises(ForgeError, match="GITLAB_TOKEN"):
        GitLabForge(f"{env.url}/{PROJECT}.git", env={})


def test_job_token_from_ci(env: GitLabEnv) -> None:
    env.push_branch()
    f = GitLabForge(f"{env.url}/{PROJECT}.git", env={"CI_JOB_TOKEN": SANDBOX_TOKEN})
    assert f.client().job_token == SANDBOX_TOKEN and f.client().private_token is None
    assert f.open_or_update(spec(env)).action == "created"


def test_faults_502s_and_429_still_one_mr(repos: RepoFactory) -> None:
    faults = FaultInjector(seed=7)
    gen = env_fixture(repos, faults=faults)
    env = next(gen)
    try:
        env.push_branch()
        faults.add("status=429,retry_after=1,times=1,path=/merge_requests")
        faults.add("status=502,p=0.3")
        faults.add("status=502,after,times=1,method=POST,path=/merge_requests$")
        for _ in range(3):
            result = forge(env).open_or_update(spec(env, labels=("promotion",)))
            assert result.number == 1
        faults.clear()
        assert open_mrs(env) == [1]
        assert any(i.status == 429 for i in faults.log)
        assert any(i.after for i in faults.log)  # the create whose answer was lost
    finally:
        next(gen, None)


def test_long_title_is_cut_to_gitlab_limit(env: GitLabEnv) -> None:
    env.push_branch()
    result = forge(env).open_or_update(spec(env, title="t" * 300, draft=True))
    mr = env.client().projects.get(PROJECT).mergerequests.get(result.number)
    assert len(mr.title) == 255 and mr.title.startswith("Draft: tt") and mr.title.endswith("…")
    assert forge(env).open_or_update(spec(env, title="t" * 300, draft=True)).action == "unchanged"


def test_auto_detection_picks_gitlab() -> None:
    from promoter.forges import detect

    assert detect("https://gitlab.example.com/g/s/p.git", env={}) == "gitlab"
    assert detect("git@gitlab.com:g/p.git", env={}) == "gitlab"
    ci = {"GITLAB_CI": "true", "CI_SERVER_URL": "https://git.corp.example"}
    assert detect("https://git.corp.example/g/p.git", env=ci) == "gitlab"
    api = {"CI_API_V4_URL": "https://git.corp.example/api/v4"}
    assert detect("https://git.corp.example/g/p.git", env=api) == "gitlab"
    assert detect("https://git.corp.example/g/p.git", "https://git.corp.example/api/v4",
                  env={}) == "gitlab"
