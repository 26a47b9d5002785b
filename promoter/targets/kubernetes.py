"""Kubernetes objects: every ``containers`` / ``initContainers`` / ``ephemeralContainers``
item's ``image``, in any kind and at any depth (pod templates, CronJob job templates,
Argo Rollouts, CRDs, ``kind: List`` items), never under an object's ``status``
(live-object dumps carry ``status.containerStatuses[].image``, which is a report,
not a pin).
"""

from __future__ import annotations

from collections.abc import Callable

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


def _pruner(text: str | None, request: Request) -> Callable[[Mapping], bool] | None:
    """Skip subtrees that cannot hold a pin, given the file's text.

    The mapping holding a pin spells both a container list key (all end in
    ``ontainers``) and the image's last path component (the whole-file pre-filter's
    argument, per subtree): a Deployment's metadata, selector, container items and
    their env lists, a Service, are skipped instead of walked. An alias (``*``) in a
    subtree keeps it (what it stands for is spelled at its anchor), and a file with a
    backslash is walked whole (a double-quoted escape can spell a key or a name).
    """
    if text is None or "\\" in text:
        return None
    names = tuple({image.short_name for image in request.images})
    aliases = "*" in text

    def prune(m: Mapping) -> bool:
        span = m.span  # once: the model may build it on each access
        start, end = span.start, span.end
        if aliases and text.find("*", start, end) >= 0:
            return False
        if text.find("ontainers", start, end) < 0:
            return True
        return not any(text.find(name, start, end) >= 0 for name in names)

    return prune


def container_changes(
    node: Node | None, request: Request, target: str, text: str | None = None
) -> list[Change]:
    """Changes for every container list under ``node`` (a document of ``text``, which
    lets the walk skip subtrees; without it every mapping is visited)."""
    out: list[Change] = []
    for m in iter_mappings(node, _skip_status, _pruner(text, request)):
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
        return container_changes(doc.root, request, self.name, pf.text)
