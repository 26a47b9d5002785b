"""The ``policy`` backend: image rules, configured per call.

``check_images(images, config)`` is what the promotion calls on the image it
is about to write (and what ``PolicyValidator`` calls on every container
image of loaded manifests). Rules, each switchable in ``PolicyConfig``:

* allowed registries: the image's registry (``docker.io`` when implied) or a
  repository prefix (``ghcr.io/acme``) must be listed; empty means any;
* no ``latest``: the tag ``latest`` is refused, even next to a digest (the
  tag then misleads readers);
* no untagged image: ``nginx`` means ``nginx:latest`` (an image pinned by
  digest alone is fine);
* digest required: the reference must carry ``@sha256:...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from promoter.imageref import ImageRef, InvalidReference, parse
from promoter.validate.findings import Finding, pointer
from promoter.validate.loader import Document, SourceFile

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True)
class PolicyConfig:
    allowed_registries: tuple[str, ...] = ()
    forbid_latest: bool = True
    forbid_untagged: bool = True
    require_digest: bool = False


@dataclass(frozen=True)
class ImageUse:
    """An image reference and, when it comes from a manifest, where it is written."""

    image: str
    file: str = ""
    line: int = 0
    column: int = 0
    document: int = -1
    api_version: str = ""
    kind: str = ""
    name: str = ""
    path: str = ""


def _allowed(ref: ImageRef, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        entry = entry.strip().rstrip("/")
        if not entry:
            continue
        if "/" in entry:
            if ref.repository == entry or ref.repository.startswith(entry + "/"):
                return True
            continue
        if ref.domain == ("docker.io" if entry in ("index.docker.io", "docker.io") else entry):
            return True
    return False


def image_problems(ref: ImageRef, config: PolicyConfig) -> list[str]:
    """Why ``ref`` breaks the policy (empty when it complies)."""
    problems = []
    if config.allowed_registries and not _allowed(ref, config.allowed_registries):
        problems.append(
            f"registry {ref.domain} ({ref.repository}) is not allowed; allowed: "
            f"{', '.join(config.allowed_registries)}"
        )
    if config.forbid_latest and ref.tag == "latest":
        problems.append("the tag 'latest' is not allowed: pin a version (and a digest)")
    elif config.forbid_untagged and ref.tag is None and ref.digest is None:
        problems.append("no tag, which means 'latest': pin a version (and a digest)")
    if config.require_digest and ref.digest is None:
        problems.append("a digest is required (image@sha256:...), so the image cannot change")
    return problems


def check_images(
    images: Iterable[str | ImageRef | ImageUse], config: PolicyConfig
) -> list[Finding]:
    """One finding per broken rule per image; empty when every image complies."""
    out: list[Finding] = []
    for item in images:
        use = item if isinstance(item, ImageUse) else ImageUse(str(item))
        try:
            ref = item if isinstance(item, ImageRef) else parse(use.image)
        except InvalidReference as exc:
            out.append(_finding(use, str(exc)))
            continue
        out.extend(
            _finding(use, f"{use.image}: {problem}") for problem in image_problems(ref, config)
        )
    return out


def _finding(use: ImageUse, message: str) -> Finding:
    return Finding(
        severity="error",
        file=use.file,
        message=message,
        backend="policy",
        line=use.line,
        column=use.column,
        document=use.document,
        api_version=use.api_version,
        kind=use.kind,
        name=use.name,
        path=use.path,
    )


def _walk(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key in _CONTAINER_LISTS and isinstance(child, list):
                for i, container in enumerate(child):
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        yield container["image"], (*path, key, i, "image")
            elif isinstance(child, (dict, list)):
                yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk(child, (*path, i))


def images_in(source: SourceFile, doc: Document) -> list[ImageUse]:
    """Container images (containers, initContainers, ephemeralContainers) of one document."""
    out = []
    for image, path in _walk(doc.value, ()):
        line, column = doc.locate(path)
        # The `image:` key's position: the same line as the value a promotion rewrites.
        out.append(
            ImageUse(
                image=image,
                file=source.display,
                line=line,
                column=column,
                document=doc.index,
                api_version=doc.api_version,
                kind=doc.kind,
                name=doc.name,
                path=pointer(path),
            )
        )
    return out


class PolicyValidator:
    name = "policy"

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config

    def check(self, files: Sequence[SourceFile]) -> list[Finding]:
        uses = [
            use for source in files for doc in source.documents for use in images_in(source, doc)
        ]
        return check_images(uses, self.config)
