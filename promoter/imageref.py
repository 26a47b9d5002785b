"""Container image references, by the distribution reference grammar.

``nginx`` is ``docker.io/library/nginx``; ``index.docker.io`` is ``docker.io``;
a first component is a registry only when it contains ``.`` or ``:`` or is
``localhost`` (so ``localhost:5000/app:1.0`` has a registry with a port).
Matching uses the normalised ``repository``; writing back uses ``name`` as the
file spelled it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRIES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

# From distribution/reference/regexp.go.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
_DOMAIN_RE = re.compile(rf"{_DOMAIN}\Z")
_TAG_RE = re.compile(rf"{_TAG}\Z")
_DIGEST_RE = re.compile(rf"{_DIGEST}\Z")
_SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")


class InvalidReference(ValueError):
    """The text is not an image reference; the message says why and what was given."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str | None  # as written, None when implied (docker.io)
    path: str  # as written, e.g. "nginx" or "library/nginx" or "team/app"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository as written, without tag or digest."""
        return f"{self.registry}/{self.path}" if self.registry else self.path

    @property
    def domain(self) -> str:
        reg = self.registry or DEFAULT_REGISTRY
        return DEFAULT_REGISTRY if reg in _LEGACY_REGISTRIES else reg

    @property
    def repository(self) -> str:
        """Normalised repository, used for matching: ``docker.io/library/nginx``."""
        path = self.path
        if self.domain == DEFAULT_REGISTRY and "/" not in path:
            path = f"library/{path}"
        return f"{self.domain}/{path}"

    @property
    def short_name(self) -> str:
        """Last path component (``nginx``, ``app``): a cheap pre-filter and a default app name."""
        return self.path.rsplit("/", 1)[-1]

    def same_repository(self, other: ImageRef) -> bool:
        return self.repository == other.repository

    def with_version(self, tag: str | None, digest: str | None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    @property
    def version(self) -> str:
        """``tag``, ``@digest`` or ``tag@digest``: the part after the name."""
        out = self.tag or ""
        if self.digest:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse(text: str) -> ImageRef:
    """Parse a reference; raise ``InvalidReference`` with the reason."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference("invalid image reference '': empty")
    ref = text.strip()
    if ref != text:
        raise InvalidReference(f"invalid image reference {text!r}: surrounding whitespace")
    rest = ref
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: bad digest {digest!r} "
                "(expected algorithm:hex, e.g. sha256:<64 hex digits>)"
            )
        if digest.startswith("sha256:") and not _SHA256_RE.match(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: a sha256 digest is 64 lower-case hex digits"
            )
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidReference(
                f"invalid image reference {text!r}: bad tag {tag!r} "
                "(letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')"
            )
    if not rest:
        raise InvalidReference(f"invalid image reference {text!r}: no repository name")
    registry = None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
        if not _DOMAIN_RE.match(registry):
            raise InvalidReference(f"invalid image reference {text!r}: bad registry {registry!r}")
    else:
        path = rest
    if not _PATH_RE.match(path):
        hint = " (repository names must be lower-case)" if path.lower() != path else ""
        raise InvalidReference(f"invalid image reference {text!r}: bad repository {path!r}{hint}")
    if len(rest) > 255:
        raise InvalidReference(f"invalid image reference {text!r}: name longer than 255 characters")
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest)


def try_parse(text: str) -> ImageRef | None:
    try:
        return parse(text)
    except InvalidReference:
        return None
