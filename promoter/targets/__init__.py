"""Target plug-ins, in the order they are asked (the first to claim a scalar wins).

Each module holds one target behind :class:`promoter.targets.base.Target`:
``kubernetes`` (containers in any object), ``kustomize`` (``images:``),
``helmrelease`` (Flux values and post-renderer images), ``argocd`` (Application
sources), ``helm`` (values files), ``markers`` (commented fields), ``keypath``
(``--key``).

A target's module is imported the first time a file could hold its pins, so a run
loads only the targets its files need (a values file: ``helm``; all seven cost
~1 ms per run). Each gate below is a *necessary* condition for its target to find
anything, read from the file's name and text: the apiVersion group a document must
spell (what the target tests with ``startswith``; rarer in other files than the
kind's word, which comments use), or the target's own first test. A backslash
anywhere in the text opens the apiVersion gates, since a double-quoted
``"argoproj\\x2eio/v1alpha1"`` spells the group without the word.
``tests/test_targets_registry.py`` checks that the gated targets plan exactly what
the targets asked unconditionally plan. :func:`preload` imports them all (before
forking workers, so that none imports anything on its own).
"""

from __future__ import annotations

from promoter.targets.common import KUSTOMIZATION_FILES, basename

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable

    from promoter.targets.base import Request, Target  # the protocol: for the type checker
    from promoter.yamledit.model import Change, Document, ParsedFile

    Gate = Callable[[ParsedFile, Request], bool]


def _spells(*words: str) -> Gate:
    """The text holds one of ``words``, or a backslash (an escape could spell them)."""

    def gate(pf: ParsedFile, request: Request) -> bool:
        text = pf.text
        return "\\" in text or any(word in text for word in words)

    return gate


def _kubernetes(pf: ParsedFile, request: Request) -> bool:
    return "ontainers" in pf.text  # KubernetesTarget's own first test


def _kustomize(pf: ParsedFile, request: Request) -> bool:
    # kustomize.config.k8s.io Kustomization|Component, Flux Kustomization, or a
    # kustomization by file name alone
    return basename(pf) in KUSTOMIZATION_FILES or _kustomize_groups(pf, request)


_kustomize_groups = _spells("kustomize.config.k8s.io/", "kustomize.toolkit.fluxcd.io/")


def _argocd(pf: ParsedFile, request: Request) -> bool:
    # argoproj.io Application / ApplicationSet, or an .argocd-source*.yaml override file
    return basename(pf).startswith(".argocd-source") or _argocd_group(pf, request)


_argocd_group = _spells("argoproj.io/")


def _always(pf: ParsedFile, request: Request) -> bool:
    return True  # helm: any document that is not an object may be a values file


def _markers(pf: ParsedFile, request: Request) -> bool:
    text = pf.text
    return "$imagepolicy" in text or "promoter:" in text  # MarkersTarget's own first test


def _keypath(pf: ParsedFile, request: Request) -> bool:
    return bool(request.keys)  # KeyPathTarget's own first test


class _Lazy:
    """A target whose module is imported on the first file that passes its gate."""

    __slots__ = ("_class", "_gate", "_module", "_target", "name")

    def __init__(self, name: str, module: str, class_name: str, gate: Gate) -> None:
        self.name = name
        self._module = module
        self._class = class_name
        self._gate = gate
        self._target: Target | None = None

    def load(self) -> Target:
        if self._target is None:
            module = __import__(self._module, fromlist=[self._class])
            target: Target = getattr(module, self._class)()
            self._target = target
        return self._target

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        if not self._gate(pf, request):  # per document: no per-file state shared by threads
            return []
        return self.load().changes(pf, doc, request)


TARGETS: tuple[Target, ...] = (
    _Lazy("kubernetes", "promoter.targets.kubernetes", "KubernetesTarget", _kubernetes),
    _Lazy("kustomize", "promoter.targets.kustomize", "KustomizeTarget", _kustomize),
    _Lazy("helmrelease", "promoter.targets.helmrelease", "HelmReleaseTarget",
          _spells("helm.toolkit.fluxcd.io/")),
    _Lazy("argocd", "promoter.targets.argocd", "ArgoCDTarget", _argocd),
    _Lazy("helm", "promoter.targets.helm", "HelmTarget", _always),
    _Lazy("markers", "promoter.targets.markers", "MarkersTarget", _markers),
    _Lazy("keypath", "promoter.targets.keypath", "KeyPathTarget", _keypath),
)  # fmt: skip


def unconditional() -> tuple[Target, ...]:
    """The same targets, loaded and asked about every document (no gates)."""
    return tuple(target.load() for target in TARGETS if isinstance(target, _Lazy))


def preload() -> None:
    """Import every target module (and :mod:`promoter.targets.addkey`) now."""
    import promoter.targets.addkey  # noqa: F401

    unconditional()


__all__ = ["TARGETS", "preload", "unconditional"]
