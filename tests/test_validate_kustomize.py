"""The kustomize backend: render overlays with the real kubectl/kustomize, trace findings back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from validate_helpers import DEPLOYMENT, write_tree

from promoter.commands.validate import command
from promoter.validate import validate
from promoter.validate.kustomize import offline_env, render_command

pytestmark = pytest.mark.skipif(
    not (shutil.which("kustomize") or shutil.which("kubectl")),
    reason="neither kustomize nor kubectl is installed",
)


def base_and_overlay(tmp_path: Path, replicas: str = "1", patch: str | None = None) -> Path:
    files = {
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/deployment.yaml": DEPLOYMENT.format(replicas=replicas),
        "overlays/prod/kustomization.yaml": (
            "resources:\n  - ../../base\nnamePrefix: prod-\n"
            "images:\n  - name: ghcr.io/acme/web\n    newTag: '1.2.3'\n"
            + ("patches:\n  - path: patch.yaml\n" if patch else "")
        ),
    }
    if patch:
        files["overlays/prod/patch.yaml"] = patch
    return write_tree(tmp_path, files)


def test_valid_overlay_renders_clean(tmp_path: Path) -> None:
    root = base_and_overlay(tmp_path)
    assert validate([root], backend="schema", render_kustomize=True) == []


def test_error_from_a_patch_points_at_the_patch(tmp_path: Path) -> None:
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: three\n"
    )
    root = base_and_overlay(tmp_path, patch=patch)
    findings = validate([root], backend="schema", render_kustomize=True)
    (finding,) = findings  # the patch file itself is only linted, not schema-checked
    assert finding.backend == "kustomize"
    assert finding.file == str(root / "overlays/prod/patch.yaml")
    assert (finding.line, finding.column) == (6, 3)
    assert finding.name == "prod-web" and f"overlay {root / 'overlays/prod'}" in finding.message


def test_error_in_a_base_is_traced_through_the_overlay(tmp_path: Path) -> None:
    root = base_and_overlay(tmp_path, replicas='"two"')
    findings = validate([root / "overlays"], backend="schema", render_kustomize=True)
    (finding,) = findings
    assert finding.file.endswith("base/deployment.yaml") and finding.line == 6
    assert finding.name == "prod-web"


def test_render_failure_is_reported_on_the_kustomization(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"kustomization.yaml": "resources:\n  - missing.yaml\n"})
    (finding,) = validate([root], backend="schema", render_kustomize=True)
    assert finding.file == str(root / "kustomization.yaml") and finding.severity == "error"
    assert "rendering overlay" in finding.message and "missing.yaml" in finding.message


def test_cli_flag(tmp_path: Path) -> None:
    root = base_and_overlay(tmp_path, replicas='"two"')
    plain = CliRunner().invoke(command, [str(root), "--backend", "schema"])
    rendered = CliRunner().invoke(command, [str(root), "--backend", "schema", "--render-kustomize"])
    assert plain.exit_code == 3 and rendered.exit_code == 3
    assert "[kustomize]" in rendered.output and "[kustomize]" not in plain.output


def test_rendering_is_plugin_free_and_fenced_off_the_network(tmp_path: Path) -> None:
    args = render_command(tmp_path)
    assert args[1:] in (["build", str(tmp_path)], ["kustomize", str(tmp_path)])
    assert [a for a in args if a.startswith("-")] == []  # no --enable-helm/-alpha-plugins
    env = offline_env()
    assert (
        env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["GIT_ALLOW_PROTOCOL"] == "file"
    )
