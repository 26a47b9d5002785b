"""Flux ``HelmRelease`` (``helm.toolkit.fluxcd.io``): the Helm values shapes in
``spec.values`` and kustomize ``images:`` entries in ``spec.postRenderers[].kustomize``.

``spec.valuesFrom`` (ConfigMaps/Secrets) lives elsewhere; a values ConfigMap's
``data`` holds YAML *text*, which is not edited (a block scalar).
"""

from __future__ import annotations

from promoter.targets.base import Request
from promoter.targets.common import api_kind, get_path, mapping_at, root_mapping
from promoter.targets.helm import values_changes
from promoter.targets.kustomize import images_changes
from promoter.yamledit.model import Change, Document, Mapping, ParsedFile, Sequence, deref


def is_helmrelease(root: Mapping) -> bool:
    ak = api_kind(root)
    return ak is not None and ak[0].startswith("helm.toolkit.fluxcd.io/") and (
        ak[1] == "HelmRelease"
    )


class HelmReleaseTarget:
    name = "helmrelease"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        root = root_mapping(doc)
        if root is None or not is_helmrelease(root):
            return []
        out: list[Change] = []
        values = get_path(root, "spec", "values")
        if values is not None:
            out.extend(values_changes(values, request, self.name, pf.text))
        renderers = get_path(root, "spec", "postRenderers")
        if isinstance(renderers, Sequence):
            for item in renderers.items:
                kustomize = mapping_at(deref(item), "kustomize")
                if kustomize is not None:
                    out.extend(images_changes(pf, kustomize, request, self.name, add=False))
        return out
