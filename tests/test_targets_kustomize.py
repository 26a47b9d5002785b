"""kustomize target: images: entries in kustomizations, Flux Kustomization and HelmRelease."""

from __future__ import annotations

from promoter.setimage import build_request, plan
from promoter.yamledit.model import AppendItem, Change, DeletePair, SetScalar, format_path
from promoter.yamledit.parse import parse_text

D = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


def changes(
    text: str, *images: str, name: str = "kustomization.yaml", add: bool = False
) -> list[Change]:
    return plan(parse_text(text, name), build_request(images, add=add))[0]


def summary(chs: list[Change]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for c in chs:
        if isinstance(c, SetScalar):
            out.append(("set", format_path(c.node.path), c.new_value))
        elif isinstance(c, DeletePair):
            out.append(("delete", format_path(c.mapping.path), c.key))
        else:
            out.append(("append", c.key, repr(c.item)))
    return out


KUST = """\
resources:
- ../base
images:
- name: ghcr.io/acme/web
  newTag: "1.0"  # quoted
- name: web-alias
  newName: ghcr.io/acme/api
  newTag: 1.0
- name: nginx
  digest: {D}
  newTag: "1.25"
""".replace("{D}", D)


def test_by_name_and_new_name() -> None:
    assert summary(changes(KUST, "ghcr.io/acme/web:1.1", "ghcr.io/acme/api:2.0")) == [
        ("set", "images[0].newTag", "1.1"),
        ("set", "images[1].newTag", "2.0"),
    ]


def test_stale_digest_deleted_when_tag_changes() -> None:
    chs = changes(KUST, "docker.io/library/nginx:1.27")
    assert summary(chs) == [("set", "images[2].newTag", "1.27"), ("delete", "images[2]", "digest")]
    assert isinstance(chs[1], DeletePair) and chs[1].note and "digest removed" in chs[1].note


def test_same_tag_keeps_digest_and_new_digest_is_written() -> None:
    assert changes(KUST, "nginx:1.25") == []
    assert summary(changes(KUST, f"nginx:1.27@{D2}")) == [
        ("set", "images[2].newTag", "1.27"),
        ("set", "images[2].digest", D2),
    ]


def test_only_in_kustomizations() -> None:
    assert changes(KUST, "ghcr.io/acme/web:1.1", name="values.yaml") == []
    typed = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" + KUST
    assert summary(changes(typed, "ghcr.io/acme/web:1.1", name="comp.yaml")) == [
        ("set", "images[0].newTag", "1.1")
    ]
    assert summary(changes(KUST, "ghcr.io/acme/web:1.1", name="Kustomization")) == [
        ("set", "images[0].newTag", "1.1")
    ]


def test_add_missing_entry() -> None:
    chs = changes(KUST, "ghcr.io/acme/new:3", add=True)
    assert len(chs) == 1 and isinstance(chs[0], AppendItem)
    assert chs[0].item == (("name", "ghcr.io/acme/new"), ("newTag", "3"))
    assert chs[0].sequence is not None
    none = changes("resources:\n- a.yaml\n", "app:1", add=True)
    assert len(none) == 1 and isinstance(none[0], AppendItem) and none[0].sequence is None
    assert changes(KUST, "ghcr.io/acme/new:3") == []


def test_flux_kustomization_spec_images() -> None:
    text = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
spec:
  path: ./apps
  images:
  - name: ghcr.io/acme/web
    newTag: 1.0
"""
    assert summary(changes(text, "ghcr.io/acme/web:1.1", name="apps.yaml")) == [
        ("set", "spec.images[0].newTag", "1.1")
    ]


def test_helmrelease_post_renderers() -> None:
    text = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  postRenderers:
  - kustomize:
      images:
      - name: ghcr.io/acme/web
        newTag: 1.0
"""
    assert summary(changes(text, "ghcr.io/acme/web:1.1", name="release.yaml")) == [
        ("set", "spec.postRenderers[0].kustomize.images[0].newTag", "1.1")
    ]
