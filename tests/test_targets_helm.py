"""helm target: values shapes, only in values files and values blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.setimage import build_request, plan
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text

D = "sha256:" + "a" * 64


def sets(text: str, *images: str, name: str = "values.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request(images))
    return sorted(
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    )


@pytest.mark.parametrize(
    ("text", "path", "new"),
    [
        ('image: "ghcr.io/acme/web:1.0"\n', "image", "ghcr.io/acme/web:2.0"),
        ("image:\n  repository: ghcr.io/acme/web\n  tag: 1.0\n", "image.tag", "2.0"),
        (
            "image:\n  registry: ghcr.io\n  repository: acme/web\n  tag: '1.0'\n",
            "image.tag",
            "2.0",
        ),
        ("image:\n  name: ghcr.io/acme/web\n  tag: 1.0\n", "image.tag", "2.0"),
        ("web:\n  image: ghcr.io/acme/web\n  tag: 1.0\n", "web.tag", "2.0"),
        (
            "sidecar:\n  initImage: ghcr.io/acme/web:1.0\n",
            "sidecar.initImage",
            "ghcr.io/acme/web:2.0",
        ),
    ],
)
def test_shapes(text: str, path: str, new: str) -> None:
    assert sets(text, "ghcr.io/acme/web:2.0") == [("helm", path, new)]


def test_registry_repository_tag_digest_clears_stale_digest() -> None:
    text = (
        f"image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.0\n  digest: {D}\n"
    )
    changes, _ = plan(parse_text(text, "values.yaml"), build_request(["bitnami/nginx:2.0"]))
    got = [(format_path(c.node.path), c.new_value) for c in changes if isinstance(c, SetScalar)]
    assert got == [("image.tag", "2.0"), ("image.digest", "")]
    assert any(isinstance(c, SetScalar) and c.note and "digest cleared" in c.note for c in changes)
    d2 = "sha256:" + "c" * 64
    assert sets(text, f"bitnami/nginx:2.0@{d2}") == [
        ("helm", "image.digest", d2),
        ("helm", "image.tag", "2.0"),
    ]


def test_other_repositories_and_non_images_untouched() -> None:
    text = "image:\n  repository: ghcr.io/acme/webx\n  tag: 1.0\nrepository: https://charts.example.com\n"
    assert sets(text, "ghcr.io/acme/web:2") == []


def test_not_inside_kubernetes_objects() -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: ghcr.io/acme/web:1.0\n"
    assert sets(cm, "ghcr.io/acme/web:2.0", name="cm.yaml") == []
    embedded = (
        "extraObjects:\n- apiVersion: v1\n  kind: ConfigMap\n  data:\n"
        "    image: ghcr.io/acme/web:1.0\nimage: ghcr.io/acme/web:1.0\n"
    )
    assert sets(embedded, "ghcr.io/acme/web:2.0") == [("helm", "image", "ghcr.io/acme/web:2.0")]


def test_helmrelease_values() -> None:
    text = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  values:
    image:
      repository: ghcr.io/acme/web
      tag: 1.0
"""
    assert sets(text, "ghcr.io/acme/web:1.10", name="release.yaml") == [
        ("helmrelease", "spec.values.image.tag", "1.10")
    ]


def test_anchored_tag_changed_once() -> None:
    text = (
        "common: &tag 1.0\nimage:\n  repository: app\n  tag: *tag\n"
        "other:\n  repository: app\n  tag: *tag\n"
    )
    assert sets(text, "app:2") == [("helm", "common", "2")]


def test_repository_without_tag_gets_one(tmp_path: Path) -> None:
    from promoter.setimage import set_image

    f = tmp_path / "values.yaml"
    f.write_text(
        "image:\n  repository: ghcr.io/acme/web  # no tag: appVersion\n  pullPolicy: Always\n"
    )
    result = set_image([f], ["ghcr.io/acme/web:1.10"])
    assert not result.errors
    assert f.read_text() == (
        "image:\n  repository: ghcr.io/acme/web  # no tag: appVersion\n  pullPolicy: Always\n"
        '  tag: "1.10"\n'
    )
    assert result.edits[0].note and "added tag" in result.edits[0].note
    flow = tmp_path / "flow.yaml"
    flow.write_text("image: {repository: ghcr.io/acme/web}\n")
    assert set_image([flow], ["ghcr.io/acme/web:2"]).edits == []
