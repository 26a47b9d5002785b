"""GitHub (github.com and GitHub Enterprise) pull requests through PyGithub.

PyGithub is imported lazily (only when a GitHub forge is used). Its own retry
and write throttling are replaced by :mod:`promoter.forges.retry` (one policy
for both forges, with "already exists" adoption); against a loopback host
(the sandbox) PyGithub's inter-request throttle is off, elsewhere it is kept
(0.25 s between requests, 1 s between writes) as GitHub recommends to avoid
secondary rate limits.

API base URL, first match wins: ``--forge-url`` (a host root like
``https://ghe.example.com`` gets ``/api/v3`` appended; an ``/api/v3`` URL or
``https://api.github.com`` is used as is), ``GITHUB_API_URL`` (set by GitHub
Actions), then derived from the repository URL (github.com ->
``https://api.github.com``, any other host -> ``<scheme>://<host>/api/v3``).

Auth: a token, or a GitHub App (app id + PEM private key; installation id
given or looked up with ``GET /repos/{owner}/{repo}/installation``) whose
installation token is also what git pushes with.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promoter.forges.base import PullRequestResult, PullRequestSpec
from promoter.forges.retry import (
    Decision,
    RetryPolicy,
    call_with_retry,
    create_or_adopt,
    retry_after_seconds,
)

if TYPE_CHECKING:
    from github.PullRequest import PullRequest
    from github.Repository import Repository

GITHUB_COM_API = "https://api.github.com"


class ForgeError(RuntimeError):
    """A forge operation failed in a way a retry will not fix; the message says what to do."""


@dataclass(frozen=True, slots=True)
class AppCredentials:
    app_id: str
    private_key: str  # PEM text
    installation_id: int | None = None

    @classmethod
    def from_options(
        cls,
        app_id: str | None,
        key_file: str | None,
        installation_id: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AppCredentials | None:
        """From ``--github-app-id`` / ``--github-app-key-file`` or ``GITHUB_APP_*`` variables."""
        e = os.environ if env is None else env
        app_id = app_id or e.get("GITHUB_APP_ID")
        if not app_id:
            return None
        key = None
        key_file = key_file or e.get("GITHUB_APP_PRIVATE_KEY_FILE")
        if key_file:
            try:
                with open(key_file, encoding="utf-8") as fh:
                    key = fh.read()
            except OSError as exc:
                raise ForgeError(f"cannot read the GitHub App private key {key_file}: "
                                 f"{exc.strerror or exc}; pass a readable PEM file") from None
        else:
            key = e.get("GITHUB_APP_PRIVATE_KEY")
        if not key or "PRIVATE KEY" not in key:
            raise ForgeError("GitHub App auth needs the app's PEM private key: pass "
                             "--github-app-key-file FILE or set GITHUB_APP_PRIVATE_KEY")
        inst = installation_id or e.get("GITHUB_APP_INSTALLATION_ID")
        return cls(str(app_id), key, int(inst) if inst else None)


def parse_repo_url(url: str) -> tuple[str, str, str]:
    """(web base ``scheme://host[:port]``, owner, repo) from an http(s) or ssh git URL."""
    m = re.match(r"^(?:ssh://)?[^@/]+@([^:/]+)[:/](.+?)(?:\.git)?/?$", url)
    if m and not url.startswith(("http://", "https://")):
        base, path = f"https://{m.group(1)}", m.group(2)
    else:
        parts = urllib.parse.urlsplit(url)
        if not parts.scheme or not parts.hostname:
            raise ForgeError(f"cannot tell the GitHub repository from {url!r}: use "
                             "https://host/owner/repo(.git)")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        base, path = f"{parts.scheme}://{host}", parts.path
    segs = [s for s in path.strip("/").removesuffix(".git").split("/") if s]
    if len(segs) < 2:
        raise ForgeError(f"cannot tell owner/repo from {url!r}: expected .../owner/repo(.git)")
    return base, segs[-2], segs[-1]


def api_url_for(repo_url: str, forge_url: str | None = None,
                env: Mapping[str, str] | None = None) -> str:
    e = os.environ if env is None else env
    explicit = forge_url or e.get("GITHUB_API_URL")
    if explicit:
        u = explicit.rstrip("/")
        parts = urllib.parse.urlsplit(u)
        if parts.hostname == "api.github.com" or u.endswith("/api/v3"):
            return u
        if parts.hostname == "github.com":
            return GITHUB_COM_API
        return u + "/api/v3"
    base, _, _ = parse_repo_url(repo_url)
    host = urllib.parse.urlsplit(base).hostname
    if host in ("github.com", "www.github.com"):
        return GITHUB_COM_API
    return base + "/api/v3"


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify(exc: BaseException) -> Decision | None:
    """Which GitHub failures are worth retrying, and how long GitHub asked us to wait."""
    from github import GithubException

    if isinstance(exc, GithubException):
        status = exc.status
        headers = exc.headers or {}
        if status >= 500:
            return Decision(None, f"HTTP {status}")
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message", "")).lower()
        if status == 429:
            return Decision(retry_after_seconds(headers), "HTTP 429 rate limited")
        if status == 403:
            wait = retry_after_seconds(headers)
            if wait is not None or "rate limit" in message or "abuse" in message:
                # GitHub: without Retry-After or a reset, wait at least a minute.
                return Decision(wait if wait is not None else 60.0, "HTTP 403 rate limited")
        return None
    import requests

    if isinstance(exc, (requests.ConnectionError, requests.Timeout, http.client.HTTPException,
                        ConnectionError)):
        return Decision(None, f"connection error ({type(exc).__name__})")
    return None


def _is_already_exists(exc: BaseException) -> bool:
    from github import GithubException

    if not isinstance(exc, GithubException) or exc.status != 422:
        return False
    data = exc.data if isinstance(exc.data, dict) else {}
    return any("already exists" in str(err.get("message", ""))
               for err in data.get("errors", []) if isinstance(err, dict))


def _error_text(exc: BaseException) -> str:
    from github import GithubException

    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        details = "; ".join(str(e.get("message") or e.get("code")) for e in data.get("errors", [])
                            if isinstance(e, dict))
        return f"HTTP {exc.status} {data.get('message', '')}" + (f" ({details})" if details else "")
    return str(exc)


class GitHubForge:
    name = "github"

    def __init__(
        self,
        repo_url: str,
        *,
        token: str | None = None,
        app: AppCredentials | None = None,
        forge_url: str | None = None,
        env: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        timeout: int = 30,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if token is None and app is None:
            raise ForgeError("GitHub needs a token (GITHUB_TOKEN, --token-env, --token-file) or "
                             "a GitHub App (--github-app-id and --github-app-key-file)")
        self.repo_url = repo_url
        self.api_url = api_url_for(repo_url, forge_url, env)
        _, self.owner, self.repo_name = parse_repo_url(repo_url)
        self.policy = policy or RetryPolicy(log=log)
        self.timeout = timeout
        self._token = token
        self._app = app
        self._repo: Repository | None = None

    # ----------------------------------------------------------------- clients

    def _client_kwargs(self) -> dict[str, Any]:
        throttle = not _is_loopback(self.api_url)
        return {
            "base_url": self.api_url,
            "timeout": self.timeout,
            "retry": None,  # ours (retry.py) instead, so waits and adoption are one policy
            "seconds_between_requests": 0.25 if throttle else None,
            "seconds_between_writes": 1.0 if throttle else None,
        }

    def _retry(self, fn: Callable[[], Any], what: str) -> Any:
        return call_with_retry(fn, classify, self.policy, what)

    def installation_token(self) -> str:
        """The App installation token (also the git credential when using App auth)."""
        if self._token is not None:
            return self._token
        assert self._app is not None
        from github import Auth, GithubIntegration

        app = self._app
        integration = GithubIntegration(auth=Auth.AppAuth(app.app_id, app.private_key),
                                        **self._client_kwargs())
        inst_id = app.installation_id
        if inst_id is None:
            inst = self._retry(lambda: integration.get_repo_installation(self.owner,
                                                                          self.repo_name),
                               "look up the GitHub App installation")
            inst_id = int(inst.id)
        token = self._retry(lambda: integration.get_access_token(inst_id),
                            "create a GitHub App installation token").token
        self._token = str(token)
        return self._token

    def repository(self) -> Repository:
        if self._repo is None:
            from github import Auth, Github

            gh = Github(auth=Auth.Token(self.installation_token()), **self._client_kwargs())
            full = f"{self.owner}/{self.repo_name}"
            self._repo = self._retry(lambda: gh.get_repo(full), f"open repository {full}")
        return self._repo

    # ----------------------------------------------------------------- finding

    def find_open(self, spec: PullRequestSpec) -> PullRequest | None:
        repo = self.repository()

        def find() -> PullRequest | None:
            pulls = repo.get_pulls(state="open", head=f"{self.owner}:{spec.head}",
                                   base=spec.base)
            for pr in pulls:
                return pr
            return None

        result: PullRequest | None = self._retry(find, f"find the open PR for {spec.head}")
        return result

    # ----------------------------------------------------------------- protocol

    def open_or_update(self, spec: PullRequestSpec) -> PullRequestResult:
        from github import GithubException

        repo = self.repository()
        messages: list[str] = []
        found = self.find_open(spec)
        action = "unchanged"
        try:
            if found is not None:
                pr: PullRequest = found
            else:
                created, adopted = create_or_adopt(
                    lambda: repo.create_pull(base=spec.base, head=spec.head, title=spec.title,
                                             body=spec.body, draft=spec.draft),
                    lambda: self.find_open(spec),
                    _is_already_exists,
                    classify,
                    self.policy,
                    f"create the PR for {spec.head}",
                )
                if created is None:
                    raise ForgeError(f"GitHub created no PR for {spec.head}; rerun the job")
                pr = created
                action = "updated" if adopted else "created"
                if adopted:
                    messages.append(f"adopted existing PR #{pr.number} after a retried create")
            if action != "created":
                if spec.head_sha and pr.head.sha != spec.head_sha:
                    messages.append(f"{spec.head} moved on since this run pushed it; PR "
                                    f"#{pr.number} text left to the run that moved it")
                elif self._sync_text_and_draft(pr, spec):
                    action = "updated"
            if self._sync_people(pr, spec) and action == "unchanged":
                action = "updated"
            auto = False
            if spec.auto_merge:
                auto, note = self._enable_auto_merge(pr, spec)
                if note:
                    messages.append(note)
            if spec.merge_now:
                method = spec.auto_merge or "merge"
                head_sha = pr.head.sha
                status = self._retry(lambda: pr.merge(merge_method=method, sha=head_sha),
                                     f"merge PR #{pr.number}")
                if status.merged:
                    action = "merged"
                    messages.append(f"merged PR #{pr.number} ({method}) as {status.sha}")
        except GithubException as exc:
            raise ForgeError(
                f"GitHub refused an operation on the PR for {spec.head} in "
                f"{self.owner}/{self.repo_name} ({self.api_url}): {_error_text(exc)}; check "
                "the token's permissions (pull requests: write) and the repository settings"
            ) from exc
        return PullRequestResult(number=pr.number, url=pr.html_url,
                                 action=action,  # type: ignore[arg-type]
                                 auto_merge_enabled=auto, messages=tuple(messages))

    def _sync_text_and_draft(self, pr: PullRequest, spec: PullRequestSpec) -> bool:
        changed = False
        if pr.title != spec.title or (pr.body or "") != spec.body:
            self._retry(lambda: pr.edit(title=spec.title, body=spec.body),
                        f"update PR #{pr.number}")
            changed = True
        if bool(pr.draft) != spec.draft:
            if spec.draft:
                self._retry(pr.convert_to_draft, f"convert PR #{pr.number} to draft")
            else:
                self._retry(pr.mark_ready_for_review, f"mark PR #{pr.number} ready")
            changed = True
        return changed

    def _sync_people(self, pr: PullRequest, spec: PullRequestSpec) -> bool:
        """Add missing labels/reviewers/assignees; never removes what people added."""
        changed = False
        have_labels = {label.name for label in pr.labels}
        missing = [name for name in spec.labels if name not in have_labels]
        if missing:
            self._retry(lambda: pr.add_to_labels(*missing), f"label PR #{pr.number}")
            changed = True
        author = pr.user.login if pr.user else None
        have_reviewers = {u.login for u in pr.requested_reviewers}
        reviewers = [r for r in spec.reviewers if r not in have_reviewers and r != author]
        if reviewers:
            self._retry(lambda: pr.create_review_request(reviewers=reviewers),
                        f"request reviewers on PR #{pr.number}")
            changed = True
        have_assignees = {u.login for u in pr.assignees}
        assignees = [a for a in spec.assignees if a not in have_assignees]
        if assignees:
            self._retry(lambda: pr.add_to_assignees(*assignees),
                        f"assign PR #{pr.number}")
            changed = True
        return changed

    def _enable_auto_merge(self, pr: PullRequest, spec: PullRequestSpec) -> tuple[bool, str]:
        from github import GithubException

        method = (spec.auto_merge or "merge").upper()
        current = pr.auto_merge
        if current is not None and str(current.get("merge_method", "")).upper() == method:
            return True, ""
        try:
            self._retry(lambda: pr.enable_automerge(merge_method=method),
                        f"enable auto-merge on PR #{pr.number}")
        except GithubException as exc:
            # e.g. "Pull request is in clean status" or auto-merge disabled for the repo:
            # the PR stays open for a person; report, do not fail the promotion.
            return False, f"auto-merge not enabled on PR #{pr.number}: {_error_text(exc)}"
        return True, f"auto-merge ({method.lower()}) enabled on PR #{pr.number}"

    def close_if_empty(self, spec: PullRequestSpec, comment: str) -> PullRequestResult:
        pr = self.find_open(spec)
        if pr is None:
            return PullRequestResult(number=None, url=None, action="none")
        self._retry(lambda: pr.create_issue_comment(comment), f"comment on PR #{pr.number}")
        self._retry(lambda: pr.edit(state="closed"), f"close PR #{pr.number}")
        return PullRequestResult(number=pr.number, url=pr.html_url, action="closed",
                                 messages=(f"closed PR #{pr.number}: {comment}",))
