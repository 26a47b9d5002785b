"""Forge plug-ins (github.py, gitlab.py, none.py) behind the protocol in base.py.

``detect`` implements ``--forge auto``: the CI system we run in wins when it
pushes to its own host (``GITHUB_ACTIONS`` with ``GITHUB_SERVER_URL``,
``GITLAB_CI`` with ``CI_SERVER_URL``), then the repository host name
(``github`` / ``gitlab`` in it), then ``--forge-url`` (``/api/v3`` means
GitHub Enterprise, ``/api/v4`` GitLab); anything else is ``none`` (push and
print a compare link). Plug-in modules import their client library lazily.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping

from promoter.forges.base import Forge

FORGES = ("github", "gitlab", "none")


def _host(url: str | None) -> str:
    if not url:
        return ""
    if "://" not in url and "@" in url:  # scp-like ssh: git@host:owner/repo
        return url.split("@", 1)[1].split(":", 1)[0].lower()
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def detect(repo_url: str, forge_url: str | None = None,
           env: Mapping[str, str] | None = None) -> str:
    """Which forge ``--forge auto`` means for this repository URL and environment."""
    e = os.environ if env is None else env
    host = _host(repo_url)
    if e.get("GITHUB_ACTIONS") == "true" and host and host == _host(e.get("GITHUB_SERVER_URL")):
        return "github"
    if e.get("GITLAB_CI") == "true" and host and host == _host(e.get("CI_SERVER_URL")):
        return "gitlab"
    if "github" in host:
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if forge_url:
        path = urllib.parse.urlsplit(forge_url).path.rstrip("/")
        if path.endswith("/api/v3") or "github" in _host(forge_url):
            return "github"
        if path.endswith("/api/v4") or "gitlab" in _host(forge_url):
            return "gitlab"
    if e.get("GITHUB_API_URL") and host == _host(e.get("GITHUB_API_URL")):
        return "github"
    if e.get("CI_API_V4_URL") and host == _host(e.get("CI_API_V4_URL")):
        return "gitlab"
    return "none"


def make_forge(
    name: str,
    repo_url: str,
    *,
    token: str | None = None,
    forge_url: str | None = None,
    github_app: object | None = None,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
) -> Forge:
    """The forge plug-in ``name`` (``auto`` resolved with :func:`detect`) for ``repo_url``.

    Plug-ins are constructed as ``<Class>(repo_url, token=..., forge_url=..., env=...,
    log=...)``; GitHub also takes ``app=`` (an ``AppCredentials``).
    """
    if name == "auto":
        name = detect(repo_url, forge_url, env)
    if name == "none":
        from promoter.forges.none import NoForge

        return NoForge()
    if name == "github":
        from promoter.forges.github import AppCredentials, GitHubForge

        app = github_app if isinstance(github_app, AppCredentials) else None
        return GitHubForge(repo_url, token=token, app=app, forge_url=forge_url, env=env, log=log)
    if name == "gitlab":
        import importlib

        module = importlib.import_module("promoter.forges.gitlab")
        forge: Forge = module.GitLabForge(repo_url, token=token, forge_url=forge_url, env=env,
                                          log=log)
        return forge
    raise ValueError(f"unknown forge {name!r}: use one of auto, {', '.join(FORGES)}")
