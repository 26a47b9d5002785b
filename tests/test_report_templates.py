"""The CI templates: valid YAML, inputs only through env, and their scripts run for real.

The composite action's ``run:`` script and the GitLab job's ``script:`` are executed
with bash against real repositories, with a ``promoter`` on PATH that is this
checkout's CLI, so the outputs they promise are the outputs promoter writes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import RepoFactory, make_git_env
from forge_helpers import deployment
from test_report import parse_github_output

from promoter.report import DOTENV_NAMES, OUTPUT_NAMES
from promoter.sandbox.app import build_sandbox

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "ci-templates" / "github" / "action.yml"
GITLAB = ROOT / "ci-templates" / "gitlab" / "promote.gitlab-ci.yml"
TOKEN = "templates-token-0123456789"
FILE = "envs/prod/web/deployment.yaml"
DEPLOYMENT = deployment("ghcr.io/acme/web:1.0.0")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def fake_promoter(tmp: Path) -> Path:
    """A bin directory whose ``promoter`` runs this checkout's CLI."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    script = bin_dir / "promoter"
    script.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c "
        "'import sys; from promoter.cli import main; sys.exit(main())' \"$@\"\n"
    )
    script.chmod(0o755)
    return bin_dir


def test_templates_parse_as_yaml() -> None:
    assert load(ACTION)["runs"]["using"] == "composite"
    assert ".promoter" in load(GITLAB)


def test_action_passes_inputs_only_through_env() -> None:
    action = load(ACTION)
    steps = action["runs"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs
    for script in runs:
        assert "${{" not in script, script
    [promote] = [s for s in steps if s.get("id") == "promote"]
    env_refs = set(re.findall(r"inputs\.([\w-]+)", " ".join(map(str, promote["env"].values()))))
    assert env_refs == set(action["inputs"]) - {"python-version"}
    assert "token" in env_refs and "PROMOTER_TOKEN" in promote["env"]


def test_action_outputs_are_the_ones_promoter_writes() -> None:
    outputs = load(ACTION)["outputs"]
    assert set(outputs) == set(OUTPUT_NAMES)
    for name, spec in outputs.items():
        assert spec["value"] == "${{ steps.promote.outputs." + name + " }}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_action_script_runs_and_promoter_fills_the_outputs(
    repos: RepoFactory, tmp_path: Path
) -> None:
    repos.create("acme/manifests", {FILE: DEPLOYMENT})
    [step] = [s for s in load(ACTION)["runs"]["steps"] if s.get("id") == "promote"]
    work = tmp_path / "job"
    work.mkdir()
    env = make_git_env({
        "PATH": f"{fake_promoter(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(work / "output"), "GITHUB_STEP_SUMMARY": str(work / "summary"),
        "GITHUB_ACTIONS": "true",
        "PROMOTER_TOKEN": "", "IN_REPO": repos.file_url("acme/manifests"),
        "IN_IMAGE": "ghcr.io/acme/web:1.1.0\n", "IN_PATH": "envs/prod/web", "IN_BASE": "main",
        "IN_MODE": "pr", "IN_ENV": "prod", "IN_APP": "web", "IN_LABELS": "",
        "IN_REVIEWERS": "", "IN_AUTO_MERGE": "",
    })
    proc = subprocess.run(["bash", "-c", step["run"]], env=env, cwd=work, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = parse_github_output((work / "output").read_text())
    assert out["status"] == "changed" and out["branch"] == "promoter/main/prod/web"
    assert set(out) == set(OUTPUT_NAMES)
    assert "### promoter: promoted" in (work / "summary").read_text()

    # A run that fails before promoter can write anything still reports status=failed.
    env["IN_MODE"] = "sideways"
    env["GITHUB_OUTPUT"] = str(work / "output2")  # the runner gives every step a new file
    bad = subprocess.run(["bash", "-c", step["run"]], env=env, cwd=work, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2
    assert (work / "output2").read_text() == "status=failed\n"


def test_gitlab_template_uses_the_dotenv_report() -> None:
    job = load(GITLAB)[".promoter"]
    script = "\n".join(job["script"])
    assert "--dotenv promoter.env" in script and "python -" not in script
    assert job["artifacts"]["reports"]["dotenv"] == "promoter.env"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gitlab_script_runs_and_writes_the_dotenv(repos: RepoFactory, tmp_path: Path) -> None:
    project = "group/manifests"
    repos.create(project, {FILE: DEPLOYMENT})
    job = load(GITLAB)[".promoter"]
    work = tmp_path / "job"
    work.mkdir()
    with build_sandbox(repos.root, tokens=[TOKEN]) as sb:
        env = make_git_env({
            "PATH": f"{fake_promoter(tmp_path)}{os.pathsep}{os.environ['PATH']}",
            **{k: str(v) for k, v in job["variables"].items()},
            "GITLAB_TOKEN": TOKEN, "PROMOTER_REPO": sb.repo_url(project),
            "PROMOTER_IMAGE": "ghcr.io/acme/web:1.1.0", "PROMOTER_PATH": "envs/prod/web",
            "PROMOTER_ENV": "prod",
        })
        proc = subprocess.run(["bash", "-c", "\n".join(job["script"])], env=env, cwd=work,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values = dict(line.split("=", 1) for line in (work / "promoter.env").read_text().splitlines())
    assert list(values) == list(DOTENV_NAMES)
    assert values["PROMOTER_STATUS"] == "changed"
    assert values["PROMOTER_PR_URL"].endswith(f"/{project}/-/merge_requests/1")
    assert TOKEN not in (work / "promoter.env").read_text()
