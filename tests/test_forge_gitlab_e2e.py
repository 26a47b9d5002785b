"""End to end: ``promoter promote --forge gitlab`` (a real subprocess) against the sandbox.

python-gitlab talks to the sandbox's GitLab v4 emulation over real HTTP; git
pushes to the GitLab-style nested path ``/group/subgroup/manifests.git``;
merges are real git merges made by the sandbox when its "pipeline" passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory, make_git_env
from forge_helpers import deployment
from sandbox_gitlab_helpers import env_fixture

from promoter.sandbox.app import build_sandbox
from promoter.sandbox.gitlab_api import GitLabApi
from promoter.sandbox.server import Sandbox

PROJECT = "group/subgroup/manifests"
PATH = "envs/prod/web/deployment.yaml"
DEPLOYMENT = deployment("ghcr.io/acme/web:1.0.0")
# The installed `promoter` console script's code path, run as a real process.
PROMOTER = (sys.executable, "-c", "import sys; from promoter.cli import main; sys.exit(main())")
CI_FILE = "test:\n  script: [true]\n"
FILES = {PATH: DEPLOYMENT, "README.md": "manifests\n", ".gitlab-ci.yml": CI_FILE}


@dataclass
class Env:
    sandbox: Sandbox
    repos: RepoFactory
    api: GitLabApi

    @property
    def repo_url(self) -> str:
        return f"{self.sandbox.base_url}/{PROJECT}.git"

    def promote(self, version: str, *args: str, environ: dict[str, str] | None = None,
                forge: tuple[str, ...] = ("--forge", "gitlab"),
                token_var: str = "GITLAB_TOKEN") -> dict[str, Any]:
        env = make_git_env({token_var: SANDBOX_TOKEN, **(environ or {})})
        env.pop("GIT_AUTHOR_NAME", None)
        cmd = [*PROMOTER, "promote", "--repo", self.repo_url,
               "--image", f"ghcr.io/acme/web:{version}", "--path", "envs/prod/web",
               "--env", "prod", "--app", "web", *forge, "--output", "json", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
        assert proc.stdout, proc.stderr
        result: dict[str, Any] = json.loads(proc.stdout)
        assert proc.returncode == 0, (result.get("error"), proc.stderr)
        return result

    def mrs(self, state: str = "opened") -> list[Any]:
        import gitlab

        gl = gitlab.Gitlab(self.sandbox.base_url, private_token=SANDBOX_TOKEN)
        project = gl.projects.get(PROJECT)
        return list(project.mergerequests.list(state=state, get_all=True))

    def mr(self, iid: int) -> Any:
        import gitlab

        gl = gitlab.Gitlab(self.sandbox.base_url, private_token=SANDBOX_TOKEN)
        return gl.projects.get(PROJECT).mergerequests.get(iid)


@pytest.fixture
def env(repos: RepoFactory) -> Iterator[Env]:
    # Every GitLab answer of these runs is recorded and, on teardown, validated against
    # GitLab's schemas (sandbox_gitlab_helpers.env_fixture).
    for gl_env in env_fixture(repos, files=FILES):
        yield Env(gl_env.sandbox, repos, gl_env.api)


@pytest.mark.slow
def test_promotion_lifecycle_through_gitlab(env: Env) -> None:
    # 1. create, with labels / reviewers / assignees
    first = env.promote("1.1.0", "--label", "promotion", "--label", "env::prod",
                        "--reviewer", "alice", "--assignee", "bob")
    assert first["status"] == "changed" and first["pr_number"] == 1
    assert first["pr_url"] == f"{env.sandbox.base_url}/{PROJECT}/-/merge_requests/1"
    branch = first["branch"]
    mr = env.mr(1)
    assert mr.source_branch == branch and mr.target_branch == "main"
    assert "1.1.0" in mr.title and "1\\.1\\.0" in mr.description  # escaped change table
    assert mr.labels == ["env::prod", "promotion"]
    assert [u["username"] for u in mr.reviewers] == ["alice"]
    assert [u["username"] for u in mr.assignees] == ["bob"]
    # 2. rerun: same MR, nothing new
    again = env.promote("1.1.0", "--label", "promotion")
    assert again["status"] == "up-to-date" and again["pr_number"] == 1
    assert [m.iid for m in env.mrs()] == [1]
    # 3. newer version: same MR, updated title and body
    newer = env.promote("1.2.0")
    assert newer["status"] == "changed" and newer["pr_number"] == 1
    mr = env.mr(1)
    assert "1.2.0" in mr.title and "1\\.2\\.0" in mr.description
    assert mr.labels == ["env::prod", "promotion"]  # labels people/earlier runs set are kept
    assert [m.iid for m in env.mrs()] == [1]
    # 4. draft
    env.promote("1.2.0", "--draft")
    assert env.mr(1).title.startswith("Draft: ") and env.mr(1).draft is True
    # 5. ready again, with auto-merge: GitLab waits for the pipeline
    auto = env.promote("1.2.0", "--auto-merge")
    assert auto["pr_number"] == 1
    mr = env.mr(1)
    assert mr.draft is False and mr.merge_when_pipeline_succeeds is True
    assert mr.head_pipeline["status"] == "running" and mr.state == "opened"
    # 6. the pipeline passes: the sandbox merges (a real merge commit on main)
    env.api.set_pipeline(PROJECT, mr.sha, "success")
    assert env.mr(1).state == "merged"
    assert "ghcr.io/acme/web:1.2.0" in env.repos.read(PROJECT, PATH)
    assert env.repos.log(PROJECT)[0] == f"Merge branch '{branch}' into 'main'"
    # 7. rerun after the merge: a no-op, no new MR
    after = env.promote("1.2.0", "--auto-merge")
    assert after["status"] == "up-to-date" and after["pr_number"] is None
    assert env.mrs() == [] and len(env.mrs("all")) == 1


@pytest.mark.slow
def test_base_moves_into_conflict_then_rerun_rebuilds(env: Env) -> None:
    env.promote("1.1.0")
    # Someone edits the same line on main: the MR now conflicts.
    env.repos.commit(PROJECT, {PATH: DEPLOYMENT.replace("1.0.0", "1.0.1")}, "hotfix 1.0.1")
    assert env.mr(1).detailed_merge_status == "conflict"
    rerun = env.promote("1.1.0")
    assert rerun["status"] == "changed" and rerun["pr_number"] == 1
    mr = env.mr(1)
    assert mr.detailed_merge_status == "mergeable" and mr.has_conflicts is False
    assert [m.iid for m in env.mrs()] == [1]


def test_merge_now_on_the_product_sandbox(repos: RepoFactory) -> None:
    """Through build_sandbox (what `promoter sandbox serve` runs): the GitLab plug-in is wired."""
    repos.create(PROJECT, FILES)
    with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as sandbox:
        env = Env(sandbox, repos, sandbox.gitlab)
        result = env.promote("1.1.0", "--merge-now")
        assert result["pr_number"] == 1 and env.mr(1).state == "merged"
    assert "ghcr.io/acme/web:1.1.0" in repos.read(PROJECT, PATH)


def test_self_managed_detected_from_gitlab_ci_variables(env: Env) -> None:
    base = env.sandbox.base_url
    ci = {"GITLAB_CI": "true", "CI_SERVER_URL": base, "CI_API_V4_URL": f"{base}/api/v4"}
    result = env.promote("1.1.0", environ=ci, forge=("--forge", "auto"))
    assert result["pr_number"] == 1 and result["pr_url"].startswith(base + "/")


def test_self_managed_from_forge_url(env: Env) -> None:
    base = env.sandbox.base_url
    result = env.promote("1.1.0", forge=("--forge-url", f"{base}/api/v4"))
    assert result["pr_number"] == 1
    assert env.mr(1).web_url == f"{base}/{PROJECT}/-/merge_requests/1"


@pytest.mark.slow
def test_ten_promotions_under_api_faults_each_get_exactly_one_mr(repos: RepoFactory) -> None:
    """30 % of GitLab API calls answer 502, one 429 asks to wait 1 s: every promotion ends
    with exactly one correct merge request."""
    from promoter.promote import Request, promote
    from promoter.sandbox.faults import FaultInjector

    apps = [f"app{i}" for i in range(10)]
    files = {f"envs/prod/{a}/deployment.yaml": DEPLOYMENT.replace("web", a) for a in apps}
    faults = FaultInjector(seed=1234)
    for gl_env in env_fixture(repos, files=files, faults=faults):
        faults.add("status=429,retry_after=1,times=1")
        faults.add("status=502,p=0.3")
        env = Env(gl_env.sandbox, repos, gl_env.api)
        for app in apps:
            result = promote(Request(
                repo=env.repo_url, images=(f"ghcr.io/acme/{app}:2.0.0",),
                paths=(f"envs/prod/{app}",), env="prod", app=app, forge="gitlab",
                labels=("promotion",), environ={"GITLAB_TOKEN": SANDBOX_TOKEN},
            ))
            assert result.status == "changed", result.error
            assert result.pr_number is not None
        injected = list(faults.log)
        faults.clear()
        open_mrs = env.mrs()
        all_mrs = env.mrs("all")
    print(f"\nGitLab faults: {len(injected)} injected "
          f"({sum(1 for i in injected if i.status == 502)} x 502, 1 x 429) over 10 promotions")
    assert sum(1 for i in injected if i.status == 429) == 1
    assert sum(1 for i in injected if i.status == 502) >= 5
    assert len(open_mrs) == len(apps) == len(all_mrs)
    by_branch = {m.source_branch: m for m in open_mrs}
    assert len(by_branch) == len(apps)
    for app in apps:
        [mr] = [m for m in open_mrs if f"/{app}" in m.source_branch]
        assert f"ghcr.io/acme/{app}" in mr.title and "2.0.0" in mr.title
        assert mr.labels == ["promotion"]
        path = f"envs/prod/{app}/deployment.yaml"
        assert f"ghcr.io/acme/{app}:2.0.0" in repos.read(PROJECT, path, mr.source_branch)


def test_mr_closed_with_a_note_when_base_already_pins_the_image(env: Env) -> None:
    first = env.promote("1.1.0")
    assert first["pr_number"] == 1
    # Someone promotes 1.1.0 on main directly: the promotion branch has nothing left to do.
    env.repos.commit(PROJECT, {PATH: DEPLOYMENT.replace("1.0.0", "1.1.0")}, "manual bump")
    rerun = env.promote("1.1.0")
    assert rerun["status"] == "up-to-date"
    mr = env.mr(1)
    assert mr.state == "closed"
    assert "already pins" in mr.notes.list()[0].body
    assert env.mrs() == []


def test_ci_job_token_pushes_and_opens_the_mr(env: Env) -> None:
    """In GitLab CI with only CI_JOB_TOKEN: git pushes with it, the API gets JOB-TOKEN."""
    base = env.sandbox.base_url
    ci = {"GITLAB_CI": "true", "CI_SERVER_URL": base, "CI_API_V4_URL": f"{base}/api/v4",
          "CI_PIPELINE_URL": f"{base}/group/app/-/pipelines/7", "CI_COMMIT_SHA": "abc123"}
    result = env.promote("1.1.0", environ=ci, forge=("--forge", "auto"), token_var="CI_JOB_TOKEN")
    assert result["pr_number"] == 1
    mr = env.mr(1)
    assert f"{base}/group/app/-/pipelines/7" in mr.description  # provenance from CI variables
