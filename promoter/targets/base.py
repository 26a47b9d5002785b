"""The protocol every target plug-in implements (one module per target).

A target looks at one document of a parsed file and says which scalars pin
one of the requested images and what their new text value is. It never
touches text: the engine splices, quotes and proves.

Targets are typed structurally, so :class:`Target` exists for the type checker
only (``TARGETS`` in :mod:`promoter.targets` is typed with it): every
``set-image`` run imports this module, and defining a ``Protocol`` means importing
``typing`` and building the class (~1 ms) for nothing at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Protocol

    from promoter.imageref import ImageRef
    from promoter.yamledit.model import Change, Document, ParsedFile

    class Target(Protocol):
        name: str

        def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
            """Changes this target wants in ``doc``; empty when nothing pins a requested image."""
            ...


class Request:
    """What to look for. A plain slotted class treated as immutable (like the tree's
    node classes): a dataclass costs its import and ~0.4 ms per class on every run."""

    __slots__ = ("add", "images", "keys")

    def __init__(
        self, images: tuple[ImageRef, ...], keys: tuple[str, ...] = (), add: bool = False
    ) -> None:
        self.images = images
        self.keys = keys  # explicit dotted key paths (--key image.tag)
        self.add = add  # --add: create a missing kustomize images: entry

    def __repr__(self) -> str:
        return f"Request(images={self.images!r}, keys={self.keys!r}, add={self.add!r})"
