"""Target plug-ins, in the order they are asked (the first to claim a scalar wins).

Each module holds one target behind :class:`promoter.targets.base.Target`:
``kubernetes`` (containers in any object), ``kustomize`` (``images:``),
``helmrelease`` (Flux values and post-renderer images), ``argocd`` (Application
sources), ``helm`` (values files), ``markers`` (commented fields), ``keypath``
(``--key``).
"""

from __future__ import annotations

from promoter.targets.argocd import ArgoCDTarget
from promoter.targets.helm import HelmTarget
from promoter.targets.helmrelease import HelmReleaseTarget
from promoter.targets.keypath import KeyPathTarget
from promoter.targets.kubernetes import KubernetesTarget
from promoter.targets.kustomize import KustomizeTarget
from promoter.targets.markers import MarkersTarget

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from promoter.targets.base import Target  # the protocol exists for the type checker only

TARGETS: tuple[Target, ...] = (
    KubernetesTarget(),
    KustomizeTarget(),
    HelmReleaseTarget(),
    ArgoCDTarget(),
    HelmTarget(),
    MarkersTarget(),
    KeyPathTarget(),
)

__all__ = ["TARGETS"]
