"""Unit tests of the promotion's pure parts: names, identities, messages, versions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from promoter.git import Identity
from promoter.imageref import parse
from promoter.promote import (
    DEFAULT_IDENTITY,
    author_identity,
    branch_name,
    ci_trailers,
    commit_message,
    compare_link,
    compare_versions,
    previous_images,
    promote,
    sanitise_ref,
)
from promoter.yamledit.model import Edit


def _valid_ref(name: str) -> bool:
    proc = subprocess.run(["git", "check-ref-format", f"refs/heads/{name}"], check=False)
    return proc.returncode == 0


@pytest.mark.parametrize(
    "text", ["a b", "x..y", "-lead", "trail.", "a/.hidden/b", "name.lock", "a~b^c:d?e*f[g\\h", "@{"]
)
def test_sanitise_ref_makes_valid_names(text: str) -> None:
    assert _valid_ref(sanitise_ref(text))


def test_branch_name_is_deterministic_and_flat() -> None:
    web = parse("ghcr.io/acme/web:1.0.0")
    assert branch_name("main", None, ["envs/prod/"], None, [web]) == "promoter/main/envs-prod/web"
    assert branch_name("main", "production", ["x"], "shop", [web]) == (
        "promoter/main/production/shop"
    )
    assert branch_name("release/1.x", None, ["b", "a"], None, [web, parse("api:2")]) == (
        "promoter/release-1.x/a+b/api+web"
    )
    long = branch_name("main", "e" * 300, ["x"], None, [web])
    assert len(long) <= 200 and _valid_ref(long)
    assert long == branch_name("main", "e" * 300, ["x"], None, [web])


def test_author_identity_defaults() -> None:
    assert author_identity("A B <a@b>", {}) == Identity("A B", "a@b")
    assert author_identity(None, {"GITHUB_ACTOR": "octo"}) == Identity(
        "octo", "octo@users.noreply.github.com"
    )
    assert author_identity(None, {"GITLAB_USER_NAME": "Gi", "GITLAB_USER_EMAIL": "g@l"}) == (
        Identity("Gi", "g@l")
    )
    assert author_identity(None, {}) == DEFAULT_IDENTITY


def test_ci_trailers_and_message() -> None:
    gh = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/web",
          "GITHUB_SHA": "abc", "GITHUB_RUN_ID": "42"}
    assert ci_trailers(gh) == [
        ("Source-Repository", "https://github.com/acme/web"),
        ("Source-Commit", "abc"),
        ("Pipeline-URL", "https://github.com/acme/web/actions/runs/42"),
    ]
    gl = {"CI_PROJECT_URL": "https://gl/x", "CI_COMMIT_SHA": "def",
          "CI_PIPELINE_URL": "https://gl/x/-/pipelines/7"}
    assert [k for k, _ in ci_trailers(gl)] == ["Source-Repository", "Source-Commit", "Pipeline-URL"]
    msg = commit_message([parse("ghcr.io/acme/web:1.2.0")], "production",
                         ["ghcr.io/acme/web:1.1.0"], gh)
    lines = msg.splitlines()
    assert lines[0] == "promote ghcr.io/acme/web to 1.2.0 in production"
    assert lines[1] == ""
    assert "Promoted-Image: ghcr.io/acme/web:1.2.0" in lines
    assert "Previous-Image: ghcr.io/acme/web:1.1.0" in lines
    assert lines[-1] == "Promoted-By: promoter 0.1.0"
    # git itself reads these as trailers.
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=msg, text=True,
                            capture_output=True, check=True).stdout
    assert "Pipeline-URL: https://github.com/acme/web/actions/runs/42" in parsed


DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("current", "wanted", "verdict"),
    [
        ("1.2.0", "1.2.0", "same"),
        ("1.10.0", "1.9.0", "newer"),
        ("v1.2.0", "1.3.0", "older"),
        ("1.2.0", "1.2.0-rc.1", "newer"),
        ("1.2.0-rc.2", "1.2.0-rc.10", "older"),
        ("ghcr.io/a/web:2.0.0", "ghcr.io/a/web:1.0.0", "newer"),
        (f"web:1.0.0@{DIGEST_A}", f"web:1.0.1@{DIGEST_A}", "same"),
        (DIGEST_A, DIGEST_B, "unknown"),
        ("latest", "1.0.0", "unknown"),
        ("main-abc123", "main-def456", "unknown"),
    ],
)
def test_compare_versions(current: str, wanted: str, verdict: str) -> None:
    assert compare_versions(current, wanted) == verdict


def _edit(old: str, new: str) -> Edit:
    return Edit("f.yaml", 1, 1, "kubernetes", "image", old, new)


def test_previous_images() -> None:
    web = parse("ghcr.io/acme/web:1.2.0")
    assert previous_images([web], [_edit("ghcr.io/acme/web:1.1.0", "ghcr.io/acme/web:1.2.0"),
                                   _edit("1.1.0", "1.2.0"), _edit(DIGEST_A, DIGEST_B)]) == [
        "ghcr.io/acme/web:1.1.0", f"ghcr.io/acme/web@{DIGEST_A}"
    ]


def test_compare_link() -> None:
    assert compare_link("https://github.com/o/r.git", "main", "promoter/x") == (
        "https://github.com/o/r/compare/main...promoter/x?expand=1"
    )
    assert compare_link("git@gitlab.com:g/p.git", "main", "b") == (
        "https://gitlab.com/g/p/-/compare/main...b"
    )
    assert compare_link("file:///srv/r.git", "main", "b") is None


def test_library_entry_point_is_callable_even_after_submodule_import() -> None:
    import promoter
    import promoter.promote as module

    assert callable(promoter.promote)
    assert callable(module)
    result = promoter.promote(module.Request(repo="/nonexistent/repo", images=("a:1",),
                                             paths=("x",), environ={}))
    assert result.status == "failed" and "git clone" in (result.error or "")


def test_an_unusable_workdir_is_a_failed_promotion_not_a_traceback(tmp_path: Path) -> None:
    from promoter.promote import Request

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = promote(Request(repo="file:///nonexistent.git", images=("ghcr.io/acme/web:1.1",),
                             paths=("envs",), workdir=str(blocker / "sub" / "co"),
                             environ={}))
    assert result.status == "failed" and result.exit_code == 1
    assert result.error == (f"cannot create --workdir {blocker / 'sub' / 'co'}: Not a directory "
                            f"({blocker / 'sub'}); choose a directory you can write to")


def test_an_os_error_is_a_failed_promotion_not_a_traceback(tmp_path: Path) -> None:
    from promoter.promote import Request

    too_long = tmp_path / ("x" * 300)  # the checkout step's own file calls fail on it
    result = promote(Request(repo="file:///nonexistent.git", images=("ghcr.io/acme/web:1.1",),
                             paths=("envs",), workdir=str(too_long), environ={}))
    assert result.status == "failed" and result.exit_code == 1
    assert result.error == (f"File name too long: {too_long}; check free space and permissions "
                            "there (TMPDIR, --workdir), then run again")
