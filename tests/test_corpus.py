"""Corpus test: every image pin our targets find in real-world files is edited exactly.

For each file listed in ``../shared/corpus/SOURCES.tsv`` (skipped when absent) and
each image repository our targets find in it, set a new tag (and, in a second pass,
the trap tag ``1.10``) and check, independently of the engine's own proof, that
the new text is the old text with exactly the planned scalars replaced: every byte
outside those spans is identical, each replacement reads back as the new value,
a plain scalar is quoted only when the value needs it and a quoted one keeps its
quote character. Deleted pairs (stale kustomize digests) must remove exactly their
own lines.

Files under a ``templates/`` directory are Helm/Go templates, not YAML, and are
excluded from the count. Files the parser refuses (duplicate keys, ``{{`` outside
strings, invalid YAML) are counted and must carry a ``file:line:column`` error and
be flagged ``unparseable`` or ``duplicate-keys`` in SOURCES.tsv.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from promoter.imageref import ImageRef, try_parse
from promoter.setimage import apply_changes, build_request, plan
from promoter.targets.addkey import AddKey, insertion
from promoter.targets.common import is_image_key, iter_mappings, iter_scalars, join_registry
from promoter.targets.markers import parse_marker
from promoter.yamledit.model import DeletePair, Mapping, ParsedFile, Scalar, SetScalar, deref
from promoter.yamledit.parse import YamlError, decode, parse_text
from promoter.yamledit.quoting import needs_quotes

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
NEW_TAG = "9.9.9-promoted"
TRAP_TAG = "1.10"
_NAME_KEYS = {"repository", "name", "newName", "value"}

# Files whose edit is known to differ from the strict model, with the reason. They are
# counted as failing in the printed count and do not fail the test.
KNOWN: dict[str, str] = {}


@dataclass
class Tally:
    total: int = 0
    templates: int = 0
    refused: list[str] = field(default_factory=list)
    with_pins: int = 0
    passing: int = 0
    repositories: int = 0
    edits: int = 0
    failures: list[str] = field(default_factory=list)


def _rows() -> list[dict[str, str]]:
    with open(CORPUS / "SOURCES.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def candidates(pf: ParsedFile) -> set[str]:
    """Repository names that might be pinned in ``pf`` (the targets decide which are)."""
    names: set[str] = set()

    def add(text: str | None) -> None:
        if text and len(text) < 256:
            for part in text.split("="):
                ref = try_parse(part)
                if ref is not None:
                    names.add(ref.repository)

    for doc in pf.documents:
        for m in iter_mappings(doc.root):
            for k, v in m.pairs:
                value = deref(v)
                if not isinstance(k, Scalar) or not isinstance(value, Scalar):
                    continue
                if is_image_key(k.value) or k.value in _NAME_KEYS:
                    add(value.value)
                marker = parse_marker(value.comment)
                if marker is not None and marker.kind == "promoter":
                    add(marker.key)
            repository = m.get_str("repository")
            if repository:
                add(join_registry(m.get_str("registry"), repository))
        for scalar in iter_scalars(doc.root):  # e.g. kustomize.images strings, marked fields
            if ":" in scalar.value or "@" in scalar.value:
                for part in scalar.value.split("="):
                    ref = try_parse(part)
                    if ref is not None and (ref.tag or ref.digest):
                        names.add(ref.repository)
    return names


def _renderings(node: Scalar, value: str) -> list[str]:
    if node.style == "single":
        return [f"'{value}'"]
    if node.style == "double":
        return [f'"{value}"']
    out = [f'"{value}"', f"'{value}'"] if needs_quotes(value) else [value]
    if node.span.start == node.span.end:  # an empty value (`tag:`) needs a blank before it
        out = [f" {text}" for text in out] + out
    return out


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def check_exact(
    old: str, new: str, changes: list[SetScalar | DeletePair | AddKey]
) -> str | None:
    """None when ``new`` is ``old`` with exactly ``changes`` made; else what differs."""
    regions: list[tuple[int, int, list[str], str]] = []  # start, end, allowed texts, label
    for change in changes:
        if isinstance(change, SetScalar):
            span = change.node.span
            allowed = _renderings(change.node, change.new_value)
            regions.append((span.start, span.end, allowed, f"line {span.line}"))
        elif isinstance(change, AddKey):
            at, line = insertion(old, change.mapping, change.key, change.value)
            regions.append((at, at, [line], f"added {change.key}"))
        else:
            key = change.mapping.key_node(change.key)
            value = change.mapping.get(change.key)
            assert key is not None and value is not None
            start = _line_start(old, key.span.start)
            end = _line_end(old, value.span.end)
            if end == len(old) and not old.endswith("\n") and start > 0:
                # the last line has no newline: the one before it goes instead
                start -= 2 if old[start - 2 : start] == "\r\n" else 1
            regions.append((start, end, [""], f"deleted line {key.span.line}"))
    regions.sort()
    pos_old = pos_new = 0
    for start, end, allowed, label in regions:
        keep = old[pos_old:start]
        if new[pos_new : pos_new + len(keep)] != keep:
            return f"bytes before {label} differ"
        pos_new += len(keep)
        for text in allowed:
            if new.startswith(text, pos_new):
                pos_new += len(text)
                break
        else:
            got = new[pos_new : pos_new + 40].split("\n")[0]
            return f"{label}: expected one of {allowed}, got {got!r}"
        pos_old = end
    if new[pos_new:] != old[pos_old:]:
        return "bytes after the last change differ"
    return None


def check_file(path: Path, name: str, tally: Tally) -> None:
    data = path.read_bytes()
    try:
        text, _, _ = decode(data, name)
        pf = parse_text(text, name)
    except YamlError as exc:
        tally.refused.append(f"{exc}")
        return
    found = 0
    for repository in sorted(candidates(pf)):
        for tag in (NEW_TAG, TRAP_TAG):
            image = ImageRef(registry=repository.split("/", 1)[0], path=repository.split("/", 1)[1])
            request = build_request([image.with_version(tag, None)])
            try:
                changes, _ = plan(pf, request)
            except YamlError as exc:
                tally.failures.append(f"{name}: {repository}: plan: {exc}")
                continue
            if not changes:
                break
            if tag == NEW_TAG:
                found += 1
            simple = [c for c in changes if isinstance(c, (SetScalar, DeletePair, AddKey))]
            try:
                new_text, edits = apply_changes(pf, changes)
            except Exception as exc:  # a failed proof is a failure of this file
                tally.failures.append(f"{name}: {repository}:{tag}: {type(exc).__name__}: {exc}")
                continue
            problem = check_exact(text, new_text, simple)
            if problem is not None:
                tally.failures.append(f"{name}: {repository}:{tag}: {problem}")
            tally.edits += len(edits)
    if found:
        tally.with_pins += 1
        tally.repositories += found


def run_corpus() -> Tally:
    tally = Tally()
    for row in _rows():
        local = row["local_path"]
        path = SHARED / local
        if "/templates/" in f"/{local}":
            tally.templates += 1
            continue
        tally.total += 1
        failures_before = len(tally.failures)
        refused_before = len(tally.refused)
        check_file(path, local, tally)
        features = row.get("features", "")
        if len(tally.refused) > refused_before:
            if "unparseable" not in features and "duplicate-keys" not in features:
                tally.failures.append(f"{local}: refused but not flagged: {tally.refused[-1]}")
        if len(tally.failures) == failures_before:
            tally.passing += 1
    return tally


@pytest.mark.slow
def test_corpus_edits_are_exact() -> None:
    if not (CORPUS / "SOURCES.tsv").is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    tally = run_corpus()
    summary = (
        f"corpus: {tally.passing}/{tally.total} files pass "
        f"({tally.with_pins} with pins, {tally.repositories} file×repository pairs, "
        f"{tally.edits} edits in two passes; {len(tally.refused)} refused as not editable YAML; "
        f"{tally.templates} files under templates/ excluded)"
    )
    print(summary)
    for reason in tally.refused:
        print(f"  refused: {reason}")
    known = [f for f in tally.failures if f.split(":", 1)[0] in KNOWN]
    for name in sorted({f.split(":", 1)[0] for f in known}):
        print(f"  known issue: {name}: {KNOWN[name]}")
    for name in sorted(set(KNOWN) - {f.split(":", 1)[0] for f in known}):
        print(f"  known issue no longer reproduces, remove it from KNOWN: {name}")
    unexpected = [f for f in tally.failures if f not in known]
    assert not unexpected, "\n".join([summary, *unexpected[:50]])


def test_check_exact_catches_stray_bytes() -> None:
    pf = parse_text("a: x  # c\nb: y\n", "t.yaml")
    root = pf.documents[0].root
    assert isinstance(root, Mapping)
    node = deref(root.get("a"))
    assert isinstance(node, Scalar)
    change = SetScalar(node, "1.10", "test")
    assert check_exact(pf.text, 'a: "1.10"  # c\nb: y\n', [change]) is None
    assert check_exact(pf.text, "a: 1.10  # c\nb: y\n", [change]) is not None
    assert check_exact(pf.text, 'a: "1.10" # c\nb: y\n', [change]) is not None
    assert check_exact(pf.text, 'a: "1.10"  # c\nb: y', [change]) is not None
