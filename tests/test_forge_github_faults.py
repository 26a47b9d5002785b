"""Reliability: 30 % of GitHub API calls answered 502 and one 429 (Retry-After: 1).

Ten promotions (ten apps) through ``promote --forge github`` must each end with
exactly one correct pull request. The fault injector is seeded, so the run is
reproducible; git traffic is not faulted (only ``/api/``).
"""

from __future__ import annotations

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory
from github_contract import Contract, validate_all

from promoter.promote import Request, promote
from promoter.sandbox import github_api
from promoter.sandbox.app import build_sandbox
from promoter.sandbox.faults import FaultInjector

REPO = "acme/manifests"
APPS = [f"app{i}" for i in range(10)]


def manifest(app: str, tag: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {app}\nspec:\n  containers:\n"
            f"    - name: {app}\n      image: ghcr.io/acme/{app}:{tag}  # pinned\n")


@pytest.mark.slow
def test_ten_promotions_survive_502s_and_a_429(repos: RepoFactory) -> None:
    repos.create(REPO, {f"envs/prod/{a}/pod.yaml": manifest(a, "1.0.0") for a in APPS})
    injector = FaultInjector(seed=20261126)
    injector.add("status=429,retry_after=1,times=1,skip=7,path=^/api/")
    injector.add("status=502,p=0.3,path=^/api/")
    sink = github_api.start_recording()
    try:
        with build_sandbox(repos.root, tokens=[SANDBOX_TOKEN], faults=injector) as sb:
            results = []
            for app in APPS:
                results.append(promote(Request(
                    repo=sb.repo_url(REPO), images=(f"ghcr.io/acme/{app}:1.1.0",),
                    paths=(f"envs/prod/{app}",), env="prod", app=app, forge="github",
                    labels=("promotion",), validate=False,
                    environ={"PROMOTER_TOKEN": SANDBOX_TOKEN},
                )))
            pulls = list(sb.state.read("github")["pulls"][REPO].values())
            base = sb.base_url
    finally:
        github_api.stop_recording(sink)
    contract = Contract.load()
    if contract is not None:  # the answers that were not faulted are GitHub's shapes
        validate_all(contract, sink, base)
    statuses = [i.status for i in injector.log]
    print(f"\n[faults] injected {statuses.count(502)} x 502 and {statuses.count(429)} x 429 "
          f"over {sum(f.seen for f in injector.faults[1:])} API calls")
    assert statuses.count(429) == 1 and statuses.count(502) >= 10
    for app, res in zip(APPS, results, strict=True):
        assert res.error is None, f"{app}: {res.error}"
        branch = f"promoter/main/prod/{app}"
        mine = [p for p in pulls if p["head"] == branch]
        assert len(mine) == 1, f"{app}: {len(mine)} PRs"
        [pr] = mine
        assert pr["state"] == "open" and pr["number"] == res.pr_number
        assert pr["title"] == f"Promote ghcr.io/acme/{app} to 1.1.0 in prod"
        assert pr["labels"] == ["promotion"]
        assert pr["head_sha"] == repos.rev(REPO, branch)
        assert f"ghcr.io/acme/{app}:1.1.0" in repos.read(REPO, f"envs/prod/{app}/pod.yaml", branch)
    assert len(pulls) == len(APPS)
