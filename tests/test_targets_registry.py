"""The target registry loads a target's module only for files that could hold its pins.

Its gates must never hide a pin: planned with the gates, every file plans exactly
what it plans when all seven targets are asked about every document. Checked on the
corpus (``../shared/corpus``, skipped when absent), on the test fixtures and on
documents whose kind is spelled through an escape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_corpus import candidates

import promoter.targets
from promoter.imageref import ImageRef
from promoter.setimage import build_request, plan
from promoter.targets.base import Request
from promoter.yamledit.model import AppendItem, Change, DeletePair, ParsedFile, SetScalar
from promoter.yamledit.parse import YamlError, decode, parse_text

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "shared" / "corpus"


def described(changes: list[Change]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for c in changes:
        if isinstance(c, SetScalar):
            out.append(("set", c.target, c.node.span.start, c.new_value, c.note))
        elif isinstance(c, DeletePair):
            out.append(("delete", c.target, c.mapping.span.start, c.key))
        elif isinstance(c, AppendItem):
            out.append((type(c).__name__, c.target, c.mapping.span.start, c.key, c.item))
    return out


def both(pf: ParsedFile, request: Request, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    def attempt() -> str:
        try:
            changes, current = plan(pf, request)
        except YamlError as exc:
            return f"error: {exc}"
        return repr((described(changes), [(e.line, e.target, e.path) for e in current]))

    gated = attempt()
    with monkeypatch.context() as m:
        m.setattr(promoter.targets, "TARGETS", promoter.targets.unconditional())
        everything = attempt()
    return gated, everything


def requests_for(pf: ParsedFile) -> list[Request]:
    """Every repository the file might pin, in one request (and again with ``--add``)."""
    images = []
    for repository in sorted(candidates(pf)):
        registry, path = repository.split("/", 1)
        images.append(ImageRef(registry, path, "9.9.9-promoted"))
    if not images:
        images.append(ImageRef("ghcr.io", "acme/absent", "1.0"))
    return [build_request(images), build_request(images, add=True)]


def yaml_files() -> list[Path]:
    files = sorted(HERE.joinpath("fixtures").rglob("*.y*ml"))
    files += sorted((HERE.parent / "promoter" / "examples").rglob("*.y*ml"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.rglob("*.y*ml")) + sorted(CORPUS.rglob("Kustomization"))
    return files


def test_gated_targets_plan_what_all_targets_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = 0
    for path in yaml_files():
        try:
            text, _, _ = decode(path.read_bytes(), path.name)
            pf = parse_text(text, str(path))
        except YamlError:
            continue
        for request in requests_for(pf):
            gated, everything = both(pf, request, monkeypatch)
            assert gated == everything, (path, request)
            compared += 1
    assert compared > 0


KIND_BY_ESCAPE = [  # the apiVersion group (what the gates look for) spelled with an escape
    (
        "release.yaml",
        'apiVersion: "helm.toolkit.fluxcd\\x2eio/v2"\nkind: HelmRelease\nmetadata: {name: a}\n'
        "spec:\n  values:\n    image: ghcr.io/acme/web:1.0\n",
        "helmrelease",
    ),
    (
        "app.yaml",
        'apiVersion: "argoproj\\u002eio/v1alpha1"\nkind: Application\nmetadata: {name: a}\n'
        "spec:\n  source:\n    kustomize:\n      images: [ghcr.io/acme/web:1.0]\n",
        "argocd",
    ),
    (
        "k.yaml",
        'apiVersion: "kustomize.config.k8s\\x2eio/v1beta1"\nkind: Component\n'
        "images:\n- name: ghcr.io/acme/web\n  newTag: '1.0'\n",
        "kustomize",
    ),
    (
        "flux.yaml",
        'apiVersion: "kustomize\\x2etoolkit.fluxcd.io/v1"\nkind: Kustomization\n'
        "metadata: {name: a}\nspec:\n  images:\n  - name: ghcr.io/acme/web\n    newTag: '1.0'\n",
        "kustomize",
    ),
]


@pytest.mark.parametrize(("name", "text", "target"), KIND_BY_ESCAPE)
def test_a_kind_spelled_through_an_escape_still_counts(
    name: str, text: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pf = parse_text(text, name)
    request = build_request(["ghcr.io/acme/web:2.0"])
    changes, _ = plan(pf, request)
    assert [c.target for c in changes] == [target]
    gated, everything = both(pf, request, monkeypatch)
    assert gated == everything


PROBE = """
import json, sys
from promoter.setimage import set_image
result = set_image([sys.argv[1]], ["ghcr.io/acme/web:2.0"])
assert len(result.edits) == 1, result
print(json.dumps(sorted(m for m in sys.modules if m.startswith("promoter.targets."))))
"""


def test_a_values_file_loads_only_the_helm_target(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("app:\n  image:\n    repository: ghcr.io/acme/web\n    tag: 1.0\n")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(values)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    loaded = set(json.loads(out))
    assert "promoter.targets.helm" in loaded
    unused = {"kubernetes", "kustomize", "helmrelease", "argocd", "markers"}
    assert not loaded & {f"promoter.targets.{name}" for name in unused}
