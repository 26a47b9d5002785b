"""The byte-exact YAML editing engine: parse (located tree), quote, splice, prove, write.

Submodules import their YAML library lazily, so importing this package is cheap.
"""

from promoter.yamledit.engine import EditError, ProofError, apply, encode, write_atomic
from promoter.yamledit.parse import DuplicateKeyError, YamlError, parse_text, read_file
from promoter.yamledit.quoting import QuotingError, needs_quotes, render

__all__ = [
    "DuplicateKeyError",
    "EditError",
    "ProofError",
    "QuotingError",
    "YamlError",
    "apply",
    "encode",
    "needs_quotes",
    "parse_text",
    "read_file",
    "render",
    "write_atomic",
]
