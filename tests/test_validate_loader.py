"""The validation loader: go-yaml v2 typing, marks, lint findings."""

from __future__ import annotations

import pytest

from promoter.validate.loader import load_text, plain_scalar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12:30", "12:30"),  # PyYAML: 750 (sexagesimal); Kubernetes: a string
        ("1e3", 1000),  # PyYAML: a string; Kubernetes: the number 1000 (an integer in JSON)
        ("1E3", 1000),
        ("2.0", 2),
        ("2.5e-1", 0.25),
        ("0o17", 15),
        ("010", 8),
        ("0x1F", 31),
        ("1_000", 1000),
        ("1.10", 1.1),
        (".5", 0.5),
        ("20240215", 20240215),
        ("y", True),
        ("n", False),
        ("yes", True),
        ("No", False),
        ("on", True),
        ("OFF", False),
        ("true", True),
        ("null", None),
        ("~", None),
        ("2024-01-01", "2024-01-01"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("1e400", "1e400"),  # strconv.ParseFloat overflows: go-yaml keeps the text
        ("yEs", "yEs"),
        ("nginx:1.25", "nginx:1.25"),
        ("-", "-"),
    ],
)
def test_plain_scalars_are_typed_like_go_yaml_v2(text: str, expected: object) -> None:
    value = plain_scalar(text)
    assert value == expected
    assert type(value) is type(expected)


def test_quoted_and_tagged_scalars_stay_strings() -> None:
    src = load_text("a: 'y'\nb: \"1e3\"\nc: !!str 12\nd: !!int '7'\n", "t.yaml")
    assert src.documents[0].value == {"a": "y", "b": "1e3", "c": "12", "d": 7}


def test_keys_become_json_strings_and_merges_apply() -> None:
    text = "base: &b {x: 1, z: 2}\nm:\n  <<: *b\n  z: 3\n1: one\ny: key\n"
    value = load_text(text, "t.yaml").documents[0].value
    assert value["m"] == {"x": 1, "z": 3}
    assert value["1"] == "one"
    assert value["true"] == "key"  # `y` as a key is the boolean true for go-yaml


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    src = load_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  k: a\n  k: b\n", "d.yaml")
    (finding,) = src.findings
    assert (finding.line, finding.column, finding.severity) == (5, 3, "error")
    assert "duplicate key" in finding.message and "line 4" in finding.message
    assert finding.kind == "ConfigMap" and finding.path == "/data/k"


def test_parse_error_has_file_line_column() -> None:
    src = load_text("a: 1\nb: [1, 2\n", "broken.yaml")
    (finding,) = src.findings
    assert finding.file == "broken.yaml" and finding.backend == "lint"
    assert finding.line == 3 and finding.column == 1
    assert finding.message.startswith("YAML parse error")


def test_tab_in_indentation_is_reported() -> None:
    src = load_text("a:\n\t- b\n", "tabs.yaml")
    assert any(f.line == 2 and "tab" in f.message for f in src.findings)


def test_tab_inside_block_scalar_is_content() -> None:
    src = load_text("a: |\n  x\n  \ty\nb: 1\n", "ok.yaml")
    assert src.findings == []
    assert src.documents[0].value["a"] == "x\n\ty\n"


def test_non_finite_numbers_are_reported() -> None:
    src = load_text("v: .inf\n", "inf.yaml")
    assert [f.line for f in src.findings] == [1]


def test_documents_are_indexed_and_located() -> None:
    text = "a: 1\n---\n# only a comment\n---\nkind: X\nspec:\n  items:\n    - name: n\n"
    src = load_text(text, "m.yaml")
    assert [d.index for d in src.documents] == [0, 1, 2]
    assert src.documents[1].value is None
    doc = src.documents[2]
    assert doc.locate(["spec", "items", 0, "name"]) == (8, 7)
    # A path that does not exist points at its deepest existing parent.
    assert doc.locate(["spec", "items", 0, "missing"]) == (8, 7)
    assert doc.locate(["spec", "nope"]) == (6, 1)


def test_alias_bomb_is_built_once() -> None:
    text = 'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c, *c]\n'
    value = load_text(text, "bomb.yaml").documents[0].value
    assert value["d"][0] is value["c"]
