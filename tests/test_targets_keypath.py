"""keypath target: --key dotted paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.imageref import InvalidReference
from promoter.setimage import UsageError, build_request, plan
from promoter.targets.keypath import KeyPathError, last_segment, parse_key
from promoter.yamledit.model import SetScalar, format_path
from promoter.yamledit.parse import parse_text


def sets(text: str, image: str, *keys: str, name: str = "v.yaml") -> list[tuple[str, str, str]]:
    changes, _ = plan(parse_text(text, name), build_request([image], keys))
    return sorted(
        (c.target, format_path(c.node.path), c.new_value)
        for c in changes
        if isinstance(c, SetScalar)
    )


def test_parse_key() -> None:
    assert parse_key("image.tag") == ("image", "tag")
    assert parse_key("a[0].b[12]") == ("a", 0, "b", 12)
    assert parse_key("[1].x") == (1, "x")
    assert last_segment("a[0].b[12]") == "b"
    for bad in ["", ".a", "a.", "a..b", "a[x]", "a[0"]:
        with pytest.raises(KeyPathError):
            parse_key(bad)


def test_key_sets_tag_or_whole_reference() -> None:
    text = "app:\n  version: '1.0'\n  containers:\n  - img: ghcr.io/acme/web:1.0\n"
    assert sets(text, "ghcr.io/acme/web:2.0", "app.version") == [
        ("keypath", "app.version", "2.0")
    ]
    assert sets(text, "ghcr.io/acme/web:2.0", "app.containers[0].img") == [
        ("keypath", "app.containers[0].img", "ghcr.io/acme/web:2.0")
    ]
    assert sets(text, "ghcr.io/acme/web:2.0", "app.missing", "app.containers[5].img") == []


def test_key_in_helmrelease_values_and_argocd_parameters() -> None:
    hr = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n"
        "  values:\n    web:\n      version: 1.0\n"
    )
    assert sets(hr, "app:1.1", "web.version", name="hr.yaml") == [
        ("keypath", "spec.values.web.version", "1.1")
    ]
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n"
        "      parameters:\n      - name: web.version\n        value: 1.0\n"
    )
    assert sets(app, "app:1.1", "web.version", name="app.yaml") == [
        ("keypath", "spec.source.helm.parameters[0].value", "1.1")
    ]


def test_key_usage_errors() -> None:
    with pytest.raises(UsageError):
        build_request(["a:1", "b:1"], ["image.tag"])
    with pytest.raises(InvalidReference):
        build_request(["a"], [])
    with pytest.raises(ValueError):
        build_request(["a:1"], ["a..b"])


def test_unmatched_key_warns(tmp_path: Path) -> None:
    from promoter.setimage import set_image

    (tmp_path / "v.yaml").write_text("image:\n  tag: 1\n")
    result = set_image([tmp_path], ["app:2"], keys=["image.version"])
    assert any("image.version" in w for w in result.warnings)
    result = set_image([tmp_path], ["app:2"], keys=["image.tag"])
    assert not any("key" in w for w in result.warnings)
    assert (tmp_path / "v.yaml").read_text() == 'image:\n  tag: "2"\n'


def test_key_holding_another_image_is_an_error(tmp_path: Path) -> None:
    from promoter.setimage import set_image

    f = tmp_path / "v.yaml"
    f.write_text("sidecar:\n  image: envoy:1.0\n")
    result = set_image([f], ["app:2"], keys=["sidecar.image"])
    assert f.read_text() == "sidecar:\n  image: envoy:1.0\n"
    assert result.errors and "an image other than app" in result.errors[0].message
