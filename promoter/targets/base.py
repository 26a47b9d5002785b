"""The protocol every target plug-in implements (one module per target).

A target looks at one document of a parsed file and says which scalars pin
one of the requested images and what their new text value is. It never
touches text: the engine splices, quotes and proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from promoter.imageref import ImageRef
    from promoter.yamledit.model import Change, Document, ParsedFile


@dataclass(frozen=True, slots=True)
class Request:
    images: tuple[ImageRef, ...]
    keys: tuple[str, ...] = ()  # explicit dotted key paths (--key image.tag)
    add: bool = False  # --add: create a missing kustomize images: entry


class Target(Protocol):
    name: str

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        """Changes this target wants in ``doc``; empty when nothing pins a requested image."""
        ...
