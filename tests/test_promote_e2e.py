"""End-to-end promotions on real bare repositories, over file:// and smart HTTP with auth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SANDBOX_TOKEN, RepoFactory

from promoter.promote import PromotionResult, Request, promote
from promoter.sandbox.server import Sandbox

REPO = "acme/manifests"
BRANCH = "promoter/main/envs-prod-web/web"


def deployment(name: str, image: str, replicas: int = 2) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}  # the {name} service
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: "{image}"   # promoted by CI
          ports:
            - containerPort: 8080
"""


FILES = {
    "envs/prod/web/deployment.yaml": deployment("web", "ghcr.io/acme/web:1.0.0"),
    "envs/prod/api/deployment.yaml": deployment("api", "ghcr.io/acme/api:2.0.0"),
    "envs/dev/web/deployment.yaml": deployment("web", "ghcr.io/acme/web:1.0.0"),
    "README.md": "manifests\n",
}


@dataclass
class Target:
    repos: RepoFactory
    url: str
    environ: dict[str, str]

    def run(self, image: str = "ghcr.io/acme/web:1.1.0", **kw: object) -> PromotionResult:
        params: dict[str, object] = {
            "repo": self.url,
            "images": (image,),
            "paths": ("envs/prod/web",),
            "environ": self.environ,
        }
        params.update(kw)
        return promote(Request(**params))  # type: ignore[arg-type]

    def read(self, path: str = "envs/prod/web/deployment.yaml", ref: str = BRANCH) -> str:
        return self.repos.read(REPO, path, ref)


@pytest.fixture(params=["file", "http"])
def target(request: pytest.FixtureRequest, repos: RepoFactory) -> Iterator[Target]:
    repos.create(REPO, FILES)
    if request.param == "file":
        yield Target(repos, repos.file_url(REPO), {})
        return
    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        yield Target(repos, server.repo_url(REPO), {"PROMOTER_TOKEN": SANDBOX_TOKEN})


def test_first_promotion_then_rerun_is_a_no_op(target: Target) -> None:
    base_before = target.repos.rev(REPO)
    first = target.run()
    assert first.status == "changed", first.error
    assert first.branch == BRANCH
    assert first.commit == target.repos.rev(REPO, BRANCH)
    assert 'image: "ghcr.io/acme/web:1.1.0"   # promoted by CI' in target.read()
    # Only the image changed: every other byte is the same.
    assert target.read() == FILES["envs/prod/web/deployment.yaml"].replace("1.0.0", "1.1.0")
    assert target.repos.rev(REPO) == base_before  # base untouched in pr mode
    assert target.repos.rev(REPO, f"{BRANCH}~1") == base_before
    message = target.repos.log(REPO, BRANCH, "%B")
    assert message[0] == "promote ghcr.io/acme/web to 1.1.0 in envs/prod/web"
    assert "Promoted-Image: ghcr.io/acme/web:1.1.0" in message
    assert "Previous-Image: ghcr.io/acme/web:1.0.0" in message
    assert "Promoted-By: promoter 0.1.0" in message
    assert [e["file"] for e in first.edits] == ["envs/prod/web/deployment.yaml"]

    again = target.run()
    assert again.status == "up-to-date", again.error
    assert again.exit_code == 0
    assert target.repos.rev(REPO, BRANCH) == first.commit


def test_newer_version_updates_the_same_branch(target: Target) -> None:
    target.run()
    newer = target.run("ghcr.io/acme/web:1.2.0")
    assert newer.status == "changed", newer.error
    assert newer.branch == BRANCH
    assert "ghcr.io/acme/web:1.2.0" in target.read()
    # Rebuilt from base: one promotion commit, not a stack.
    assert target.repos.rev(REPO, f"{BRANCH}~1") == target.repos.rev(REPO)
    assert "Previous-Image: ghcr.io/acme/web:1.0.0" in target.repos.log(REPO, BRANCH, "%B")


