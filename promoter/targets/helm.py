"""Helm values: ``image: "repo:tag"``, ``{repository, tag}``, ``{registry, repository, tag,
digest}``, ``image: {name, tag}`` and ``image: repo`` beside ``tag:``/``imageTag:``.

A *values file* is any YAML document that is not a Kubernetes object (no
``apiVersion`` + ``kind`` at its top level), not a kustomization and not an Argo CD
``.argocd-source*.yaml`` override. The same shapes are looked for in Flux
``HelmRelease`` ``spec.values`` and Argo CD ``valuesObject`` (their modules call
:func:`values_changes`), never inside other Kubernetes objects: a ConfigMap's
``data.image`` is configuration, not a pin. Embedded objects inside a values tree
(``extraObjects: [{apiVersion, kind, ...}]``) are skipped for the same reason.

In a ``{tag, digest}`` shape a digest that no longer matches the new tag is set
to ``""`` rather than deleted: charts template ``.Values.image.digest`` and an
empty string is what their defaults use.
"""

from __future__ import annotations

from collections.abc import Callable

from promoter.targets.base import Request
from promoter.targets.common import (
    KUSTOMIZATION_FILES,
    SplitFields,
    api_kind,
    basename,
    editable,
    is_image_key,
    is_source_override_file,
    iter_mappings,
    join_registry,
    match,
    match_name,
    root_mapping,
    split_changes,
    whole_ref_change,
)
from promoter.yamledit.model import Change, Document, Mapping, Node, ParsedFile, Scalar, deref

_TAG_KEYS = ("tag", "imageTag")
_DIGEST_KEYS = ("digest", "imageDigest")


def _first_scalar(m: Mapping, keys: tuple[str, ...]) -> Scalar | None:
    for key in keys:
        node = editable(m.get(key))
        if node is not None:
            return node
    return None


def _add_tag(m: Mapping, tag: str, target: str) -> Change:
    from promoter.targets.addkey import AddKey

    note = "added tag (the values had none; the chart's default no longer applies)"
    return AddKey(m, "tag", None, (("tag", tag),), target, note)


def _embedded_object(m: Mapping) -> bool:
    seen = 0
    for k, _ in m.pairs:
        if isinstance(k, Scalar) and k.value in ("apiVersion", "kind"):
            seen += 1
    return seen >= 2


def _pruner(text: str | None, request: Request) -> Callable[[Mapping], bool]:
    """Prune embedded objects and, given the file's text, subtrees naming no requested image.

    Every shape spells the image's last path component inside the mapping that holds
    it, so a subtree whose text lacks all of them holds no pin (the whole-file
    pre-filter's argument, applied per subtree: big values files get cheap) -- unless
    the subtree holds an alias (``*``): what it stands for is spelled at its anchor,
    elsewhere in the file. Such a subtree is walked; a pin reached through an alias is
    found at the anchored node and edited (and reported) there, once.
    """
    if text is None:
        return _embedded_object
    names = tuple({image.short_name for image in request.images})
    aliases = "*" in text  # one scan of the file; most values files have no alias at all

    def prune(m: Mapping) -> bool:
        span = m.span  # once: the model may build it on each access
        start, end = span.start, span.end
        if not any(text.find(name, start, end) >= 0 for name in names) and not (
            aliases and text.find("*", start, end) >= 0
        ):
            return True
        return _embedded_object(m)

    return prune


def _mapping_changes(m: Mapping, request: Request, target: str) -> list[Change]:
    out: list[Change] = []
    for k, v in m.pairs:
        if not isinstance(k, Scalar) or not is_image_key(k.value):
            continue
        value = deref(v)
        if isinstance(value, Scalar):
            found = match(value.value, request)
            tag = _first_scalar(m, _TAG_KEYS) if k.value == "image" else None
            if found and tag is not None and not found[0].tag and not found[0].digest:
                # `image: repo` with the version in a sibling `tag:`
                fields = SplitFields(tag, _first_scalar(m, _DIGEST_KEYS))
                out.extend(split_changes(fields, found[1], target))
            else:
                out.extend(whole_ref_change(value, request, target))
        elif isinstance(value, Mapping) and value.get("repository") is None:
            name = value.get_str("name")
            image = match_name(name, request) if name else None
            if image is not None:
                fields = SplitFields(_first_scalar(value, _TAG_KEYS), editable(value.get("digest")))
                out.extend(split_changes(fields, image, target))
    repository = m.get_str("repository")
    if repository:
        name = join_registry(m.get_str("registry"), repository)
        found = match(name, request)
        if found is not None and not found[0].tag and not found[0].digest:
            fields = SplitFields(_first_scalar(m, _TAG_KEYS), editable(m.get("digest")))
            out.extend(split_changes(fields, found[1], target))
            if fields.tag is None and found[1].tag is not None and not m.flow and not any(
                m.get(key) is not None for key in _TAG_KEYS
            ):
                # `{repository}` alone: the chart falls back to its appVersion; pin the tag
                out.append(_add_tag(m, found[1].tag, target))
    return out


def values_changes(
    node: Node | None, request: Request, target: str, text: str | None = None
) -> list[Change]:
    """Changes for every Helm values shape under ``node`` (a values tree of ``text``)."""
    out: list[Change] = []
    for m in iter_mappings(node, prune=_pruner(text, request)):
        out.extend(_mapping_changes(m, request, target))
    return out


def is_values_document(pf: ParsedFile, doc: Document) -> bool:
    root = root_mapping(doc)
    if root is None or api_kind(root) is not None:
        return False
    if basename(pf) in KUSTOMIZATION_FILES:  # without apiVersion/kind only its name tells
        from promoter.targets.kustomize import is_kustomization  # (kustomize loads lazily)

        return not is_kustomization(pf, root)
    return not is_source_override_file(pf)


class HelmTarget:
    name = "helm"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        if not is_values_document(pf, doc):
            return []
        return values_changes(doc.root, request, self.name, pf.text)
