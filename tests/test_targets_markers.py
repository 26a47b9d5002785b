"""markers target: Flux $imagepolicy markers and our own `# promoter:` markers."""

from __future__ import annotations

import pytest

from promoter.setimage import build_request, plan
from promoter.targets.markers import Marker, parse_marker
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text

D = "sha256:" + "d" * 64


def sets(text: str, *images: str, name: str = "x.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request(images))
    return sorted(
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    )


@pytest.mark.parametrize(
    ("comment", "marker"),
    [
        ('{"$imagepolicy": "flux-system:web"}', Marker("flux", "flux-system:web", None)),
        ('{"$imagepolicy": "flux-system:web:tag"}', Marker("flux", "flux-system:web", "tag")),
        ("promoter: ghcr.io/acme/web", Marker("promoter", "ghcr.io/acme/web", None)),
        ("promoter: ghcr.io/acme/web:tag", Marker("promoter", "ghcr.io/acme/web", "tag")),
        ("promoter: localhost:5000/web", Marker("promoter", "localhost:5000/web", None)),
        ("promoter: localhost:5000/web:digest", Marker("promoter", "localhost:5000/web", "digest")),
        ("promoter: Not/Valid", None),
        ("promoter: web:1.0", None),
        ("just a comment", None),
        ('{"$imagepolicy": 3}', None),
    ],
)
def test_parse_marker(comment: str, marker: Marker | None) -> None:
    assert parse_marker(comment) == marker


def test_promoter_marker_sets_an_arbitrary_field() -> None:
    text = "app:\n  version: 1.0  # promoter: ghcr.io/acme/web:tag\n  other: 1.0\n"
    assert sets(text, "ghcr.io/acme/web:1.10") == [("markers", "app.version", "1.10")]
    assert sets(text, "ghcr.io/acme/api:1.10") == []


def test_promoter_marker_whole_and_digest() -> None:
    text = (
        "a: mirror/web:1  # promoter: ghcr.io/acme/web\n"
        f"d: {D}  # promoter: ghcr.io/acme/web:digest\n"
    )
    d2 = "sha256:" + "e" * 64
    assert sets(text, f"ghcr.io/acme/web:2@{d2}") == [
        ("markers", "a", f"ghcr.io/acme/web:2@{d2}"),
        ("markers", "d", d2),
    ]
    assert sets(text, "ghcr.io/acme/web:2") == [("markers", "a", "ghcr.io/acme/web:2")]


FLUX = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    metadata:
      annotations:
        version: 1.0 # {"$imagepolicy": "flux-system:web:tag"}
        other: 1.0 # {"$imagepolicy": "flux-system:api:tag"}
        named: ghcr.io/acme/db # {"$imagepolicy": "flux-system:dbpolicy:name"}
        dbtag: 1.0 # {"$imagepolicy": "flux-system:dbpolicy:tag"}
        whole: ghcr.io/acme/cache:1.0 # {"$imagepolicy": "flux-system:cache"}
        foreign: docker.io/x/web:1.0 # {"$imagepolicy": "flux-system:web"}
"""


def test_flux_tag_marker_by_policy_short_name() -> None:
    assert sets(FLUX, "ghcr.io/acme/web:2") == [
        ("markers", "spec.template.metadata.annotations.version", "2")
    ]


def test_flux_tag_marker_by_name_marker_of_same_policy() -> None:
    assert sets(FLUX, "ghcr.io/acme/db:2") == [
        ("markers", "spec.template.metadata.annotations.dbtag", "2")
    ]


def test_flux_whole_ref_marker_needs_same_repository() -> None:
    assert sets(FLUX, "ghcr.io/acme/cache:2") == [
        ("markers", "spec.template.metadata.annotations.whole", "ghcr.io/acme/cache:2")
    ]
    # policy "web" never moves docker.io/x/web to another repository
    moved = ("markers", "spec.template.metadata.annotations.foreign", "ghcr.io/acme/web:2")
    assert moved not in sets(FLUX, "ghcr.io/acme/web:2")


def test_flux_tag_marker_with_sibling_repository() -> None:
    text = (
        "image:\n  repository: ghcr.io/acme/web # {\"$imagepolicy\": \"ns:p:name\"}\n"
        "  tag: 1.0 # {\"$imagepolicy\": \"ns:p:tag\"}\n"
    )
    assert sets(text, "ghcr.io/acme/web:2") == [("helm", "image.tag", "2")]


def test_marker_on_a_sequence_item() -> None:
    text = 'list:\n- other:1\n- ghcr.io/acme/web:1.0 # {"$imagepolicy": "ns:web"}\n'
    assert sets(text, "ghcr.io/acme/web:2") == [("markers", "list[1]", "ghcr.io/acme/web:2")]