def test_older_version_does_not_replace_a_newer_branch(target: Target) -> None:
    target.run("ghcr.io/acme/web:1.2.0")
    tip = target.repos.rev(REPO, BRANCH)
    older = target.run("ghcr.io/acme/web:1.1.0")
    assert older.status == "up-to-date", older.error
    assert target.repos.rev(REPO, BRANCH) == tip


def test_base_moved_with_unrelated_change_rebuilds_branch(target: Target) -> None:
    target.run()
    moved = target.repos.commit(REPO, {"README.md": "manifests v2\n"}, "docs")
    again = target.run()
    assert again.status == "changed", again.error
    assert target.repos.rev(REPO, f"{BRANCH}~1") == moved
    assert target.read("README.md") == "manifests v2\n"
    assert "ghcr.io/acme/web:1.1.0" in target.read()


def test_base_moved_with_change_to_same_file_is_reapplied(target: Target) -> None:
    target.run()
    path = "envs/prod/web/deployment.yaml"
    scaled = FILES[path].replace("replicas: 2", "replicas: 5")
    moved = target.repos.commit(REPO, {path: scaled}, "scale web")
    again = target.run()
    assert again.status == "changed", again.error
    assert target.repos.rev(REPO, f"{BRANCH}~1") == moved
    assert target.read() == scaled.replace("1.0.0", "1.1.0")


def test_foreign_commit_on_branch_is_kept(target: Target) -> None:
    target.run()
    target.repos.commit(REPO, {"envs/prod/web/NOTES.md": "checked by a human\n"},
                        "add rollout notes", branch=BRANCH)
    target.repos.commit(REPO, {"README.md": "manifests v2\n"}, "docs")  # base moves too
    again = target.run("ghcr.io/acme/web:1.2.0")
    assert again.status == "changed", again.error
    assert target.read("envs/prod/web/NOTES.md") == "checked by a human\n"
    assert "ghcr.io/acme/web:1.2.0" in target.read()
    assert target.read("README.md") == "manifests v2\n"
    subjects = target.repos.log(REPO, f"main..{BRANCH}")
    assert subjects == ["promote ghcr.io/acme/web to 1.2.0 in envs/prod/web", "add rollout notes"]


def test_conflicting_foreign_commit_stops_without_discarding(target: Target) -> None:
    target.run()
    path = "envs/prod/web/deployment.yaml"
    human = target.repos.commit(
        REPO, {path: FILES[path].replace("replicas: 2", "replicas: 3")}, "human scale",
        branch=BRANCH,
    )
    target.repos.commit(REPO, {path: FILES[path].replace("replicas: 2", "replicas: 4")}, "base")
    result = target.run("ghcr.io/acme/web:1.2.0")
    assert result.status == "failed"
    assert result.exit_code == 1
    assert "not made by promoter" in (result.error or "")
    assert target.repos.rev(REPO, BRANCH) == human


def test_validation_failure_pushes_nothing(target: Target) -> None:
    pytest.importorskip("promoter.validate.api")
    path = "envs/prod/web/deployment.yaml"
    target.repos.commit(REPO, {path: FILES[path].replace("replicas: 2", "replicas: two")}, "bad")
    base = target.repos.rev(REPO)
    for mode in ("pr", "push"):
        result = target.run(mode=mode)
        assert result.status == "failed"
        assert result.exit_code == 3
        assert any(f["severity"] == "error" and f["file"] == path for f in result.findings)
    assert target.repos.rev(REPO) == base
    assert BRANCH not in target.repos.branches(REPO)
    skipped = target.run(validate=False)
    assert skipped.status == "changed"


def test_push_mode_commits_on_base(target: Target) -> None:
    result = target.run(mode="push", paths=("envs/dev",), author="Jane Doe <jane@example.com>")
    assert result.status == "changed", result.error
    assert result.branch == "main"
    assert target.repos.rev(REPO) == result.commit
    assert "ghcr.io/acme/web:1.1.0" in target.read("envs/dev/web/deployment.yaml", "main")
    assert target.repos.log(REPO, "main", "%an <%ae>|%cn <%ce>")[0] == (
        "Jane Doe <jane@example.com>|Jane Doe <jane@example.com>"
    )
    again = target.run(mode="push", paths=("envs/dev",))
    assert again.status == "up-to-date"
    assert target.repos.rev(REPO) == result.commit


