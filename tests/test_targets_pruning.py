"""The kubernetes and helm walks skip subtrees by their text; they must skip no pin.

Every file of the corpus (``../shared/corpus``, skipped when absent), the test
fixtures and the bundled examples, and generated manifests: the walk given the
file's text (pruning) plans exactly what the walk without it (every mapping) plans.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_corpus import candidates

from promoter.imageref import ImageRef
from promoter.setimage import build_request
from promoter.targets.base import Request
from promoter.targets.helm import values_changes
from promoter.targets.kubernetes import container_changes
from promoter.yamledit.model import Change, ParsedFile, SetScalar
from promoter.yamledit.parse import YamlError, decode, parse_text

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "shared" / "corpus"


def described(changes: list[Change]) -> list[tuple[object, ...]]:
    return [
        (c.node.span.start, c.new_value, c.note) if isinstance(c, SetScalar) else (repr(c),)
        for c in changes
    ]


def assert_same_with_and_without_text(pf: ParsedFile, request: Request) -> None:
    for doc in pf.documents:
        for walk in (container_changes, values_changes):
            pruned = described(walk(doc.root, request, "t", pf.text))
            full = described(walk(doc.root, request, "t", None))
            assert pruned == full, (pf.name, doc.index, walk.__name__)


def request_for(pf: ParsedFile) -> Request:
    images = [
        ImageRef(*repository.split("/", 1), "9.9.9-promoted")  # type: ignore[arg-type]
        for repository in sorted(candidates(pf))
    ]
    return build_request(images or ["ghcr.io/acme/absent:1.0"])


def test_corpus_fixtures_and_examples() -> None:
    files = sorted(HERE.joinpath("fixtures").rglob("*.y*ml"))
    files += sorted((HERE.parent / "promoter" / "examples").rglob("*.y*ml"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.rglob("*.y*ml"))
    checked = 0
    for path in files:
        try:
            text, _, _ = decode(path.read_bytes(), path.name)
            pf = parse_text(text, str(path))
        except YamlError:
            continue
        assert_same_with_and_without_text(pf, request_for(pf))
        checked += 1
    assert checked > 0


CASES = {
    "alias to a container list": (
        "x-containers: &c\n  - name: web\n    image: ghcr.io/acme/web:1.0\n"
        "apiVersion: v1\nkind: Pod\nspec:\n  containers: *c\n"
    ),
    "alias to an image": (
        "x-image: &i ghcr.io/acme/web:1.0\napiVersion: v1\nkind: Pod\nspec:\n"
        "  containers:\n  - name: a\n    image: *i\n"
    ),
    "escaped key": (
        'apiVersion: v1\nkind: Pod\nspec:\n  "c\\x6fntainers":\n  - image: ghcr.io/acme/web:1.0\n'
    ),
    "escaped name": (
        'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: "ghcr.io/acme/w\\x65b:1.0"\n'
    ),
}


def test_aliases_and_escapes_keep_their_pins() -> None:
    request = build_request(["ghcr.io/acme/web:2.0"])
    for name, text in CASES.items():
        pf = parse_text(text, "pod.yaml")
        assert container_changes(pf.documents[0].root, request, "t", pf.text), name
        assert_same_with_and_without_text(pf, request)


IMAGES = st.sampled_from(["ghcr.io/acme/web:1.0", "web:1", "ghcr.io/acme/other:1", "x"])
KEYS = st.sampled_from(
    ["containers", "initContainers", "ephemeralContainers", "spec", "template", "status",
     "image", "name", "web", "items", "kind", "apiVersion"]
)  # fmt: skip


@st.composite
def manifests(draw: st.DrawFn) -> str:
    """Block YAML: nested mappings, container lists, anchors and aliases, in any place."""
    anchors: list[str] = []
    lines: list[str] = []

    def anchor() -> str:
        if draw(st.booleans()):
            return ""
        anchors.append(f"a{len(anchors)}")
        return f" &{anchors[-1]}"

    def mapping(indent: int, depth: int) -> None:
        pad = " " * indent
        for key in draw(st.lists(KEYS, min_size=1, max_size=3, unique=True)):
            kind = draw(st.integers(0, 3 if depth < 4 else 1))
            if kind == 0:
                lines.append(f"{pad}{key}:{anchor()} {draw(IMAGES)}")
            elif kind == 1 and anchors:
                lines.append(f"{pad}{key}: *{draw(st.sampled_from(anchors))}")
            elif kind == 2:
                lines.append(f"{pad}{key}:{anchor()}")
                for _ in range(draw(st.integers(1, 2))):
                    lines.append(f"{pad}- image:{anchor()} {draw(IMAGES)}")
                    lines.append(f"{pad}  name: {draw(KEYS)}")
            else:
                lines.append(f"{pad}{key}:{anchor()}")
                mapping(indent + 2, depth + 1)

    mapping(0, 0)
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_generated_manifests(text: str) -> None:
    try:
        pf = parse_text(text, "m.yaml")
    except YamlError:  # a key drawn twice at one level: not a manifest
        return
    assert_same_with_and_without_text(pf, build_request(["ghcr.io/acme/web:2.0"]))
