"""``promote`` with ``--forge github`` end to end: real git, PyGithub, the sandbox over HTTP.

Every GitHub response these tests provoke is also validated against GitHub's
OpenAPI description (tests/github_contract.py) when the contract data is present.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SANDBOX_TOKEN, RepoFactory
from forge_helpers import deployment
from github_contract import Contract, validate_all

from promoter.promote import PromotionResult, Request, promote
from promoter.sandbox import github_api
from promoter.sandbox.app import ForgeSandbox, build_sandbox

REPO = "acme/manifests"
BRANCH = "promoter/main/prod/web"
FILE = "envs/prod/web/deployment.yaml"


@dataclass
class Env:
    repos: RepoFactory
    sb: ForgeSandbox
    environ: dict[str, str]

    @property
    def url(self) -> str:
        return self.sb.repo_url(REPO)

    def run(self, image: str = "ghcr.io/acme/web:1.1.0", **kw: Any) -> PromotionResult:
        params: dict[str, Any] = {
            "repo": self.url, "images": (image,), "paths": ("envs/prod/web",), "env": "prod",
            "app": "web", "forge": "github", "environ": self.environ, "validate": False,
        }
        params.update(kw)
        result = promote(Request(**params))
        assert result.error is None, result.error
        return result

    def pulls(self, state: str = "open") -> list[dict[str, Any]]:
        pulls = self.sb.state.read("github").get("pulls", {}).get(REPO, {}).values()
        return sorted((p for p in pulls if state == "all" or p["state"] == state),
                      key=lambda p: p["number"])

    def api(self) -> Any:
        import github

        return github.Github(base_url=f"{self.sb.base_url}/api/v3",
                             auth=github.Auth.Token(SANDBOX_TOKEN), retry=None,
                             seconds_between_requests=None, seconds_between_writes=None)


@pytest.fixture
def env(repos: RepoFactory) -> Iterator[Env]:
    repos.create(REPO, {FILE: deployment("ghcr.io/acme/web:1.0.0"), "README.md": "m\n"})
    sink = github_api.start_recording()
    try:
        with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as sb:
            yield Env(repos, sb, {"PROMOTER_TOKEN": SANDBOX_TOKEN})
            base = sb.base_url
    finally:
        github_api.stop_recording(sink)
    contract = Contract.load()
    if contract is not None:
        count, _ = validate_all(contract, sink, base)
        print(f"[contract] {count} GitHub responses of this test validated")


def test_create_rerun_and_newer_version_use_one_pr(env: Env) -> None:
    first = env.run()
    assert first.status == "changed" and first.pr_number == 1
    assert first.pr_url == f"{env.sb.base_url}/{REPO}/pull/1"
    [pr] = env.pulls()
    assert pr["head"] == BRANCH and pr["base"] == "main"
    assert pr["title"] == "Promote ghcr.io/acme/web to 1.1.0 in prod"
    assert "| envs/prod/web/deployment\\.yaml" in pr["body"].replace("\\/", "/")
    again = env.run()
    assert again.status == "up-to-date" and again.pr_number == 1
    assert len(env.pulls("all")) == 1
    newer = env.run("ghcr.io/acme/web:1.2.0")
    assert newer.status == "changed" and newer.pr_number == 1
    [pr] = env.pulls("all")
    assert pr["title"] == "Promote ghcr.io/acme/web to 1.2.0 in prod"
    assert "1\\.2\\.0" in pr["body"]
    assert 'image: "ghcr.io/acme/web:1.2.0"' in env.repos.read(REPO, FILE, BRANCH)


def test_labels_reviewers_assignees_draft_and_auto_merge(env: Env) -> None:
    res = env.run(labels=("promotion", "env/prod"), reviewers=("alice", "bob"),
                  assignees=("carol",), draft=True, auto_merge="squash")
    assert res.pr_number == 1
    [pr] = env.pulls()
    assert pr["labels"] == ["promotion", "env/prod"]
    assert pr["reviewers"] == ["alice", "bob"] and pr["assignees"] == ["carol"]
    assert pr["draft"] is True and pr["auto_merge"]["merge_method"] == "squash"
    assert any("auto-merge (squash) enabled" in m for m in res.messages)
    # rerun without --draft: the same PR is marked ready, nothing is removed
    env.run(labels=("promotion",), auto_merge="squash")
    [pr] = env.pulls()
    assert pr["draft"] is False and pr["labels"] == ["promotion", "env/prod"]


def test_merged_by_the_sandbox_then_rerun_is_a_no_op(env: Env) -> None:
    env.run()
    pr = env.api().get_repo(REPO).get_pull(1)
    assert pr.merge(merge_method="squash", sha=pr.head.sha).merged
    assert 'web:1.1.0"' in env.repos.read(REPO, FILE, "main")
    again = env.run()
    assert again.status == "up-to-date" and again.pr_number is None
    assert env.pulls() == [] and len(env.pulls("all")) == 1


def test_base_moved_into_conflict_then_rerun_rebuilds_the_branch(env: Env) -> None:
    env.run()
    # someone changes the same line on main: the PR now conflicts
    env.repos.commit(REPO, {FILE: deployment("ghcr.io/acme/web:1.0.5")}, message="hotfix")
    pr = env.api().get_repo(REPO).get_pull(1)
    assert pr.mergeable is False and pr.mergeable_state == "dirty"
    again = env.run()
    assert again.status == "changed" and again.pr_number == 1
    pr = env.api().get_repo(REPO).get_pull(1)
    assert pr.mergeable is True and pr.mergeable_state == "clean"
    assert len(env.pulls("all")) == 1


def test_base_already_pins_the_image_closes_the_pr_with_a_comment(env: Env) -> None:
    env.run()
    env.repos.commit(REPO, {FILE: deployment("ghcr.io/acme/web:1.1.0")}, message="by hand")
    res = env.run()
    assert res.status == "up-to-date" and res.pr_number == 1
    assert env.pulls() == []
    comments = env.sb.state.read("github")["comments"][REPO]
    assert "already pins" in comments[0]["body"]


def test_github_enterprise_url_forms_and_auto_detection(env: Env) -> None:
    # --forge-url as the GHE host root (…/api/v3 appended) and --forge auto detecting it
    res = env.run(forge="auto", forge_url=env.sb.base_url + "/api/v3")
    assert res.pr_number == 1
    res = env.run("ghcr.io/acme/web:1.2.0", forge="github", forge_url=env.sb.base_url)
    assert res.pr_number == 1 and len(env.pulls("all")) == 1
    # GITHUB_API_URL as set by GitHub Actions on GHE
    env.environ["GITHUB_API_URL"] = env.sb.base_url + "/api/v3"
    assert env.run("ghcr.io/acme/web:1.3.0").pr_number == 1


def test_github_app_auth_pushes_and_opens_the_pr(env: Env, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "app.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    env.sb.github.register_app(777, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env.environ.pop("PROMOTER_TOKEN")
    res = env.run(github_app_id="777", github_app_key_file=str(key_file))
    assert res.status == "changed" and res.pr_number == 1
    [pr] = env.pulls()
    assert pr["user"] == "promoter[bot]"
    bad = promote(Request(repo=env.url, images=("ghcr.io/acme/web:1.2.0",),
                          paths=("envs/prod/web",), forge="github", github_app_id="778",
                          github_app_key_file=str(key_file), environ=env.environ))
    assert bad.status == "failed" and "GitHub App 778" in (bad.error or "")


def test_cli_json_gains_pr_url_and_number(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from promoter.cli import main

    monkeypatch.setenv("PROMOTER_TOKEN", SANDBOX_TOKEN)
    args = ["promote", "--repo", env.url, "--image", "ghcr.io/acme/web:1.1.0",
            "--path", "envs/prod/web", "--env", "prod", "--app", "web", "--forge", "github",
            "--label", "promotion", "--reviewer", "alice", "--assignee", "bob",
            "--auto-merge", "--title", "Deploy {image}:{new} ({environment})",
            "--no-validate", "--output", "json"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["pr_number"] == 1 and data["pr_url"].endswith(f"/{REPO}/pull/1")
    [pr] = env.pulls()
    assert pr["title"] == "Deploy ghcr.io/acme/web:1.1.0 (prod)"
    assert pr["auto_merge"]["merge_method"] == "merge"
