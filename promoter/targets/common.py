"""Helpers the target plug-ins share: walking the located tree, matching, versions.

Rules every target follows (README "## set-image" says the same to users):

- Matching is by normalised repository (``nginx`` is ``docker.io/library/nginx``);
  a whole reference is written back with the repository *as the file spelled it*.
- A pinned digest is dropped only when the tag changes and the new reference
  carries no digest (it then no longer describes the image); when the tag is
  already the requested one the pin is "up to date" and the digest stays.
- A reference with only a digest replaces the tag of a whole reference
  (``name@digest``) but leaves a separate tag field alone (kustomize and the
  Helm charts we know prefer the digest when both are set).
- Block scalars (``|``/``>``) are never edited: an image inside one is text, not a pin.
- Targets may return a ``SetScalar`` whose value equals the current one: the
  caller reports it as "up to date" and drops it before splicing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from promoter.imageref import ImageRef, try_parse
from promoter.targets.base import Request
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

# Keys whose scalar value is a whole image reference in values-like trees.
IMAGE_KEY_SUFFIXES = ("Image", "_image", "-image")


def is_image_key(key: str) -> bool:
    return key == "image" or key.endswith(IMAGE_KEY_SUFFIXES)


def root_mapping(doc: Document) -> Mapping | None:
    root = deref(doc.root)
    return root if isinstance(root, Mapping) else None


def api_kind(m: Mapping) -> tuple[str, str] | None:
    """``(apiVersion, kind)`` when ``m`` looks like a Kubernetes object."""
    api = m.get_str("apiVersion")
    kind = m.get_str("kind")
    if api is None or kind is None:
        return None
    return api, kind


def basename(pf: ParsedFile) -> str:
    return pf.name.replace("\\", "/").rsplit("/", 1)[-1]


# File names that make a document a kustomization (kustomize) without apiVersion/kind.
KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


def is_source_override_file(pf: ParsedFile) -> bool:
    """An Argo CD ``.argocd-source*.yaml`` parameter override file (argocd's, not helm's)."""
    name = basename(pf)
    return name.startswith(".argocd-source") and name.endswith((".yaml", ".yml"))


def editable(node: Node | None) -> Scalar | None:
    """The scalar to edit behind ``node`` (through aliases), or None for block scalars/others."""
    target = deref(node)
    if isinstance(target, Scalar) and target.style not in ("literal", "folded"):
        return target
    return None


SkipKey = Callable[[Mapping, str, Node], bool]


def iter_mappings(
    node: Node | None,
    skip: SkipKey | None = None,
    prune: Callable[[Mapping], bool] | None = None,
) -> Iterator[Mapping]:
    """Every mapping under ``node`` (pre-order), each once, following aliases.

    ``skip(parent, key, value)`` prunes the subtree ``value`` under ``parent[key]``;
    ``prune(mapping)`` prunes a mapping and everything under it.
    """
    seen: set[int] = set()
    stack: list[Node | None] = [node]
    while stack:
        current = deref(stack.pop())
        if current is None or isinstance(current, Scalar) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Mapping):
            if prune is not None and prune(current):
                continue
            yield current
            children: list[Node | None] = []
            for k, v in current.pairs:
                if skip is not None and isinstance(k, Scalar) and skip(current, k.value, v):
                    continue
                children.append(v)
            stack.extend(reversed(children))
        elif isinstance(current, Sequence):
            stack.extend(reversed(current.items))


def iter_scalars(node: Node | None) -> Iterator[Scalar]:
    """Every value scalar under ``node`` (keys excluded), each once."""
    seen: set[int] = set()
    stack: list[Node | None] = [node]
    while stack:
        current = deref(stack.pop())
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Scalar):
            yield current
        elif isinstance(current, Mapping):
            stack.extend(reversed([v for _, v in current.pairs]))
        else:
            stack.extend(reversed(current.items))


def get_path(node: Node | None, *keys: str | int) -> Node | None:
    current = deref(node)
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, Sequence) or key >= len(current.items):
                return None
            current = deref(current.items[key])
        else:
            if not isinstance(current, Mapping):
                return None
            current = deref(current.get(key))
    return current


def mapping_at(node: Node | None, *keys: str | int) -> Mapping | None:
    found = get_path(node, *keys)
    return found if isinstance(found, Mapping) else None


def match(text: str, request: Request) -> tuple[ImageRef, ImageRef] | None:
    """``(as written, requested)`` when ``text`` is a reference of a requested repository."""
    if not text or len(text) > 512:
        return None
    current = try_parse(text)
    if current is None:
        return None
    for image in request.images:
        if image.repository == current.repository:
            return current, image
    return None


def match_name(name: str, request: Request) -> ImageRef | None:
    """The requested image whose repository ``name`` (no tag expected) spells."""
    found = match(name, request)
    return found[1] if found else None


def tag_changes(old_tag: str | None, new: ImageRef) -> bool:
    return new.tag is not None and new.tag != old_tag


def whole_ref(current: ImageRef, new: ImageRef) -> tuple[str, str | None]:
    """Text for a whole-reference field and an optional note for people."""
    tag, digest = new.tag, new.digest
    note = None
    if digest is None:
        if current.tag == tag and current.digest:
            return str(current), None  # same tag, digest still describes it: up to date
        if current.digest:
            note = f"digest removed: {current.digest} no longer matches tag {tag}"
    elif tag is None and current.tag:
        note = f"tag {current.tag} removed: the new reference pins only a digest"
    return str(current.with_version(tag, digest)), note


def whole_ref_change(node: Node | None, request: Request, target: str) -> list[Change]:
    scalar = editable(node)
    if scalar is None:
        return []
    found = match(scalar.value, request)
    if found is None:
        return []
    text, note = whole_ref(*found)
    return [SetScalar(scalar, text, target, note)]


class SplitFields:
    """A pin spread over fields: repository elsewhere, ``tag``/``digest`` scalars here.

    A plain slotted class, not a NamedTuple: no ``typing`` import on a run."""

    __slots__ = ("digest", "tag")

    def __init__(self, tag: Scalar | None, digest: Scalar | None) -> None:
        self.tag = tag
        self.digest = digest


def split_changes(fields: SplitFields, new: ImageRef, target: str) -> list[Change]:
    """Changes for a ``{tag, digest}`` pair (Helm values style: a stale digest becomes "")."""
    out: list[Change] = []
    old_tag = fields.tag.value if fields.tag is not None else None
    if new.tag is not None and fields.tag is not None:
        out.append(SetScalar(fields.tag, new.tag, target))
    if fields.digest is not None:
        if new.digest is not None:
            out.append(SetScalar(fields.digest, new.digest, target))
        elif fields.digest.value and tag_changes(old_tag, new):
            note = (
                f"digest cleared: {fields.digest.value} no longer matches tag {new.tag} "
                f"(set to \"\" so templates fall back to the tag)"
            )
            out.append(SetScalar(fields.digest, "", target, note))
    return out


def join_registry(registry: str | None, repository: str) -> str:
    registry = (registry or "").strip().rstrip("/")
    return f"{registry}/{repository}" if registry else repository
