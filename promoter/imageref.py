"""Container image references, by the distribution reference grammar.

``nginx`` is ``docker.io/library/nginx``; ``index.docker.io`` is ``docker.io``;
a first component is a registry only when it contains ``.`` or ``:`` or is
``localhost`` (so ``localhost:5000/app:1.0`` has a registry with a port).
Matching uses the normalised ``repository``; writing back uses ``name`` as the
file spelled it.

Speed: every ``promoter set-image`` run imports this module, so it compiles no
regular expression and imports nothing (the grammar's regular expressions cost ~1 ms
to compile per run, the dataclass machinery several ms). The checks below accept
exactly what distribution/reference's regular expressions accept (ASCII only, as Go
reads ``\\w``); ``tests/test_imageref.py`` pins that against those expressions.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import NoReturn

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRIES = frozenset(
    {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

_HEX = "0123456789abcdefABCDEF"
# Separator runs the path grammar forbids: a component is [a-z0-9]+ joined by exactly
# one of ".", "_", "__" or "-"+, and "/" joins components (no empty ones).
_BAD_PATH_RUNS = (
    "//", "/.", "./", "/_", "_/", "/-", "-/",
    "..", ".-", "-.", "._", "_.", "_-", "-_", "___",
)  # fmt: skip


def _alnum(text: str) -> bool:
    """``[A-Za-z0-9]+`` (str.isalnum alone would accept any script's letters)."""
    return text.isascii() and text.isalnum()


def valid_path(path: str) -> bool:
    """``component(/component)*``, each ``[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*``."""
    if not path or not path.isascii() or path != path.lower():
        return False
    if not (path[0].isalnum() and path[-1].isalnum()):
        return False
    for run in _BAD_PATH_RUNS:
        if run in path:
            return False
    rest = path.replace("/", "").replace(".", "").replace("_", "").replace("-", "")
    return rest.isalnum()


def _valid_label(label: str) -> bool:
    # [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] (ASCII checked by the caller)
    return (
        label != ""
        and label[0].isalnum()
        and label[-1].isalnum()
        and label.replace("-", "").isalnum()
    )


def valid_domain(domain: str) -> bool:
    """``host(:port)?``: a host name of dot-separated labels or ``[IPv6]``, port ``[0-9]+``."""
    if not domain.isascii():
        return False
    if domain.startswith("["):
        end = domain.find("]")
        inner = domain[1:end]
        if end < 0 or not inner or inner.strip(_HEX + ":"):
            return False
        rest = domain[end + 1 :]
        return rest == "" or (rest[0] == ":" and rest[1:].isdigit())
    host, colon, port = domain.partition(":")
    if colon and not port.isdigit():
        return False
    for label in host.split("."):
        if not _valid_label(label):
            return False
    return True


def valid_tag(tag: str) -> bool:
    """``[\\w][\\w.-]{0,127}`` with ``\\w`` = ``[A-Za-z0-9_]``."""
    if not 0 < len(tag) <= 128 or not tag.isascii() or tag[0] in ".-":
        return False
    rest = tag.replace("_", "").replace(".", "").replace("-", "")
    return rest == "" or rest.isalnum()


def valid_digest(digest: str) -> bool:
    """``[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}``."""
    algorithm, colon, hex_part = digest.partition(":")
    if not colon or len(hex_part) < 32 or hex_part.strip(_HEX) or not digest.isascii():
        return False
    parts = algorithm.replace("-", ".").replace("_", ".").replace("+", ".").split(".")
    for part in parts:
        if not (part and part[0].isalpha() and part.isalnum()):
            return False
    return True


def _valid_sha256(digest: str) -> bool:
    """``sha256:[0-9a-f]{64}``."""
    hex_part = digest[7:]
    return (
        digest.startswith("sha256:")
        and len(hex_part) == 64
        and not hex_part.strip("0123456789abcdef")
    )


class InvalidReference(ValueError):
    """The text is not an image reference; the message says why and what was given."""


class ImageRef:
    """A parsed reference: immutable, hashable, equal by its four fields.

    A plain slotted class rather than a frozen dataclass (what it was): the same
    attributes, equality, hash, repr and immutability, without importing
    ``dataclasses`` (and ``inspect``) and generating methods on every run.
    """

    __slots__ = ("digest", "path", "registry", "tag")
    __match_args__ = ("registry", "path", "tag", "digest")

    if TYPE_CHECKING:  # read-only for type checkers; at run time the slots hold the values

        @property
        def registry(self) -> str | None:  # as written, None when implied (docker.io)
            ...

        @property
        def path(self) -> str:  # as written, e.g. "nginx" or "library/nginx" or "team/app"
            ...

        @property
        def tag(self) -> str | None: ...

        @property
        def digest(self) -> str | None: ...

    def __init__(
        self, registry: str | None, path: str, tag: str | None = None, digest: str | None = None
    ) -> None:
        init = object.__setattr__  # our own __setattr__ refuses: the instance is immutable
        init(self, "registry", registry)
        init(self, "path", path)
        init(self, "tag", tag)
        init(self, "digest", digest)

    def _fields(self) -> tuple[str | None, str, str | None, str | None]:
        return (self.registry, self.path, self.tag, self.digest)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, ImageRef)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"ImageRef(registry={self.registry!r}, path={self.path!r}, "
            f"tag={self.tag!r}, digest={self.digest!r})"
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r}: an ImageRef is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r}: an ImageRef is immutable")

    def __reduce__(self) -> tuple[type[ImageRef], tuple[str | None, str, str | None, str | None]]:
        return ImageRef, self._fields()  # pickle and copy through __init__

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
        return ImageRef(self.registry, self.path, tag, digest)

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
        if not valid_digest(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: bad digest {digest!r} "
                "(expected algorithm:hex, e.g. sha256:<64 hex digits>)"
            )
        if digest.startswith("sha256:") and not _valid_sha256(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: a sha256 digest is 64 lower-case hex digits"
            )
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not valid_tag(tag):
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
        if not valid_domain(registry):
            raise InvalidReference(f"invalid image reference {text!r}: bad registry {registry!r}")
    else:
        path = rest
    if not valid_path(path):
        hint = " (repository names must be lower-case)" if path.lower() != path else ""
        raise InvalidReference(f"invalid image reference {text!r}: bad repository {path!r}{hint}")
    if len(rest) > 255:
        raise InvalidReference(f"invalid image reference {text!r}: name longer than 255 characters")
    return ImageRef(registry, path, tag, digest)


def try_parse(text: str) -> ImageRef | None:
    try:
        return parse(text)
    except InvalidReference:
        return None
