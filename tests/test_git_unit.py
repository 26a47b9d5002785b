"""Unit tests of the git layer's pure parts and of token discovery."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from promoter.credentials import (
    Credential,
    CredentialError,
    discover,
    scrub,
    split_url_credentials,
)
from promoter.git import Git, Identity, classify, normalise_paths, parse_push


def test_discover_order_and_usernames(tmp_path: Path) -> None:
    url = "https://example.com/o/r.git"
    env = {"GITHUB_TOKEN": "gh", "CI_JOB_TOKEN": "job", "PROMOTER_TOKEN": "pt"}
    assert discover(url, environ=env)[1] == Credential("x-access-token", "pt", "PROMOTER_TOKEN")
    env.pop("PROMOTER_TOKEN")
    assert discover(url, environ=env)[1] == Credential("x-access-token", "gh", "GITHUB_TOKEN")
    gitlab = "https://gitlab.example.com/g/p.git"
    assert discover(gitlab, environ=env)[1] == Credential("gitlab-ci-token", "job", "CI_JOB_TOKEN")
    assert discover(gitlab, environ={"GITLAB_TOKEN": "gl"})[1] == Credential(
        "oauth2", "gl", "GITLAB_TOKEN"
    )
    assert discover(url, environ={"GH_TOKEN": "x"})[1] == Credential(
        "x-access-token", "x", "GH_TOKEN"
    )
    assert discover(url, environ={})[1] is None
    # Tokens are only for http(s).
    assert discover("file:///srv/r.git", environ={"PROMOTER_TOKEN": "pt"})[1] is None
    assert discover("git@example.com:o/r.git", environ={"PROMOTER_TOKEN": "pt"})[1] is None


def test_token_env_and_file(tmp_path: Path) -> None:
    url = "https://example.com/o/r.git"
    cred = discover(url, token_env="MY_TOKEN", environ={"MY_TOKEN": " s3 \n"})[1]
    assert cred == Credential("x-access-token", "s3", "MY_TOKEN")
    with pytest.raises(CredentialError, match="MY_TOKEN"):
        discover(url, token_env="MY_TOKEN", environ={})
    token_file = tmp_path / "tok"
    token_file.write_text("from-file\n")
    cred = discover(url, token_file=token_file, environ={"PROMOTER_TOKEN": "pt"})[1]
    assert cred is not None and cred.token == "from-file"
    with pytest.raises(CredentialError, match="cannot read the token file"):
        discover(url, token_file=tmp_path / "missing", environ={})
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(CredentialError, match="empty"):
        discover(url, token_file=tmp_path / "empty", environ={})


def test_url_credentials_are_moved_out_of_the_url() -> None:
    clean, cred = split_url_credentials("https://bot:s%40cret@example.com/o/r.git")
    assert clean == "https://example.com/o/r.git"
    assert cred == Credential("bot", "s@cret", "the repository URL")
    clean, cred = split_url_credentials("https://tok@example.com/o/r.git")
    assert clean == "https://example.com/o/r.git" and cred is not None and cred.token == "tok"
    assert split_url_credentials("https://example.com/r.git") == ("https://example.com/r.git", None)


def test_credential_never_in_repr_and_scrub_removes_all_spellings() -> None:
    cred = Credential("x-access-token", "canary-123", "PROMOTER_TOKEN")
    assert "canary" not in repr(cred) and "canary" not in str(cred)
    b64 = base64.b64encode(b"x-access-token:canary-123").decode()
    assert cred.basic_header() == f"Authorization: Basic {b64}"
    text = f"a canary-123 b {b64} c https://u:p@host/x"
    cleaned = scrub(text, cred.secrets())
    assert "canary-123" not in cleaned and b64 not in cleaned and "u:p@" not in cleaned


def test_git_env_carries_the_header_only_in_env_config() -> None:
    cred = Credential("x-access-token", "canary-xyz", "PROMOTER_TOKEN")
    env = Git(credential=cred, remote_url="http://127.0.0.1:8080/o/r.git").env()
    keys = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
            for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert keys["http.http://127.0.0.1:8080/.extraHeader"] == cred.basic_header()
    assert keys["credential.helper"] == ""
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    # No token for non-http remotes.
    env2 = Git(credential=cred, remote_url="file:///x").env()
    assert "canary-xyz" not in " ".join(env2.values())


def test_git_error_names_command_and_scrubs(tmp_path: Path) -> None:
    cred = Credential("u", "canary-abc", "PROMOTER_TOKEN")
    git = Git(cwd=tmp_path, credential=cred, remote_url="http://127.0.0.1:1/x.git")
    with pytest.raises(Exception) as err:
        git.run("rev-parse", "--verify", "canary-abc")
    text = str(err.value)
    assert "git rev-parse --verify ***" in text
    assert "canary-abc" not in text


def test_identity_parse() -> None:
    assert Identity.parse("Jane Doe <jane@example.com>") == Identity("Jane Doe", "jane@example.com")
    for bad in ("jane", "<j@x>", "Jane <>", "Jane j@x"):
        with pytest.raises(ValueError, match="Name <email>"):
            Identity.parse(bad)


def test_normalise_paths() -> None:
    assert normalise_paths(["./b/", "a", "b"]) == ("a", "b")
    assert normalise_paths(["a", "."]) == ("",)
    with pytest.raises(ValueError, match="relative"):
        normalise_paths(["../x"])
    with pytest.raises(ValueError, match="relative"):
        normalise_paths(["/etc"])


def test_parse_push_and_retryable() -> None:
    out = "To http://h/r.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone\n"
    res = parse_push(out, "refs/heads/main")
    assert not res.ok and res.retryable
    out = "To x\n!\tHEAD:refs/heads/b\t[rejected] (stale info)\nDone\n"
    assert parse_push(out, "refs/heads/b").retryable
    out = "To x\n!\tHEAD:refs/heads/b\t[remote rejected] (pre-receive hook declined)\nDone\n"
    assert not parse_push(out, "refs/heads/b").retryable
    out = "To x\n*\tHEAD:refs/heads/b\t[new branch]\nDone\n"
    assert parse_push(out, "refs/heads/b").ok


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("fatal: Authentication failed for 'http://h/'", "auth"),
        ("fatal: could not read Username for 'http://h': terminal prompts disabled", "auth"),
        ("fatal: repository 'http://h/x.git/' not found", "not-found"),
        ("warning: Could not find remote branch dev to clone.\n"
         "fatal: Remote branch dev not found in upstream origin", "missing-branch"),
        ("fatal: the remote end hung up unexpectedly", "other"),
    ],
)
def test_classify(stderr: str, kind: str) -> None:
    assert classify(stderr) == kind
