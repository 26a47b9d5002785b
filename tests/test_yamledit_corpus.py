"""Engine torture test over ../shared/corpus: exact spans, and every value scalar editable.

For every YAML file of the corpus: each scalar's span is exactly its token, and
setting *every* plain/quoted value scalar at once to a trap tag ("1.10") passes
the proof (the result reads back as the original except those values). Files
that are not valid YAML, or repeat a key, must fail with a located error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promoter.yamledit.engine import EditError, apply
from promoter.yamledit.model import Mapping, Node, ParsedFile, Scalar, Sequence, SetScalar
from promoter.yamledit.parse import YamlError, read_file

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def check_and_collect(pf: ParsedFile) -> list[SetScalar]:
    changes: list[SetScalar] = []
    seen: set[int] = set()
    stack: list[Node] = [d.root for d in pf.documents if d.root is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, Scalar):
            token = pf.text[node.span.start : node.span.end]
            if node.style == "plain" and "\n" not in token:
                assert token == node.value, (pf.name, node.path)
            elif node.style in ("single", "double"):
                quote = "'" if node.style == "single" else '"'
                assert token[0] == token[-1] == quote and len(token) >= 2, (pf.name, node.path)
        elif isinstance(node, Mapping):
            for k, v in node.pairs:
                stack.append(k)
                stack.append(v)
                if (
                    isinstance(k, Scalar)
                    and isinstance(v, Scalar)
                    and v.style in ("plain", "single", "double")
                    and id(v) not in seen
                ):
                    seen.add(id(v))
                    changes.append(SetScalar(v, "1.10", "corpus"))
        elif isinstance(node, Sequence):
            stack.extend(node.items)
    return changes


@pytest.mark.slow
def test_every_corpus_file_parses_exactly_and_every_value_is_editable() -> None:
    files = corpus_files()
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    edited = refused = 0
    for path in files:
        try:
            pf = read_file(path, str(path))
        except YamlError as exc:
            assert exc.line >= 1 and exc.column >= 1 and str(exc).startswith(str(path))
            refused += 1
            continue
        changes = check_and_collect(pf)
        try:
            apply(pf, changes)
        except EditError as exc:
            # Only a null value with no ':' before it (``{{TEMPLATE}}`` read as a
            # flow mapping) cannot be filled in; the error says where.
            assert "no value to replace" in exc.message, exc
            continue
        edited += 1
    assert edited > 0.95 * len(files), (edited, refused, len(files))