def test_dry_run_prints_diff_and_pushes_nothing(target: Target) -> None:
    before = target.repos.branches(REPO), target.repos.rev(REPO)
    result = target.run(dry_run=True)
    assert result.status == "dry-run"
    assert "+++ b/envs/prod/web/deployment.yaml" in result.diff
    assert '+          image: "ghcr.io/acme/web:1.1.0"   # promoted by CI' in result.diff
    assert result.message.startswith("promote ghcr.io/acme/web to 1.1.0")
    assert (target.repos.branches(REPO), target.repos.rev(REPO)) == before


def test_image_not_pinned_is_an_error(target: Target) -> None:
    result = target.run("ghcr.io/acme/other:1.0.0")
    assert result.status == "failed"
    assert "pins ghcr.io/acme/other" in (result.error or "")


def test_wrong_token_is_a_clear_error_without_the_token(repos: RepoFactory) -> None:
    repos.create(REPO, FILES)
    wrong = "wrong-token-5f1e2d3c"
    with Sandbox(repos.root, tokens=[SANDBOX_TOKEN]) as server:
        result = promote(Request(repo=server.repo_url(REPO), images=("ghcr.io/acme/web:1.1.0",),
                                 paths=("envs/prod",), environ={"PROMOTER_TOKEN": wrong}))
        missing = promote(Request(repo=server.repo_url(REPO), images=("ghcr.io/acme/web:1.1.0",),
                                  paths=("envs/prod",), environ={}))
    assert result.status == "failed" and result.exit_code == 1
    error = result.error or ""
    assert "authentication failed" in error
    assert "token from PROMOTER_TOKEN" in error
    assert "git clone" in error
    assert wrong not in error and wrong not in repr(result)
    assert "no token" in (missing.error or "")


def test_server_without_partial_clone_falls_back(repos: RepoFactory) -> None:
    repos.create(REPO, FILES)
    with Sandbox(repos.root, git_config={"uploadpack.allowFilter": "false"}) as server:
        result = promote(Request(repo=server.repo_url(REPO), images=("ghcr.io/acme/web:1.1.0",),
                                 paths=("envs/prod/web",), environ={}))
    assert result.status == "changed", result.error
    assert any("partial clone" in m for m in result.messages)
    assert "ghcr.io/acme/web:1.1.0" in repos.read(REPO, "envs/prod/web/deployment.yaml", BRANCH)


def test_local_path_and_env_app_names(repos: RepoFactory, tmp_path: Path) -> None:
    repos.create(REPO, FILES)
    result = promote(Request(repo=str(repos.path(REPO)), images=("ghcr.io/acme/web:1.1.0",),
                             paths=("envs/prod/web", "envs/dev/web"), env="prod & dev",
                             app="Web App", environ={}, workdir=str(tmp_path / "co")))
    assert result.status == "changed", result.error
    assert result.branch == "promoter/main/prod-dev/Web-App"
    assert len(result.edits) == 2
    # The checkout was sparse: only the promotion's paths are in the work tree.
    assert not (tmp_path / "co" / "envs" / "prod" / "api").exists()
    assert (tmp_path / "co" / "envs" / "prod" / "web" / "deployment.yaml").exists()


def test_single_file_path(target: Target) -> None:
    result = target.run(paths=("envs/prod/web/deployment.yaml",), env="prod")
    assert result.status == "changed", result.error
    assert result.branch == "promoter/main/prod/web"
    assert "ghcr.io/acme/web:1.1.0" in target.read(ref=result.branch)
    assert target.repos.log(REPO, result.branch)[0] == "promote ghcr.io/acme/web to 1.1.0 in prod"


