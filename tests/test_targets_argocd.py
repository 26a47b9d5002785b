"""argocd target: Application/ApplicationSet sources and .argocd-source overrides."""

from __future__ import annotations

from promoter.setimage import build_request, plan
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text


def sets(text: str, *images: str, name: str = "app.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request(images))
    return sorted(
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    )


APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  sources:
  - repoURL: https://charts.example.com
    chart: web
    helm:
      parameters:
      - name: image.repository
        value: ghcr.io/acme/web
      - name: image.tag
        value: "1.0"
      - name: worker.image
        value: ghcr.io/acme/worker:1.0
      valuesObject:
        sidecar:
          image:
            repository: ghcr.io/acme/sidecar
            tag: 1.0
      values: |
        image:
          tag: 1.0
  - repoURL: https://git.example.com/deploy
    kustomize:
      images:
      - ghcr.io/acme/web:1.0
      - api=ghcr.io/acme/api:1.0
"""


def test_parameters_values_object_and_kustomize_images() -> None:
    got = sets(
        APP,
        "ghcr.io/acme/web:2.0",
        "ghcr.io/acme/worker:2.0",
        "ghcr.io/acme/sidecar:2.0",
        "ghcr.io/acme/api:2.0",
    )
    assert got == [
        ("argocd", "spec.sources[0].helm.parameters[1].value", "2.0"),
        ("argocd", "spec.sources[0].helm.parameters[2].value", "ghcr.io/acme/worker:2.0"),
        ("argocd", "spec.sources[0].helm.valuesObject.sidecar.image.tag", "2.0"),
        ("argocd", "spec.sources[1].kustomize.images[0]", "ghcr.io/acme/web:2.0"),
        ("argocd", "spec.sources[1].kustomize.images[1]", "api=ghcr.io/acme/api:2.0"),
    ]


def test_alias_matches_too() -> None:
    text = APP.replace("api=ghcr.io/acme/api:1.0", "ghcr.io/acme/api=mirror.local/api:1.0")
    want = ("argocd", "spec.sources[1].kustomize.images[1]", "ghcr.io/acme/api=mirror.local/api:3")
    assert want in sets(text, "ghcr.io/acme/api:3")


def test_source_override_file() -> None:
    text = (
        "helm:\n  parameters:\n  - name: image.tag\n    value: 1.0\n"
        "  - name: image.repository\n    value: app\n"
    )
    assert sets(text, "app:1.1", name=".argocd-source-web.yaml") == [
        ("argocd", "helm.parameters[0].value", "1.1")
    ]


def test_other_kinds_ignored() -> None:
    text = APP.replace("kind: Application", "kind: AppProject")
    assert sets(text, "ghcr.io/acme/web:2.0") == []
