from __future__ import annotations

import copy
import itertools
import pickle
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promoter.imageref import (
    ImageRef,
    InvalidReference,
    _valid_sha256,
    parse,
    valid_digest,
    valid_domain,
    valid_path,
    valid_tag,
)

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io/library/nginx", None, None),
        ("nginx:1.25", "docker.io/library/nginx", "1.25", None),
        ("docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", None),
        ("index.docker.io/library/nginx", "docker.io/library/nginx", None, None),
        ("team/app:v1", "docker.io/team/app", "v1", None),
        ("localhost:5000/app:1.0", "localhost:5000/app", "1.0", None),
        ("localhost/app", "localhost/app", None, None),
        ("ghcr.io/org/sub/app:1.0@" + D, "ghcr.io/org/sub/app", "1.0", D),
        ("quay.io/app@" + D, "quay.io/app", None, D),
        ("registry.example.com:8443/a/b", "registry.example.com:8443/a/b", None, None),
    ],
)
def test_parse_normalises(text: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse(text)
    assert ref.repository == repository
    assert ref.tag == tag
    assert ref.digest == digest
    assert str(ref) == text


def test_name_keeps_spelling() -> None:
    assert parse("index.docker.io/library/nginx:1").name == "index.docker.io/library/nginx"
    assert parse("nginx").same_repository(parse("docker.io/library/nginx:2"))
    assert not parse("nginx").same_repository(parse("ghcr.io/nginx"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("Nginx:1", "lower-case"),
        ("nginx@sha256:abc", "digest"),
        ("nginx@sha256:" + "A" * 64, "sha256"),
        ("nginx:-bad", "bad tag"),
        (":1.0", "no repository"),
        ("a//b", "bad repository"),
    ],
)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference, match=fragment):
        parse(text)


# ---------------------------------------------------------------- the grammar, pinned
#
# imageref checks references with string methods (no regular expression is compiled
# on a run). These tests pin its accept/reject set to distribution/reference's
# regular expressions (regexp.go), compiled here with re.ASCII because Go's \w is
# ASCII: the previous, regex-based parse() differed only in letting Python's Unicode
# \w into tags.

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[(?:[a-fA-F0-9:]+)\])"
PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z", re.ASCII)
DOMAIN_RE = re.compile(rf"{_HOST}(?::[0-9]+)?\Z", re.ASCII)
TAG_RE = re.compile(r"[\w][\w.-]{0,127}\Z", re.ASCII)
DIGEST_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}\Z", re.ASCII
)
SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}\Z", re.ASCII)