def test_cli_text_and_exit_codes(repos: RepoFactory, tmp_path: Path) -> None:
    pytest.importorskip("promoter.validate.api")
    from click.testing import CliRunner

    from promoter.cli import main

    path = "envs/prod/web/deployment.yaml"
    repos.create(REPO, {path: FILES[path].replace("replicas: 2", "replicas: two")})
    url = repos.file_url(REPO)
    runner = CliRunner()
    args = ["promote", "--repo", url, "--image", "ghcr.io/acme/web:1.1.0", "--path", "envs"]
    bad = runner.invoke(main, args, env={"GIT_CONFIG_GLOBAL": "/dev/null"})
    assert bad.exit_code == 3, bad.output
    assert "validation failed" in bad.output
    assert f"error: {path}:" in bad.output
    dry = runner.invoke(main, [*args, "--dry-run", "--no-validate"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and '+          image: "ghcr.io/acme/web:1.1.0"' in dry.output
    ok = runner.invoke(main, [*args, "--no-validate", "--output", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"status": "changed"' in ok.output


def test_merged_branch_is_reused(target: Target) -> None:
    first = target.run()
    # The pull request was merged by fast-forward; the branch was not deleted.
    from conftest import run_git

    run_git("update-ref", "refs/heads/main", str(first.commit), cwd=target.repos.path(REPO))
    again = target.run()
    assert again.status == "up-to-date", again.error
    newer = target.run("ghcr.io/acme/web:1.2.0")
    assert newer.status == "changed", newer.error
    assert target.repos.log(REPO, f"main..{BRANCH}") == [
        "promote ghcr.io/acme/web to 1.2.0 in envs/prod/web"
    ]
    assert "Previous-Image: ghcr.io/acme/web:1.1.0" in target.repos.log(REPO, BRANCH, "%B")
    # Found without downloading the whole history.
    assert not any("shallow-exclude" in m for m in again.messages + newer.messages)


def test_missing_base_branch_is_a_clear_error(target: Target) -> None:
    result = target.run(base="release")
    assert result.status == "failed"
    assert "the base branch 'release' does not exist" in (result.error or "")


def test_ssh_url(repos: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh transport, with a stand-in ssh that runs the remote command locally."""
    repos.create(REPO, FILES)
    fake = tmp_path / "fakessh"
    fake.write_text('#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake))
    monkeypatch.setenv("GIT_SSH_VARIANT", "simple")
    url = f"ssh://git@localhost{repos.path(REPO)}"
    result = promote(Request(repo=url, images=("ghcr.io/acme/web:1.1.0",),
                             paths=("envs/prod/web",), environ={}))
    assert result.status == "changed", result.error
    assert "ghcr.io/acme/web:1.1.0" in repos.read(REPO, "envs/prod/web/deployment.yaml", BRANCH)


def test_missing_path_is_a_clear_error(target: Target) -> None:
    result = target.run(paths=("envs/prod/web", "envs/nope"))
    assert result.status == "failed"
    assert "--path envs/nope does not exist on branch main" in (result.error or "")
    assert BRANCH not in target.repos.branches(REPO)


def test_foreign_commit_outside_the_sparse_paths_is_kept(target: Target) -> None:
    target.run()
    dev = "envs/dev/web/deployment.yaml"
    changed = FILES[dev].replace("replicas: 2", "replicas: 1")
    target.repos.commit(REPO, {dev: changed}, "scale dev down", branch=BRANCH)
    target.repos.commit(REPO, {"README.md": "manifests v3\n"}, "docs")
    again = target.run("ghcr.io/acme/web:1.2.0")
    assert again.status == "changed", again.error
    assert target.read(dev) == changed
    assert "ghcr.io/acme/web:1.2.0" in target.read()
    assert target.repos.log(REPO, f"main..{BRANCH}") == [
        "promote ghcr.io/acme/web to 1.2.0 in envs/prod/web", "scale dev down"
    ]
