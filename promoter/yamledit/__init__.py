"""The byte-exact YAML editing engine: parse (located tree), quote, splice, prove, write.

Submodules import their YAML library lazily, so importing this package is cheap.
"""

from promoter.yamledit.parse import DuplicateKeyError, YamlError, parse_text, read_file

__all__ = ["DuplicateKeyError", "YamlError", "parse_text", "read_file"]
