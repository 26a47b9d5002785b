"""The image policy: allowed registries, no latest/untagged, digest required."""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.imageref import parse
from promoter.validate.loader import load_text
from promoter.validate.policy import ImageUse, PolicyConfig, PolicyValidator, check_images

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "config", "problems"),
    [
        ("ghcr.io/acme/web:1.2.3", PolicyConfig(), 0),
        ("ghcr.io/acme/web:latest", PolicyConfig(), 1),
        ("ghcr.io/acme/web", PolicyConfig(), 1),
        (f"ghcr.io/acme/web@{DIGEST}", PolicyConfig(), 0),
        (f"ghcr.io/acme/web:latest@{DIGEST}", PolicyConfig(), 1),
        ("ghcr.io/acme/web", PolicyConfig(forbid_untagged=False), 0),
        ("ghcr.io/acme/web:latest", PolicyConfig(forbid_latest=False), 0),
        ("ghcr.io/acme/web:1.2.3", PolicyConfig(require_digest=True), 1),
        (f"ghcr.io/acme/web:1.2.3@{DIGEST}", PolicyConfig(require_digest=True), 0),
        ("ghcr.io/acme/web:1", PolicyConfig(allowed_registries=("ghcr.io",)), 0),
        ("ghcr.io/acme/web:1", PolicyConfig(allowed_registries=("ghcr.io/acme",)), 0),
        ("ghcr.io/other/web:1", PolicyConfig(allowed_registries=("ghcr.io/acme",)), 1),
        ("ghcr.io/acmecorp/web:1", PolicyConfig(allowed_registries=("ghcr.io/acme",)), 1),
        ("nginx:1.25", PolicyConfig(allowed_registries=("docker.io",)), 0),
        ("nginx:1.25", PolicyConfig(allowed_registries=("ghcr.io",)), 1),
        ("nginx", PolicyConfig(allowed_registries=("ghcr.io",), require_digest=True), 3),
        ("Not A Ref", PolicyConfig(), 1),
    ],
)
def test_rules(image: str, config: PolicyConfig, problems: int) -> None:
    findings = check_images([image], config)
    assert len(findings) == problems, [f.message for f in findings]
    assert all(f.backend == "policy" and f.severity == "error" for f in findings)


def test_accepts_parsed_references_and_located_uses() -> None:
    (finding,) = check_images([parse("nginx")], PolicyConfig())
    assert "means 'latest'" in finding.message
    use = ImageUse("ghcr.io/acme/web:latest", file="d.yaml", line=9, column=18, kind="Deployment")
    (finding,) = check_images([use], PolicyConfig())
    assert (finding.file, finding.line, finding.column, finding.kind) == (
        "d.yaml",
        9,
        18,
        "Deployment",
    )


def test_validator_finds_container_images_with_lines(tmp_path: Path) -> None:
    text = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n"
        "  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          initContainers:\n            - name: init\n              image: busybox\n"
        "          containers:\n            - name: job\n"
        "              image: ghcr.io/acme/job:2.0.0\n"
    )
    source = load_text(text, "cron.yaml")
    (finding,) = PolicyValidator(PolicyConfig()).check([source])
    assert finding.line == 12 and finding.name == "nightly"
    assert finding.path == "/spec/jobTemplate/spec/template/spec/initContainers/0/image"
