"""The kubeconform backend, run against a stand-in that replays recorded kubeconform runs."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from promoter.commands.validate import command
from promoter.validate import run, validate
from promoter.validate.kubeconform import (
    KubeconformFailed,
    KubeconformValidator,
    build_args,
    leaf_errors,
)
from promoter.validate.loader import load_path
from promoter.validate.registry import SchemaRegistry

HERE = Path(__file__).resolve().parent
STAND_IN = HERE / "fixtures" / "kubeconform" / "kubeconform"
SAMPLES = HERE.parents[1] / "shared" / "kubeconform-output-samples"
INPUTS = SAMPLES / "inputs"

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="shared/kubeconform-output-samples is not beside the repository"
)


@pytest.fixture(autouse=True)
def _samples_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFORM_SAMPLES", str(SAMPLES))


def inputs(tmp_path: Path, *names: str) -> list[Path]:
    """Copies of the recorded inputs (the stand-in checks their bytes)."""
    out = []
    for name in names:
        target = tmp_path / name
        target.write_bytes((INPUTS / name).read_bytes())
        out.append(target)
    return out


def test_leaf_errors_flatten_kubeconforms_message() -> None:
    data = json.loads((SAMPLES / "outputs" / "output-json.stdout").read_text())
    deployment = next(r for r in data["resources"] if r["kind"] == "Deployment")
    leaves = sorted(leaf_errors(deployment["msg"]))
    assert leaves == [
        ("/spec", "additional properties 'replica' not allowed"),
        ("/spec/replicas", "got string, want null or integer"),
        (
            "/spec/template/spec/containers/0",
            "additional properties 'imagePullPolicyy' not allowed",
        ),
        ("/spec/template/spec/containers/0", "missing property 'name'"),
    ]


def test_findings_have_the_schema_backends_lines(tmp_path: Path) -> None:
    files = inputs(tmp_path, "valid.yaml", "invalid.yaml")
    ours = validate(files, backend="schema")
    theirs = validate(files, backend="kubeconform", kubeconform=str(STAND_IN))
    assert {f.backend for f in theirs} == {"kubeconform"}
    assert sorted((f.file, f.line, f.column, f.path, f.kind, f.name) for f in theirs) == sorted(
        (f.file, f.line, f.column, f.path, f.kind, f.name) for f in ours
    )


def test_result_order_does_not_matter(tmp_path: Path) -> None:
    (source,) = [load_path(p) for p in inputs(tmp_path, "invalid.yaml")]
    data = json.loads((SAMPLES / "outputs" / "output-json.stdout").read_text())
    validator = KubeconformValidator(str(STAND_IN))
    baseline = None
    for seed in range(5):
        results = [dict(r, filename=str(source.path)) for r in data["resources"]]
        random.Random(seed).shuffle(results)
        found = []
        used: set = set()  # type: ignore[type-arg]
        for result in results:
            found.extend(validator._findings(source, result, used))
        key = sorted((f.line, f.path, f.message) for f in found)
        baseline = baseline or key
        assert key == baseline


def test_missing_schema_is_skipped_or_an_error(tmp_path: Path) -> None:
    files = inputs(tmp_path, "valid.yaml", "missing-schema.yaml")
    (skipped,) = validate(files, backend="kubeconform", kubeconform=str(STAND_IN))
    assert skipped.severity == "info" and skipped.skipped and skipped.kind == "Widget"
    (err,) = validate(files, backend="kubeconform", kubeconform=str(STAND_IN), strict_kinds=True)
    assert err.severity == "error" and err.line == 1


def test_parse_and_duplicate_key_errors_are_reported_once_with_lines(tmp_path: Path) -> None:
    files = inputs(tmp_path, "valid.yaml", "parse-error.yaml")
    (parse,) = validate(files, backend="kubeconform", kubeconform=str(STAND_IN))
    assert parse.backend == "lint" and parse.line == 8
    (dup,) = validate(
        inputs(tmp_path, "duplicate-key.yaml"), backend="kubeconform", kubeconform=str(STAND_IN)
    )
    assert dup.line == 7 and "duplicate key" in dup.message


def test_crds_use_our_offline_crd_schemas(tmp_path: Path) -> None:
    (finding,) = validate(
        inputs(tmp_path, "crds.yaml"), backend="kubeconform", kubeconform=str(STAND_IN)
    )
    assert (finding.kind, finding.path, finding.line) == ("Kustomization", "/images/0/newTag", 24)


def test_missing_kind_is_an_error(tmp_path: Path) -> None:
    (finding,) = validate(
        inputs(tmp_path, "missing-kind.yaml"), backend="kubeconform", kubeconform=str(STAND_IN)
    )
    assert finding.severity == "error" and "missing 'kind'" in finding.message


def test_bare_kustomization_is_checked_by_us_not_kubeconform(tmp_path: Path) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_text("resources: []\nimages:\n  - name: web\n    newTag: 1.10\n")
    # The stand-in has no recording for this file: had it been passed on, this would fail.
    (finding,) = validate([path], backend="kubeconform", kubeconform=str(STAND_IN))
    assert finding.backend == "schema" and finding.line == 4


def test_tool_failure_is_a_usage_error(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(KubeconformFailed, match="no recording"):
        validate([other], backend="kubeconform", kubeconform=str(STAND_IN))
    result = CliRunner().invoke(command, [str(other), "--kubeconform", str(STAND_IN)])
    assert result.exit_code == 2 and "without a JSON report" in result.output


def test_arguments_are_offline_unless_default_is_asked_for(tmp_path: Path) -> None:
    registry = SchemaRegistry("1.33.0", [str(tmp_path)])
    args = build_args("kubeconform", registry, ["a.yaml"])
    assert args[:5] == ["kubeconform", "-strict", "-summary", "-output", "json"]
    locations = [args[i + 1] for i, a in enumerate(args) if a == "-schema-location"]
    assert locations and all(Path(loc.split("{{")[0]).is_absolute() for loc in locations)
    assert all("://" not in loc and loc != "default" for loc in locations)
    assert not any(loc.startswith("{{") for loc in locations)
    with_default = build_args("kubeconform", SchemaRegistry("1.33.0", ["default"]), ["a.yaml"])
    assert with_default[with_default.index("-schema-location") + 1] == "default"


def test_auto_prefers_kubeconform_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{STAND_IN.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    report = run(inputs(tmp_path, "valid.yaml"))
    assert report.backend == "kubeconform" and report.ok
    assert run(inputs(tmp_path, "valid.yaml"), backend="schema").backend == "schema"


def test_explicit_kubeconform_backend_without_binary_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    files = inputs(tmp_path, "valid.yaml")
    result = CliRunner().invoke(command, [str(files[0]), "--backend", "kubeconform"])
    assert result.exit_code == 2 and "kubeconform was not found" in result.output
    assert run(files).backend == "schema"
