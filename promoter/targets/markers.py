"""Fields marked by a comment on their line.

Our own marker names the repository, so it is unambiguous::

    tag: 1.4.0  # promoter: ghcr.io/acme/web:tag

``# promoter: <repository>`` marks a whole reference, ``:tag`` a tag, ``:digest`` a
digest and ``:name`` the repository name (set to the marker's spelling when it
differs). A marker that is not a valid repository is ignored.

Flux image-automation markers (``# {"$imagepolicy": "ns:policy"}``, ``…:tag``,
``…:name``, ``…:digest``) name an ImagePolicy, not an image, and promoter has no
cluster to ask. We map a policy to a requested image conservatively:

- a whole-reference field changes only when its current value is a reference of
  the requested repository (a policy never moves a field to another repository);
- a ``:tag`` / ``:digest`` field changes when the same policy's ``:name`` field in
  the same document names the requested repository, or when the mapping holding
  the field has a ``repository``/``image``/``name``/``newName`` sibling naming it,
  or, when neither exists, when the policy name equals the image's short name
  (``ghcr.io/acme/web`` ↔ policy ``web``);
- a ``:name`` field is never rewritten to another repository.

A ``:digest`` field is left alone when the new reference has no digest.
"""

from __future__ import annotations

from collections.abc import Iterator

from promoter.imageref import ImageRef, InvalidReference, parse
from promoter.targets.base import Request
from promoter.targets.common import join_registry, match, whole_ref
from promoter.yamledit.model import (
    Change,
    Document,
    Mapping,
    Node,
    ParsedFile,
    Scalar,
    Sequence,
    SetScalar,
    deref,
)

FIELDS = ("tag", "name", "digest")


class Marker:
    """A parsed marker comment (a plain slotted class, not a NamedTuple: no ``typing``
    import on a run); equal when all three fields are."""

    __slots__ = ("field", "key", "kind")

    def __init__(self, kind: str, key: str, field: str | None) -> None:
        self.kind = kind  # "flux" or "promoter"
        self.key = key  # flux: "ns:policy"; promoter: the repository as written
        self.field = field  # None (whole reference), "tag", "name", "digest"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Marker):
            return NotImplemented
        return (self.kind, self.key, self.field) == (other.kind, other.key, other.field)

    def __hash__(self) -> int:
        return hash((self.kind, self.key, self.field))

    def __repr__(self) -> str:
        return f"Marker(kind={self.kind!r}, key={self.key!r}, field={self.field!r})"


def parse_marker(comment: str | None) -> Marker | None:
    if not comment:
        return None
    text = comment.strip()
    if text.startswith("{") and "$imagepolicy" in text:
        import json  # only here: most runs never see a Flux marker

        try:
            data = json.loads(text)
        except ValueError:
            return None
        policy = data.get("$imagepolicy") if isinstance(data, dict) else None
        if not isinstance(policy, str):
            return None
        parts = policy.split(":")
        if len(parts) == 3 and parts[2] in FIELDS:
            return Marker("flux", f"{parts[0]}:{parts[1]}", parts[2])
        if len(parts) == 2:
            return Marker("flux", policy, None)
        return None
    if text.startswith("promoter:"):
        spec = text[len("promoter:") :].strip().split()[0] if text[9:].strip() else ""
        field = None
        head, sep, tail = spec.rpartition(":")
        if sep and tail in FIELDS and "/" not in tail:
            spec, field = head, tail
        try:
            ref = parse(spec)
        except InvalidReference:
            return None
        if ref.tag or ref.digest:
            return None
        return Marker("promoter", spec, field)
    return None


def _commented(root: Node | None) -> Iterator[tuple[Scalar, Mapping | None]]:
    """Value scalars with a line comment, each with its mapping (None in a sequence)."""
    seen: set[int] = set()
    stack: list[tuple[Node | None, Mapping | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        current = deref(node)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Mapping):
            stack.extend((v, current) for _, v in reversed(current.pairs))
        elif isinstance(current, Sequence):
            stack.extend((item, None) for item in reversed(current.items))
        elif current.comment is not None and current.style not in ("literal", "folded"):
            yield current, parent


def _sibling_name(m: Mapping) -> str | None:
    repo = m.get_str("repository")
    if repo:
        return join_registry(m.get_str("registry"), repo)
    for key in ("newName", "image", "name"):
        value = m.get_str(key)
        if value:
            return value
    return None


def _version_change(node: Scalar, field: str, image: ImageRef, target: str) -> list[Change]:
    if field == "tag" and image.tag is not None:
        return [SetScalar(node, image.tag, target)]
    if field == "digest" and image.digest is not None:
        return [SetScalar(node, image.digest, target)]
    return []


class MarkersTarget:
    name = "markers"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        if "$imagepolicy" not in pf.text and "promoter:" not in pf.text:
            return []
        marked: list[tuple[Scalar, Marker, Mapping | None]] = []
        for scalar, parent in _commented(doc.root):
            marker = parse_marker(scalar.comment)
            if marker is not None:
                marked.append((scalar, marker, parent))
        if not marked:
            return []
        names: dict[str, str] = {}  # flux policy -> value of its :name field
        for scalar, marker, _ in marked:
            if marker.kind == "flux" and marker.field == "name":
                names[marker.key] = scalar.value
        out: list[Change] = []
        for scalar, marker, parent in marked:
            if marker.kind == "promoter":
                out.extend(self._promoter(scalar, marker, request))
            else:
                out.extend(self._flux(scalar, marker, parent, names, request))
        return out

    def _promoter(self, scalar: Scalar, marker: Marker, request: Request) -> list[Change]:
        found = match(marker.key, request)
        if found is None:
            return []
        image = found[1]
        if marker.field is None:
            current = match(scalar.value, request)
            if current is not None and current[1] is image:
                text, note = whole_ref(*current)
            else:
                text, note = str(parse(marker.key).with_version(image.tag, image.digest)), None
            return [SetScalar(scalar, text, self.name, note)]
        if marker.field == "name":
            current = match(scalar.value, request)
            if current is not None and current[1] is image:
                return []
            return [SetScalar(scalar, marker.key, self.name)]
        return _version_change(scalar, marker.field, image, self.name)

    def _flux(
        self,
        scalar: Scalar,
        marker: Marker,
        parent: Mapping | None,
        names: dict[str, str],
        request: Request,
    ) -> list[Change]:
        if marker.field is None:
            found = match(scalar.value, request)
            if found is None:
                return []
            text, note = whole_ref(*found)
            return [SetScalar(scalar, text, self.name, note)]
        if marker.field == "name":
            return []
        named = names.get(marker.key) or (_sibling_name(parent) if parent else None)
        image: ImageRef | None = None
        if named is not None:
            found = match(named, request)
            image = found[1] if found else None
        else:
            policy = marker.key.split(":", 1)[1]
            image = next((i for i in request.images if i.short_name == policy), None)
        if image is None:
            return []
        return _version_change(scalar, marker.field, image, self.name)
