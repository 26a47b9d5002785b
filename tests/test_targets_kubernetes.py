"""kubernetes target: containers/initContainers/ephemeralContainers in any kind, never status."""

from __future__ import annotations

from promoter.setimage import build_request, plan
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text

D = "sha256:" + "a" * 64


def sets(text: str, *images: str, name: str = "m.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request(images))
    return [
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    ]


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    image: ghcr.io/acme/web:1.0  # a label, not a pin
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: ghcr.io/acme/web:1.0
      containers:
      - name: web
        image: "ghcr.io/acme/web:1.0"  # keep me
      - name: proxy
        image: envoyproxy/envoy:v1.30
"""


def test_deployment_all_container_lists() -> None:
    got = sets(DEPLOY, "ghcr.io/acme/web:1.1")
    assert sorted(got) == [
        ("kubernetes", "spec.template.spec.containers[0].image", "ghcr.io/acme/web:1.1"),
        ("kubernetes", "spec.template.spec.initContainers[0].image", "ghcr.io/acme/web:1.1"),
    ]


def test_normalised_match_keeps_spelling() -> None:
    text = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - image: nginx:1.25\n"
    assert sets(text, "docker.io/library/nginx:1.27") == [
        ("kubernetes", "spec.containers[0].image", "nginx:1.27")
    ]
    text2 = text.replace("nginx:1.25", "index.docker.io/library/nginx:1.25")
    assert sets(text2, "nginx:1.27")[0][2] == "index.docker.io/library/nginx:1.27"


def test_other_repository_untouched() -> None:
    assert sets(DEPLOY, "ghcr.io/acme/webx:2") == []
    assert sets(DEPLOY, "ghcr.io/other/web:2") == []


def test_status_is_never_a_pin() -> None:
    text = """\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: app:1
status:
  containerStatuses:
  - image: app:1
  ephemeralContainers:
  - image: app:1
"""
    assert sets(text, "app:2") == [("kubernetes", "spec.containers[0].image", "app:2")]


def test_list_cronjob_crd_and_ephemeral() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: batch/v1
  kind: CronJob
  spec:
    jobTemplate:
      spec:
        template:
          spec:
            containers:
            - image: app:1
  status:
    containers:
    - image: app:1
- apiVersion: example.com/v1
  kind: Anything
  spec:
    deep:
      podTemplate:
        ephemeralContainers:
        - image: registry.local:5000/team/app:1
"""
    got = sets(text, "app:2", "registry.local:5000/team/app:3")
    assert got == [
        ("kubernetes", "items[0].spec.jobTemplate.spec.template.spec.containers[0].image", "app:2"),
        (
            "kubernetes",
            "items[1].spec.deep.podTemplate.ephemeralContainers[0].image",
            "registry.local:5000/team/app:3",
        ),
    ]


def test_digest_rules() -> None:
    pinned = f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:1@{D}\n"
    changes, _ = plan(parse_text(pinned, "p.yaml"), build_request(["app:2"]))
    assert len(changes) == 1 and isinstance(changes[0], SetScalar)
    assert changes[0].new_value == "app:2"
    assert changes[0].note and "digest removed" in changes[0].note
    new_digest = "sha256:" + "b" * 64
    assert sets(pinned, f"app:2@{new_digest}")[0][2] == f"app:2@{new_digest}"
    assert sets(pinned, f"app@{new_digest}")[0][2] == f"app@{new_digest}"


def test_same_tag_with_digest_is_up_to_date() -> None:
    pinned = f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:1@{D}\n"
    changes, current = plan(parse_text(pinned, "p.yaml"), build_request(["app:1"]))
    assert changes == []
    assert [(c.line, c.old) for c in current] == [(5, f"app:1@{D}")]


def test_anchor_changed_once() -> None:
    text = """\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: &img app:1
  initContainers:
  - image: *img
"""
    assert sets(text, "app:2") == [("kubernetes", "spec.containers[0].image", "app:2")]


def test_block_scalar_image_not_edited() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: |\n      app:1\n"
    assert sets(text, "app:2") == []


def test_configmap_data_image_is_not_a_pin() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  image: app:1\n"
    assert sets(text, "app:2") == []
