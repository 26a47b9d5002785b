"""When a value must be quoted, and how to write it in a given scalar style.

A tag is a string. Kubernetes tools read YAML with go-yaml v2 rules (close
to YAML 1.1: ``y``/``on`` are booleans, ``0o17``/``1e3`` numbers, ``12:30``
a base-60 number for PyYAML), Helm renders numbers (``20240215`` becomes
``2.0240215e+07``), and YAML 1.2 readers (ruamel) type ``1e3`` and ``0o17``
as numbers too. A plain scalar is therefore kept plain only when *every* one
of these readers reads back exactly the same string; otherwise it is written
double-quoted (see ``/work/shared/notes/yaml-typing.md`` for the facts).

Quoting more than strictly needed is harmless (a quoted scalar is always a
string); quoting less changes a manifest's meaning. So the rules below are
the union of the readers' rules, rounded towards quoting.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Literal

    from promoter.yamledit.model import ScalarStyle

    Context = Literal["block", "flow"]

# Null and booleans: YAML 1.1 (go-yaml v2 also takes y/n), YAML 1.2 core.
_WORDS = frozenset(
    """~ null Null NULL
    y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF
    = <<""".split()
)

# Numbers, tested on the text with '_' removed (YAML 1.1 and Go allow 1_000).
# No alternative has two dots, so "1.2.3" (most tags) never needs the expression.
_NUMBER = r"""[-+]?(?:
        0[bB][01]+                                   # binary (YAML 1.1, Go)
      | 0[oO]?[0-7]+                                 # octal 010 (1.1) and 0o17 (1.2, Go)
      | 0[xX][0-9a-fA-F]+                            # hex
      | (?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?   # int, 1.10, .5, 1e3, 2873e41
      | [0-9]+(?::[0-5]?[0-9])+(?:\.[0-9]*)?         # base 60: 12:30 (YAML 1.1)
      | \.(?:inf|Inf|INF)                            # infinity
    )|\.(?:nan|NaN|NAN)"""

# YAML 1.1 timestamps (PyYAML and ruamel build dates from them): YYYY-M-D at least.
_TIMESTAMP = (
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*Z|[-+][0-9]{1,2}(?::[0-9]{2})?)?)?"
)

# The two expressions are compiled when first needed (~0.45 ms at import otherwise,
# and a run that writes "1.2.3"-like tags never needs them).
_compiled: dict[str, re.Pattern[str]] = {}


def _matches(pattern: str, text: str) -> bool:
    regex = _compiled.get(pattern)
    if regex is None:
        regex = _compiled[pattern] = re.compile(pattern, re.VERBOSE if pattern is _NUMBER else 0)
    return regex.fullmatch(text) is not None


# Characters a plain scalar may not start with (YAML indicators), and the
# flow indicators a plain scalar may not contain inside [...] or {...}.
_LEADING = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW = frozenset(",[]{}")
_FLOW_STOP = frozenset(",?[]{}")
_BLANK = " \t"


class QuotingError(ValueError):
    """A value cannot be written in the scalar's style (literal/folded block scalars)."""


def needs_quotes(value: str, context: Context = "block") -> bool:
    """True when ``value`` written plain would not read back as this exact string.

    Either some reader (YAML 1.1 as Helm/kubectl read it, PyYAML, YAML 1.2
    core) types it as something else (null, bool, number, date), or the text
    is not a valid plain scalar at all (indicators, ``': '``, ``' #'``, blanks
    at the ends, line breaks, control characters).
    """
    if is_typed_plain(value):
        return True
    return not _valid_plain(value, context)


def is_typed_plain(value: str) -> bool:
    """True when a plain scalar spelled ``value`` is read as null, bool, number or date
    by some reader (YAML 1.1, go-yaml v2, PyYAML, YAML 1.2 core)."""
    if not value or value in _WORDS:
        return True
    first = value[0]
    if first in "+-.0123456789":
        number = value.replace("_", "")
        if number.count(".") < 2 and _matches(_NUMBER, number):
            return True
    return len(value) >= 8 and value[4] == "-" and first.isdigit() and _matches(_TIMESTAMP, value)


def _valid_plain(value: str, context: Context) -> bool:
    first = value[0]
    if first in _LEADING:
        # '-', '?' and ':' may start a plain scalar when a safe character follows.
        if first not in "-?:" or len(value) == 1 or value[1] in _BLANK or value[1] in _FLOW:
            return False
    if value[0] in _BLANK or value[-1] in _BLANK or value[-1] == ":":
        return False
    if value.startswith(("---", "...")):
        return False  # document markers when the value starts a line
    if ": " in value or ":\t" in value or " #" in value or "\t#" in value:
        return False
    if context == "flow" and (any(c in _FLOW_STOP for c in value) or ":" in value):
        # ':' next to a flow indicator ends the key, and PyYAML ends a plain scalar
        # at '?' inside [...] or {...}: keep it simple
        return False
    return value.isprintable() and "\ufeff" not in value


def render(value: str, style: ScalarStyle, context: Context = "block") -> str:
    """The text to write for ``value`` keeping ``style`` where that reads back as ``value``.

    plain stays plain unless :func:`needs_quotes` (then double-quoted); single
    stays single (``'`` doubled) unless the value has characters single quotes
    cannot carry; double stays double with escapes.
    """
    if style == "plain":
        return double_quoted(value) if needs_quotes(value, context) else value
    if style == "single":
        if value.isprintable() and "\ufeff" not in value:
            return "'" + value.replace("'", "''") + "'"
        return double_quoted(value)
    if style == "double":
        return double_quoted(value)
    raise QuotingError(
        f"a {style} block scalar holds text, not an image reference; "
        "write the image as a plain or quoted scalar"
    )


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\x07": "\\a",
    "\b": "\\b",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def double_quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar (printable non-ASCII kept as is)."""
    out = []
    for c in value:
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif c.isprintable() and c != "\ufeff":
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'
