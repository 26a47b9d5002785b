"""Kustomize ``images:`` entries.

Where: files named ``kustomization.yaml`` / ``kustomization.yml`` / ``Kustomization``,
documents with ``kind: Kustomization|Component`` of ``kustomize.config.k8s.io``, and
Flux ``Kustomization`` (``kustomize.toolkit.fluxcd.io``) ``spec.images``. A Flux
``HelmRelease``'s ``spec.postRenderers[].kustomize.images`` uses
:func:`images_changes` too (see :mod:`promoter.targets.helmrelease`).

An entry matches when its ``name`` or its ``newName`` is a requested repository.
``newTag`` gets the new tag; ``digest`` the new digest. When only a tag is given
and it differs from ``newTag``, a pinned ``digest`` is deleted (kustomize prefers
the digest, so leaving it would keep the old image running) and reported. With
``--add``, a kustomization (or Flux Kustomization) with no matching entry gets
one appended (``name`` + ``newTag``/``digest``): point PATH at the overlay you mean,
every kustomization under PATH without an entry gets one.
"""

from __future__ import annotations

from promoter.imageref import ImageRef
from promoter.targets.base import Request
from promoter.targets.common import (
    KUSTOMIZATION_FILES,
    api_kind,
    basename,
    editable,
    mapping_at,
    match,
    root_mapping,
    tag_changes,
)
from promoter.yamledit.model import (
    AppendItem,
    Change,
    DeletePair,
    Document,
    Mapping,
    ParsedFile,
    Sequence,
    SetScalar,
    deref,
)

FILE_NAMES = KUSTOMIZATION_FILES
KINDS = frozenset({"Kustomization", "Component"})


def is_kustomization(pf: ParsedFile, root: Mapping) -> bool:
    """A kustomize.config.k8s.io kustomization (by file name or by apiVersion/kind)."""
    ak = api_kind(root)
    if ak is not None:
        api, kind = ak
        return api.startswith("kustomize.config.k8s.io/") and kind in KINDS
    if basename(pf) in FILE_NAMES:
        plain_kind = root.get_str("kind")
        return plain_kind is None or plain_kind in KINDS
    return False


def is_flux_kustomization(root: Mapping) -> bool:
    ak = api_kind(root)
    return ak is not None and ak[0].startswith("kustomize.toolkit.fluxcd.io/") and (
        ak[1] == "Kustomization"
    )


def _entry_image(entry: Mapping, request: Request) -> ImageRef | None:
    for key in ("newName", "name"):
        value = entry.get_str(key)
        found = match(value, request) if value else None
        if found is not None and not found[0].tag and not found[0].digest:
            return found[1]
    return None


def _entry_changes(entry: Mapping, new: ImageRef, target: str, file: str) -> list[Change]:
    from promoter.targets.addkey import add_key

    out: list[Change] = []
    tag_node = editable(entry.get("newTag"))
    digest_node = editable(entry.get("digest"))
    old_tag = tag_node.value if tag_node is not None else None
    if new.tag is not None:
        if tag_node is not None:
            out.append(SetScalar(tag_node, new.tag, target))
        else:
            out.extend(add_key(entry, "newTag", new.tag, target, file))
    if new.digest is not None:
        if digest_node is not None:
            out.append(SetScalar(digest_node, new.digest, target))
        else:
            out.extend(add_key(entry, "digest", new.digest, target, file))
    elif digest_node is not None and digest_node.value and tag_changes(old_tag, new):
        note = f"digest removed: {digest_node.value} no longer matches tag {new.tag}"
        out.append(DeletePair(entry, "digest", target, note))
    return out


def _new_entry(image: ImageRef) -> tuple[tuple[str, str], ...]:
    item: list[tuple[str, str]] = [("name", image.name)]
    if image.tag is not None:
        item.append(("newTag", image.tag))
    if image.digest is not None:
        item.append(("digest", image.digest))
    return tuple(item)


def images_changes(
    pf: ParsedFile, owner: Mapping, request: Request, target: str, add: bool
) -> list[Change]:
    """Changes for ``owner["images"]``; with ``add``, append entries for unmatched images."""
    seq = deref(owner.get("images"))
    matched: set[str] = set()
    out: list[Change] = []
    if isinstance(seq, Sequence):
        for item in seq.items:
            entry = deref(item)
            if not isinstance(entry, Mapping):
                continue
            image = _entry_image(entry, request)
            if image is not None:
                matched.add(image.repository)
                out.extend(_entry_changes(entry, image, target, pf.name))
    elif seq is not None:
        return out  # `images:` is something else (null, a scalar): leave it alone
    if add:
        for image in request.images:
            if image.repository not in matched:
                sequence = seq if isinstance(seq, Sequence) else None
                note = f"added an images entry for {image.name}"
                out.append(AppendItem(owner, "images", sequence, _new_entry(image), target, note))
    return out


class KustomizeTarget:
    name = "kustomize"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        root = root_mapping(doc)
        if root is None:
            return []
        if is_kustomization(pf, root):
            return images_changes(pf, root, request, self.name, request.add)
        if is_flux_kustomization(root):
            spec = mapping_at(root, "spec")
            if spec is not None:
                return images_changes(pf, spec, request, self.name, request.add)
        return []
