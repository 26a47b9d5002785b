"""helm target: pins reached through YAML aliases.

The values walk skips subtrees whose text names no requested image (big values files
get cheap). A subtree holding an alias is still walked: the alias stands for text
spelled at its anchor. A pin reached through an alias is edited once, at the anchored
node, and reported there (its line and path); aliases stay aliases.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promoter.setimage import build_request, plan, set_image
from promoter.targets.helm import values_changes
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text

IMAGE = "ghcr.io/acme/web:2.0"


def sets(text: str, name: str = "values.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request([IMAGE]))
    return sorted(
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    )


def test_repository_through_a_scalar_alias() -> None:
    text = "repo: &repo ghcr.io/acme/web\napp:\n  image:\n    repository: *repo\n    tag: 1.0\n"
    assert sets(text) == [("helm", "app.image.tag", "2.0")]


def test_mapping_alias_edited_once_at_the_anchor() -> None:
    text = (
        "base: &img\n  repository: ghcr.io/acme/web\n  tag: 1.0\n"
        "app:\n  image: *img\nworker:\n  image: *img\n"
    )
    assert sets(text) == [("helm", "base.tag", "2.0")]


def test_helmrelease_values_alias_to_an_anchor_outside_values() -> None:
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n"
        "  annotations: &img {repository: ghcr.io/acme/web, tag: '1.0'}\n"
        "spec:\n  values:\n    image: *img\n"
    )
    assert sets(text, "release.yaml") == [("helmrelease", "metadata.annotations.tag", "2.0")]


def test_alias_into_an_embedded_object() -> None:
    # extraObjects are skipped, but the values' image *is* the anchored mapping
    text = (
        "extraObjects:\n  - apiVersion: v1\n    kind: ConfigMap\n    data: &img\n"
        "      repository: ghcr.io/acme/web\n      tag: '1.0'\n"
        "noAlias:\n  - apiVersion: v1\n    kind: ConfigMap\n    data:\n"
        "      repository: ghcr.io/acme/web\n      tag: '1.0'\n"
        "app:\n  image: *img\n"
    )
    assert sets(text) == [("helm", "extraObjects[0].data.tag", "2.0")]


def test_reported_at_the_anchor_and_aliases_stay(tmp_path: Path) -> None:
    f = tmp_path / "values.yaml"
    text = (
        "defaults:\n  web: &web\n    repository: ghcr.io/acme/web  # the one pin\n"
        "    tag: \"1.0\"\n"
        "apps:\n  frontend:\n    image: *web\n  backend:\n    image: *web\n"
    )
    f.write_text(text)
    result = set_image([f], [IMAGE])
    assert not result.errors
    assert [(e.line, e.path, e.old, e.new) for e in result.edits] == [
        (4, "defaults.web.tag", "1.0", "2.0")
    ]
    assert f.read_text() == text.replace('tag: "1.0"', 'tag: "2.0"')


# ------------------------------------------------- pruning never changes the result

KEYS = st.sampled_from(["image", "repository", "tag", "name", "app", "sub", "registry", "x"])
VALUES = st.sampled_from(
    ["ghcr.io/acme/web", "ghcr.io/acme/web:1.0", "acme/web", "ghcr.io", "1.0", "other:1", "x"]
)


@st.composite
def values_files(draw: st.DrawFn) -> str:
    """Block mappings with anchors on some nodes and aliases to earlier anchors."""
    anchors: list[str] = []
    lines: list[str] = []

    def mapping(indent: int, depth: int) -> None:
        for key in draw(st.lists(KEYS, min_size=1, max_size=4, unique=True)):
            pad = " " * indent
            choice = draw(st.integers(0, 3 if depth < 3 else 1))
            if choice == 0 or (choice == 1 and not anchors):
                value = draw(VALUES)
                if draw(st.booleans()):
                    anchors.append(f"a{len(anchors)}")
                    value = f"&{anchors[-1]} {value}"
                lines.append(f"{pad}{key}: {value}")
            elif choice == 1:
                lines.append(f"{pad}{key}: *{draw(st.sampled_from(anchors))}")
            else:
                anchor = ""
                if draw(st.booleans()):
                    anchors.append(f"a{len(anchors)}")
                    anchor = f" &{anchors[-1]}"
                lines.append(f"{pad}{key}:{anchor}")
                mapping(indent + 2, depth + 1)

    mapping(0, 0)
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values_files())
def test_pruned_walk_finds_what_the_full_walk_finds(text: str) -> None:
    pf = parse_text(text, "values.yaml")
    request = build_request([IMAGE])
    root = pf.documents[0].root

    def found(file_text: str | None) -> list[tuple[str, str]]:
        changes = values_changes(root, request, "helm", file_text)
        return sorted(
            (format_path(c.node.path), c.new_value) for c in changes if isinstance(c, SetScalar)
        )

    assert found(text) == found(None)
