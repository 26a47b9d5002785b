"""Concurrent promotions of one app with ``--forge github``: one branch, one PR, newest wins."""

from __future__ import annotations

import threading

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory
from forge_helpers import deployment
from test_forge_github_e2e import BRANCH, FILE, REPO

from promoter.promote import PromotionResult, Request, promote
from promoter.sandbox.app import build_sandbox


@pytest.mark.slow
def test_racing_promotions_share_one_pr_and_the_newest_version_wins(repos: RepoFactory) -> None:
    repos.create(REPO, {FILE: deployment("ghcr.io/acme/web:1.0.0")})
    versions = ["1.1.0", "1.2.0", "1.3.0", "1.2.1"]
    results: dict[str, PromotionResult] = {}
    with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as sb:
        def run(version: str) -> None:
            results[version] = promote(Request(
                repo=sb.repo_url(REPO), images=(f"ghcr.io/acme/web:{version}",),
                paths=("envs/prod/web",), env="prod", app="web", forge="github",
                validate=False, environ={"PROMOTER_TOKEN": SANDBOX_TOKEN}))

        threads = [threading.Thread(target=run, args=(v,)) for v in versions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pulls = list(sb.state.read("github")["pulls"][REPO].values())
    assert all(r.error is None for r in results.values()), [r.error for r in results.values()]
    assert len(pulls) == 1, pulls
    [pr] = pulls
    assert 'web:1.3.0"' in repos.read(REPO, FILE, BRANCH)
    assert pr["title"] == "Promote ghcr.io/acme/web to 1.3.0 in prod"
    assert {r.pr_number for r in results.values() if r.pr_number} == {1}
