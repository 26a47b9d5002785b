"""Finding the token a promotion pushes with, and keeping it out of everything printed.

Order (first match wins):

1. ``--token-file PATH`` (whitespace around the token is stripped),
2. ``--token-env NAME``,
3. credentials embedded in the repository URL (``https://user:token@host/...``):
   they are taken out of the URL, so the URL git stores and we print is clean,
4. ``PROMOTER_TOKEN``, then the forge variables: ``GITHUB_TOKEN``, ``GH_TOKEN``,
   ``GITLAB_TOKEN``, ``CI_JOB_TOKEN`` (GitLab's variables first when the host
   name contains "gitlab").

The HTTP Basic user name follows each forge's convention: ``x-access-token``
(GitHub, and the default), ``oauth2`` for ``GITLAB_TOKEN``,
``gitlab-ci-token`` for ``CI_JOB_TOKEN``; ``PROMOTER_TOKEN_USER`` overrides it.
Tokens are only ever used for ``http(s)://`` remotes; ``file://``, local paths
and ssh use their own access.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_GITHUB_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
_GITLAB_VARS = ("GITLAB_TOKEN", "CI_JOB_TOKEN")
_USERS = {
    "GITLAB_TOKEN": "oauth2",
    "CI_JOB_TOKEN": "gitlab-ci-token",
}
DEFAULT_USER = "x-access-token"


class CredentialError(ValueError):
    """The token source the user named is unusable (the message never contains a token)."""


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    token: str = field(repr=False)
    source: str  # where it came from, for messages: "PROMOTER_TOKEN", "--token-file …"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.token}".encode()
        return "Authorization: Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        """Every spelling of the secret that could leak into text we print."""
        b64 = base64.b64encode(f"{self.username}:{self.token}".encode()).decode("ascii")
        quoted = urllib.parse.quote(self.token, safe="")
        return tuple(s for s in {self.token, b64, quoted} if s)

    def __str__(self) -> str:
        return f"token from {self.source}"


def is_http_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def split_url_credentials(url: str) -> tuple[str, Credential | None]:
    """Remove ``user:password@`` from an http(s) URL; return the clean URL and the credential."""
    if not is_http_url(url):
        return url, None
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    user = urllib.parse.unquote(user)
    password = urllib.parse.unquote(password)
    if not sep or not password:
        # "https://token@host/..." (the token as the user name)
        return clean, (Credential(DEFAULT_USER, user, "the repository URL") if user else None)
    return clean, Credential(user, password, "the repository URL")


def discover(
    url: str,
    *,
    token_env: str | None = None,
    token_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, Credential | None]:
    """Return (clean URL, credential or None) for pushing to ``url``."""
    env = os.environ if environ is None else environ
    clean, from_url = split_url_credentials(url)
    user_override = env.get("PROMOTER_TOKEN_USER") or None
    if token_file is not None:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialError(
                f"cannot read the token file {path}: {exc.strerror or exc}; "
                "pass a readable file to --token-file"
            ) from None
        if not token:
            raise CredentialError(f"the token file {path} is empty; put the token in it")
        return clean, Credential(user_override or DEFAULT_USER, token, f"--token-file {path}")
    if token_env is not None:
        token = env.get(token_env, "").strip()
        if not token:
            raise CredentialError(
                f"the environment variable {token_env} (named by --token-env) is not set or "
                "empty; export it or choose another variable"
            )
        user = user_override or _USERS.get(token_env, DEFAULT_USER)
        return clean, Credential(user, token, token_env)
    if from_url is not None:
        return clean, from_url
    if not is_http_url(clean):
        return clean, None
    host = urllib.parse.urlsplit(clean).hostname or ""
    order: Iterable[str] = ("PROMOTER_TOKEN", *_GITHUB_VARS, *_GITLAB_VARS)
    if "gitlab" in host.lower():
        order = ("PROMOTER_TOKEN", *_GITLAB_VARS, *_GITHUB_VARS)
    for name in order:
        token = env.get(name, "").strip()
        if token:
            return clean, Credential(user_override or _USERS.get(name, DEFAULT_USER), token, name)
    return clean, None


_URL_USERINFO_RE = re.compile(r"(?i)\b(https?://)[^/\s@]+@")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets (and any ``user:pass@`` in URLs) from text meant for people."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_USERINFO_RE.sub(r"\1***@", text)
