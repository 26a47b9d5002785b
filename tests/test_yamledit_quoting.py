"""Quoting: trap tags are quoted, safe ones stay plain, every rendering reads back exactly."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from promoter.yamledit.model import Mapping, Scalar, ScalarStyle, Sequence
from promoter.yamledit.parse import parse_text
from promoter.yamledit.quoting import QuotingError, double_quoted, needs_quotes, render

TRAPS = [
    # YAML 1.1 / go-yaml v2 booleans and nulls
    *"y Y n N yes Yes NO on On OFF off true True FALSE null Null ~".split(),
    "",
    # numbers: floats, ints, octal, hex, binary, base 60, exponents, underscores
    *"1.10 1.0 2.5 .5 -.5 +1 -1 1. 010 0o17 0O17 0x1F 0b1 0b101 1e3 1E3 2873e41 1e-3".split(),
    *"20240215 2024.10 1_000 1_0.5 12:30 1:20:30 190:20:30.15 .inf -.Inf .nan 0 00 09".split(),
    # dates and timestamps (PyYAML and ruamel build dates)
    "2024-01-01",
    "2024-1-1",
    "2024-01-01T10:00:00Z",
    "2024-01-01 10:00:00",
    # not valid plain scalars
    *"- ? : , [a] {a} #x &a *a !a |a >a 'a \"a %a @a `a a: a:".split(),
    "- a",
    "? a",
    ": a",
    "a: b",
    "a #b",
    " a",
    "a ",
    "a\tb #c",
    "a\nb",
    "tab\there\t",
    "---",
    "...x",
    "=",
    "<<",
    "nul\0",
    "bell\x07",
]

SAFE = [
    "v1.2.3",
    "1.2.3",
    "sha-abc",
    "nginx",
    "latest",
    "1.2.3-alpine",
    "v1",
    "2024-01-01-abc",
    "20240215-1",
    "1.10-rc1",
    "1e3x",
    "0x1G",
    "yes-please",
    "ON2",
    "nginx:1.25",
    "ghcr.io/org/app:1.0@sha256:" + "a" * 64,
    "localhost:5000/app",
    "a#b",
    "a:b",
    "-rc1",
    "café",
    "x.y",
    "1.2.3.4",
    "12:30:xx",
    "main-3f2a1b",
    "--",
]


def pyyaml_value(doc: str) -> Any:
    return yaml.safe_load(doc)["k"]


def ruamel_value(doc: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(doc))["k"]


def our_value(doc: str) -> str:
    root = parse_text(doc, "q.yaml").documents[0].root
    assert isinstance(root, Mapping)
    node = root.get("k")
    assert isinstance(node, Scalar)
    return node.value


@pytest.mark.parametrize("value", TRAPS)
def test_traps_are_quoted(value: str) -> None:
    assert needs_quotes(value)
    text = render(value, "plain", "block")
    assert text.startswith('"')
    doc = f"k: {text}\n"
    assert pyyaml_value(doc) == value
    assert ruamel_value(doc) == value
    assert our_value(doc) == value


@pytest.mark.parametrize("value", SAFE)
def test_safe_values_stay_plain(value: str) -> None:
    assert not needs_quotes(value)
    assert render(value, "plain", "block") == value
    doc = f"k: {value}\n"
    assert pyyaml_value(doc) == value
    assert ruamel_value(doc) == value
    assert our_value(doc) == value


@pytest.mark.parametrize("value", ["a,b", "a[1]", "{x}", "a:b"])
def test_flow_context_quotes_flow_indicators(value: str) -> None:
    assert needs_quotes(value, "flow")
    text = render(value, "plain", "flow")
    root = parse_text(f"{{k: {text}, z: 1}}\n", "f.yaml").documents[0].root
    assert isinstance(root, Mapping) and root.get_str("k") == value


def test_styles_are_kept() -> None:
    assert render("1.25", "single") == "'1.25'"
    assert render("it's", "single") == "'it''s'"
    assert render("1.25", "double") == '"1.25"'
    assert render('say "hi" \\ now', "double") == '"say \\"hi\\" \\\\ now"'
    assert render("v1.2", "double") == '"v1.2"'
    assert render("line\nbreak", "single") == '"line\\nbreak"'
    assert double_quoted("ü🚀\x01\u2028") == '"ü🚀\\x01\\L"'


@pytest.mark.parametrize("style", ["literal", "folded"])
def test_block_scalars_refuse(style: ScalarStyle) -> None:
    with pytest.raises(QuotingError, match="block scalar"):
        render("v1", style)


STYLES: list[ScalarStyle] = ["plain", "single", "double"]
TAG_CHARS = st.sampled_from(list("0123456789abcdefxyzEeoObB._-:+ #'\"\\\t\n,[]{}~!&*ü"))


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.text(TAG_CHARS, max_size=12),
        st.sampled_from(TRAPS + SAFE),
        st.text(max_size=8),
    ),
    style=st.sampled_from(STYLES),
    flow=st.booleans(),
)
@example(value="0?", style="plain", flow=True)  # PyYAML ends a flow plain scalar at '?'
def test_every_rendering_reads_back_exactly(value: str, style: ScalarStyle, flow: bool) -> None:
    """Whatever the value and style, all three readers read back the very same string."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return  # lone surrogates cannot be written to a file at all
    text = render(value, style, "flow" if flow else "block")
    doc = f"k: [{text}]\n" if flow else f"k: {text}\n"
    data = yaml.safe_load(doc)["k"]
    assert (data[0] if flow else data) == value
    rdata = YAML(typ="safe", pure=True).load(io.StringIO(doc))["k"]
    assert (rdata[0] if flow else rdata) == value
    root = parse_text(doc, "h.yaml").documents[0].root
    assert isinstance(root, Mapping)
    node = root.get("k")
    if flow:
        assert isinstance(node, Sequence)
        node = node.items[0]
    assert isinstance(node, Scalar) and node.value == value
