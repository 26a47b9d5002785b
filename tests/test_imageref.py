import pytest

from promoter.imageref import InvalidReference, parse

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
