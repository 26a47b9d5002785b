"""Kubernetes objects: every ``containers`` / ``initContainers`` / ``ephemeralContainers``
item's ``image``, in any kind and at any depth (pod templates, CronJob job templates,
Argo Rollouts, CRDs, ``kind: List`` items), never under an object's ``status``
(live-object dumps carry ``status.containerStatuses[].image``, which is a report,
not a pin).
"""

from __future__ import annotations

from promoter.targets.base import Request
from promoter.targets.common import iter_mappings, whole_ref_change
from promoter.yamledit.model import (
    Change,
    Document,
    Mapping,
    Node,
    ParsedFile,
    Scalar,
    Sequence,
    deref,
)

CONTAINER_KEYS = frozenset({"containers", "initContainers", "ephemeralContainers"})


def _skip_status(parent: Mapping, key: str, value: Node) -> bool:
    # `status` of an object (a mapping with kind/apiVersion) or of a bare document root.
    return key == "status" and (
        parent.get("kind") is not None or parent.get("apiVersion") is not None or not parent.path
    )


def container_changes(node: Node | None, request: Request, target: str) -> list[Change]:
    out: list[Change] = []
    for m in iter_mappings(node, _skip_status):
        for k, v in m.pairs:
            if not isinstance(k, Scalar) or k.value not in CONTAINER_KEYS:
                continue
            seq = deref(v)
            if not isinstance(seq, Sequence):
                continue
            for item in seq.items:
                container = deref(item)
                if isinstance(container, Mapping):
                    out.extend(whole_ref_change(container.get("image"), request, target))
    return out


class KubernetesTarget:
    name = "kubernetes"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        if "ontainers" not in pf.text:  # cheap: every container list key ends so
            return []
        return container_changes(doc.root, request, self.name)
