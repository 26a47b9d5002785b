"""No forge: the branch is pushed and a compare link is reported for a person to open."""

from __future__ import annotations

import re
import urllib.parse

from promoter.forges.base import PullRequestResult, PullRequestSpec


def compare_url(repo_url: str, base: str, head: str) -> str | None:
    """The web page comparing ``head`` with ``base`` (GitHub or GitLab layout), if knowable."""
    m = re.match(r"^(?:ssh://)?[^@/]+@([^:/]+)[:/](.+?)(?:\.git)?/?$", repo_url)
    if m and not repo_url.startswith(("http://", "https://")):
        web, path = f"https://{m.group(1)}", m.group(2)
    else:
        parts = urllib.parse.urlsplit(repo_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None  # file:// or a local path: no web UI
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        web, path = f"{parts.scheme}://{host}", parts.path.strip("/").removesuffix(".git")
    q = urllib.parse.quote
    if "gitlab" in web.lower() or path.count("/") >= 2:
        return f"{web}/{path}/-/compare/{q(base, safe='')}...{q(head, safe='')}"
    return f"{web}/{path}/compare/{q(base, safe='')}...{q(head, safe='')}"


class NoForge:
    name = "none"

    def open_or_update(self, spec: PullRequestSpec) -> PullRequestResult:
        link = compare_url(spec.repo_url, spec.base, spec.head)
        msg = (f"pushed {spec.head}; open a pull request at {link}" if link
               else f"pushed {spec.head}; no forge configured, open a pull request by hand")
        return PullRequestResult(number=None, url=link, action="none", messages=(msg,))

    def close_if_empty(self, spec: PullRequestSpec, comment: str) -> PullRequestResult:
        return PullRequestResult(number=None, url=None, action="none")
