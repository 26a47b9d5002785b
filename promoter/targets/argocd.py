"""Argo CD ``Application`` / ``ApplicationSet`` sources and ``.argocd-source*.yaml`` overrides.

For each source (``spec.source``, ``spec.sources[]``; an ApplicationSet's
``spec.template.spec``; the whole document of a ``.argocd-source*.yaml`` file):

- ``helm.parameters`` (``name``/``value`` pairs): ``P.repository`` (with ``P.registry``
  when present) or ``P.name`` identifies the image, ``P.tag`` / ``P.digest`` get the new
  version; a parameter whose last name segment is image-like (``image``,
  ``fooImage``) and whose value is a whole reference is rewritten whole.
- ``helm.valuesObject``: the Helm values shapes (:func:`promoter.targets.helm.values_changes`).
- ``kustomize.images``: strings ``[alias=]name[:tag][@digest]`` matched by alias or name.

``helm.values`` is YAML inside a string (a block scalar) and is not edited.
"""

from __future__ import annotations

from promoter.imageref import try_parse
from promoter.targets.base import Request
from promoter.targets.common import (
    SplitFields,
    api_kind,
    editable,
    get_path,
    is_image_key,
    is_source_override_file,
    join_registry,
    match,
    root_mapping,
    split_changes,
    whole_ref,
    whole_ref_change,
)
from promoter.targets.helm import values_changes
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


def sources(pf: ParsedFile, doc: Document) -> list[Mapping]:
    """The source mappings of an Application/ApplicationSet document or an override file."""
    root = root_mapping(doc)
    if root is None:
        return []
    if is_source_override_file(pf) and api_kind(root) is None:
        return [root]
    ak = api_kind(root)
    if ak is None or not ak[0].startswith("argoproj.io/"):
        return []
    if ak[1] == "Application":
        spec = get_path(root, "spec")
    elif ak[1] == "ApplicationSet":
        spec = get_path(root, "spec", "template", "spec")
    else:
        return []
    out: list[Mapping] = []
    single = deref(get_path(spec, "source"))
    if isinstance(single, Mapping):
        out.append(single)
    many = deref(get_path(spec, "sources"))
    if isinstance(many, Sequence):
        out.extend(m for m in (deref(i) for i in many.items) if isinstance(m, Mapping))
    return out


def parameters(params: Node | None) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    seq = deref(params)
    if not isinstance(seq, Sequence):
        return out
    for item in seq.items:
        entry = deref(item)
        if not isinstance(entry, Mapping):
            continue
        name = entry.get_str("name")
        value = editable(entry.get("value"))
        if name and value is not None:
            out[name] = value
    return out


def parameter_changes(params: Node | None, request: Request, target: str) -> list[Change]:
    by_name = parameters(params)
    out: list[Change] = []
    for name, value in by_name.items():
        prefix, _, last = name.rpartition(".")
        prefix = f"{prefix}." if prefix else ""
        if is_image_key(last):
            out.extend(whole_ref_change(value, request, target))
            continue
        owner = prefix[:-1].rpartition(".")[2]
        if last == "repository" or (last == "name" and is_image_key(owner)):
            registry = by_name.get(f"{prefix}registry")
            full = join_registry(registry.value if registry else None, value.value)
            found = match(full, request)
            if found is None or found[0].tag or found[0].digest:
                continue
            fields = SplitFields(by_name.get(f"{prefix}tag"), by_name.get(f"{prefix}digest"))
            out.extend(split_changes(fields, found[1], target))
    return out


def kustomize_image_changes(images: Node | None, request: Request, target: str) -> list[Change]:
    seq = deref(images)
    out: list[Change] = []
    if not isinstance(seq, Sequence):
        return out
    for item in seq.items:
        scalar = editable(item)
        if scalar is None:
            continue
        alias, eq, ref = scalar.value.rpartition("=")
        found = match(ref, request)
        if found is None and eq and match(alias, request) is not None:
            # `alias=other/name:tag`: the alias names our image; the tag goes on the right
            current = try_parse(ref)
            image = match(alias, request)
            found = (current, image[1]) if current is not None and image is not None else None
        if found is None:
            continue
        text, note = whole_ref(*found)
        out.append(SetScalar(scalar, f"{alias}{eq}{text}", target, note))
    return out


class ArgoCDTarget:
    name = "argocd"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        out: list[Change] = []
        for source in sources(pf, doc):
            params = get_path(source, "helm", "parameters")
            out.extend(parameter_changes(params, request, self.name))
            values = get_path(source, "helm", "valuesObject")
            if values is not None:
                out.extend(values_changes(values, request, self.name, pf.text))
            images = get_path(source, "kustomize", "images")
            out.extend(kustomize_image_changes(images, request, self.name))
        return out
