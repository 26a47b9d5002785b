"""Property: on generated manifests/values (random quoting, comments, CRLF, trap tags),
set_image changes exactly the pins of the requested image, and YAML readers see the same
data with only those values replaced."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promoter.setimage import edit_texts

TAGS = st.sampled_from(["1.0", "v2", "1.10", "010", "1e3", "true", "null", "2024.10", "7-alpine"])
QUOTE = st.sampled_from(["", "'", '"'])
COMMENT = st.sampled_from(["", "  # pinned", " # {x}", "\t# tab"])
REPOS = st.sampled_from(["ghcr.io/acme/web", "ghcr.io/acme/api", "nginx", "localhost:5000/web"])


def q(text: str, quote: str) -> str:
    return f"{quote}{text}{quote}"


@st.composite
def manifest(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A Deployment and a values document; returns (text, [(repo, tag) of each pin])."""
    pins: list[tuple[str, str]] = []
    lines = ["apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: x", "spec:",
             "  template:", "    spec:", "      containers:"]
    for _ in range(draw(st.integers(1, 4))):
        repo, tag = draw(REPOS), draw(TAGS)
        pins.append((repo, tag))
        ref = f"{repo}:{tag}"
        image = f"        image: {q(ref, draw(QUOTE))}{draw(COMMENT)}"
        lines += [f"      - name: c{len(pins)}", image]
    lines += ["---", "# values"]
    for i in range(draw(st.integers(0, 3))):
        repo, tag = draw(REPOS), draw(TAGS)
        pins.append((repo, tag))
        lines += [f"c{i}:", "  image:", f"    repository: {repo}",
                  f"    tag: {q(tag, draw(QUOTE) or chr(34))}{draw(COMMENT)}"]
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    return nl.join(lines) + nl, pins


def _repo_key(repo: str) -> str:
    return "docker.io/library/nginx" if repo == "nginx" else repo


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest(), REPOS, TAGS)
def test_only_requested_pins_change(
    doc: tuple[str, list[tuple[str, str]]], repo: str, tag: str
) -> None:
    text, pins = doc
    new_texts, result = edit_texts([("m.yaml", text)], [f"{repo}:{tag}"])
    assert not result.errors, result.errors
    new = new_texts.get("m.yaml", text)
    before = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    after = list(yaml.load_all(new, Loader=yaml.CSafeLoader))
    # rebuild the expected data by hand
    for c in before[0]["spec"]["template"]["spec"]["containers"]:
        name, _, _ = str(c["image"]).rpartition(":")
        if _repo_key(name) == _repo_key(repo):
            c["image"] = f"{name}:{tag}"
    for key, value in (before[1] or {}).items():
        if _repo_key(value["image"]["repository"]) == _repo_key(repo):
            before[1][key]["image"]["tag"] = tag
    assert after == before
    changed = sum(1 for r, t in pins if _repo_key(r) == _repo_key(repo) and t != tag)
    assert len(result.edits) == changed
    # every line that changed holds one of the edits; all others are byte-identical
    old_lines, new_lines = text.split("\n"), new.split("\n")
    assert len(old_lines) == len(new_lines)
    differing = {i + 1 for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b}
    assert differing == {e.line for e in result.edits}