def regex_parse(text: str) -> ImageRef:
    """The regex-based parse() this module had, verbatim but for re.ASCII."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference("invalid image reference '': empty")
    ref = text.strip()
    if ref != text:
        raise InvalidReference(f"invalid image reference {text!r}: surrounding whitespace")
    rest = ref
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST_RE.match(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: bad digest {digest!r} "
                "(expected algorithm:hex, e.g. sha256:<64 hex digits>)"
            )
        if digest.startswith("sha256:") and not SHA256_RE.match(digest):
            raise InvalidReference(
                f"invalid image reference {text!r}: a sha256 digest is 64 lower-case hex digits"
            )
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not TAG_RE.match(tag):
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
        if not DOMAIN_RE.match(registry):
            raise InvalidReference(f"invalid image reference {text!r}: bad registry {registry!r}")
    else:
        path = rest
    if not PATH_RE.match(path):
        hint = " (repository names must be lower-case)" if path.lower() != path else ""
        raise InvalidReference(f"invalid image reference {text!r}: bad repository {path!r}{hint}")
    if len(rest) > 255:
        raise InvalidReference(f"invalid image reference {text!r}: name longer than 255 characters")
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest)


def outcome(parser: Callable[[str], ImageRef], text: str) -> ImageRef | str:
    try:
        return parser(text)
    except InvalidReference as exc:
        return str(exc)


def strings(alphabet: str, longest: int) -> Iterator[str]:
    for n in range(longest + 1):
        for chars in itertools.product(alphabet, repeat=n):
            yield "".join(chars)


@pytest.mark.parametrize(
    ("check", "regex", "alphabet", "longest"),
    [
        (valid_path, PATH_RE, "aZ0._-/é", 5),
        (valid_domain, DOMAIN_RE, "aZ0.-:[]f", 5),
        (valid_tag, TAG_RE, "aZ0_.-é", 5),
        (valid_digest, DIGEST_RE, "aZ0-_+.:@", 4),
    ],
)
def test_checks_equal_the_grammar_on_every_short_string(
    check: Callable[[str], bool], regex: re.Pattern[str], alphabet: str, longest: int
) -> None:
    for text in strings(alphabet, longest):
        assert check(text) == bool(regex.match(text)), text


def test_digest_and_tag_lengths() -> None:
    for n in (0, 1, 31, 32, 33, 63, 64, 65):
        for hex_digits in ("a" * n, "F" * n, "0" * (n - 1) + "g", "0" * (n - 1) + "é"):
            for algorithm in ("sha256", "sha512", "a+b.c_d-e", "A1", "1a", "a..b", "", "é"):
                digest = f"{algorithm}:{hex_digits}"
                assert valid_digest(digest) == bool(DIGEST_RE.match(digest)), digest
                assert _valid_sha256(digest) == bool(SHA256_RE.match(digest)), digest
    for n in (127, 128, 129):
        for tag in ("a" * n, "_" * n, "." + "a" * (n - 1), "a" * (n - 1) + "-"):
            assert valid_tag(tag) == bool(TAG_RE.match(tag)), tag


REFERENCE_PARTS = st.sampled_from(
    [
        "a", "nginx", "library", "team", "web", "ab-c", "a__b", "a___b", "a.b", "a_b", "a--b",
        "A", "", "-a", "a-", "é", "ghcr.io", "localhost", "localhost:5000", "[::1]:5000",
        "[::1]", "[]", "registry-1.docker.io", "index.docker.io", "a.b:65536", "a.b:",
        "my-host.example.com:8443", "-host.io", "host-.io", "host..io", "1.2.3.4",
    ]
)  # fmt: skip
TAGS = st.sampled_from(["1.0", "v1", "_x", ".x", "-x", "latest", "A_B-c.d", "é", "1" * 129, ""])
DIGESTS = st.sampled_from(
    [
        "sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha512:" + "0" * 128,
        "x+y.z:" + "f" * 32, "x:" + "f" * 31, "1x:" + "f" * 32, "sha256", "", "a:b@c",
    ]
)  # fmt: skip


@st.composite
def references(draw: st.DrawFn) -> str:
    text = "/".join(draw(st.lists(REFERENCE_PARTS, min_size=1, max_size=4)))
    if draw(st.booleans()):
        text += ":" + draw(TAGS)
    if draw(st.booleans()):
        text += "@" + draw(DIGESTS)
    return text


@settings(max_examples=400, deadline=None)
@given(st.one_of(references(), st.text(alphabet="ab0.:/@_-+[]A é\n", max_size=24)))
def test_parse_equals_the_regex_parse(text: str) -> None:
    assert outcome(parse, text) == outcome(regex_parse, text)


def test_corpus_references_parse_as_before() -> None:
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is absent")
    seen = 0
    for path in sorted(corpus.rglob("*.y*ml")):
        for word in path.read_text(encoding="utf-8", errors="replace").split():
            text = word.strip("'\",[]{}")
            if "/" in text or ":" in text:
                assert outcome(parse, text) == outcome(regex_parse, text), (path, text)
                seen += 1
    assert seen > 100


def test_non_ascii_tag_is_refused() -> None:
    # Python's Unicode \w let this in before; the grammar (and registries) do not.
    with pytest.raises(InvalidReference, match="bad tag"):
        parse("nginx:1.0é")


def test_imageref_is_an_immutable_hashable_record() -> None:
    ref = parse("ghcr.io/acme/web:1.0")
    same = ImageRef(registry="ghcr.io", path="acme/web", tag="1.0")
    assert ref == same and hash(ref) == hash(same) and len({ref, same}) == 1
    assert ref != parse("ghcr.io/acme/web:1.1") and ref != ("ghcr.io", "acme/web", "1.0", None)
    assert repr(ref) == "ImageRef(registry='ghcr.io', path='acme/web', tag='1.0', digest=None)"
    with pytest.raises(AttributeError):
        ref.tag = "2.0"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del ref.path  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ref.other = 1  # type: ignore[attr-defined]
    assert ref.with_version("2.0", None) == ImageRef("ghcr.io", "acme/web", "2.0", None)
    assert ref.tag == "1.0"
    assert pickle.loads(pickle.dumps(ref)) == ref and copy.deepcopy(ref) == ref
    match ref:
        case ImageRef(registry, path, tag, digest):
            assert (registry, path, tag, digest) == ("ghcr.io", "acme/web", "1.0", None)
