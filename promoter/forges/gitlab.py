"""GitLab (gitlab.com and self-managed) merge requests through python-gitlab.

python-gitlab is imported lazily (only when the GitLab forge is used).

Server URL, first match wins: ``--forge-url`` (a host root such as
``https://gitlab.example.com`` or ``https://example.com/gitlab``; a trailing
``/api/v4`` is accepted), ``CI_API_V4_URL`` then ``CI_SERVER_URL`` (set by
GitLab CI) when they name the repository's host, then the repository URL's
``scheme://host[:port]``. The project path is the repository URL's path
without ``.git`` and without the server's own path prefix, so nested groups
(``group/subgroup/project``) work.

Auth: a personal/project/group access token is sent as ``PRIVATE-TOKEN``; the
CI job token (the token equals ``CI_JOB_TOKEN``) as ``JOB-TOKEN``. Note that
real GitLab lets a job token read merge requests but not create them: use an
access token with the ``api`` scope for promotions.

Behaviour: one merge request per promotion branch (found by
``source_branch`` + ``target_branch`` among open MRs); created with
``remove_source_branch`` so merged branches do not go stale, else updated in
place (title, description; labels, reviewers and assignees are only ever
*added*, never removed from what people set). Draft is GitLab's ``Draft:``
title prefix. ``--auto-merge`` asks GitLab to merge when the pipeline
succeeds (``auto_merge`` plus its older alias ``merge_when_pipeline_succeeds``);
GitLab merges at once when the project has no pipeline, as it documents.
``squash`` sets the MR's squash flag; ``rebase`` is a project setting on GitLab,
so the project's merge method is used. Retries: python-gitlab obeys 429
``Retry-After`` itself; 5xx and connection errors are retried with
:mod:`promoter.forges.retry`, and a retried create that meets GitLab's 409
"Another open merge request already exists" adopts that merge request.
"""

from __future__ import annotations

import http.client
import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promoter.forges.base import PullRequestResult, PullRequestSpec
from promoter.forges.github import ForgeError
from promoter.forges.retry import Decision, RetryPolicy, call_with_retry, create_or_adopt

if TYPE_CHECKING:
    from gitlab import Gitlab
    from gitlab.v4.objects import Project

GITLAB_COM = "https://gitlab.com"
DRAFT_PREFIX = "Draft: "
TITLE_MAX = 255
DESCRIPTION_MAX = 1_048_576
_DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")

__all__ = ["ForgeError", "GitLabForge", "project_path_for", "server_url_for"]


# ---------------------------------------------------------------------- URLs
def _split_repo_url(url: str) -> tuple[str, str]:
    """(``scheme://host[:port]``, path without ``.git``) of an http(s) or ssh git URL."""
    if "://" not in url and "@" in url and ":" in url.split("@", 1)[1]:
        host, _, path = url.split("@", 1)[1].partition(":")  # git@host:group/project.git
        return f"https://{host}", path.strip("/").removesuffix(".git")
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.scheme not in ("http", "https", "ssh", "git"):
        raise ForgeError(
            f"cannot tell the GitLab project from {url!r}: use "
            "https://host/group/project(.git) or git@host:group/project.git"
        )
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    port = f":{parts.port}" if parts.port and scheme in ("http", "https") else ""
    if parts.scheme in ("ssh", "git"):
        port = ""  # the web server is not on the ssh port
    return f"{scheme}://{parts.hostname}{port}", parts.path.strip("/").removesuffix(".git")


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def server_url_for(
    repo_url: str, forge_url: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The GitLab server root (what ``gitlab.Gitlab(url)`` takes)."""
    e = os.environ if env is None else env
    if forge_url:
        return forge_url.rstrip("/").removesuffix("/api/v4")
    web, _ = _split_repo_url(repo_url)
    repo_host = _host(web)
    for var in ("CI_API_V4_URL", "CI_SERVER_URL"):
        value = e.get(var)
        if value and _host(value) == repo_host:
            return value.rstrip("/").removesuffix("/api/v4")
    return web


def project_path_for(repo_url: str, server_url: str) -> str:
    """``group/subgroup/project`` from the repository URL (minus the server's path prefix)."""
    _, path = _split_repo_url(repo_url)
    prefix = urllib.parse.urlsplit(server_url).path.strip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :].strip("/")
    if path.count("/") < 1:
        raise ForgeError(
            f"cannot tell the GitLab project from {repo_url!r}: expected "
            ".../group/project(.git) (subgroups allowed)"
        )
    return path


# ---------------------------------------------------------------------- errors
def classify(exc: BaseException) -> Decision | None:
    """Which python-gitlab failures are worth retrying (5xx, resource locks, connections)."""
    import requests
    from gitlab.exceptions import GitlabAuthenticationError, GitlabError

    if isinstance(exc, GitlabAuthenticationError):
        return None
    if isinstance(exc, GitlabError) and exc.response_code is not None:
        code = exc.response_code
        if code >= 500:
            return Decision(None, f"HTTP {code}")
        if code == 429:  # python-gitlab already waited Retry-After up to 10 times
            return Decision(None, "HTTP 429 rate limited")
        if code == 409 and "Resource lock" in str(exc.error_message):
            return Decision(None, "HTTP 409 resource lock")
        return None
    if isinstance(
        exc,
        (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
         http.client.HTTPException, ConnectionError),
    ):  # fmt: skip
        return Decision(None, f"connection error ({type(exc).__name__})")
    return None


def _is_duplicate(exc: BaseException) -> bool:
    from gitlab.exceptions import GitlabError

    if not isinstance(exc, GitlabError) or exc.response_code != 409:
        return False
    message = exc.error_message
    texts = message if isinstance(message, list) else [message]
    return any("already exists" in str(t) for t in texts)


def _error_text(exc: BaseException) -> str:
    from gitlab.exceptions import GitlabError

    if isinstance(exc, GitlabError) and exc.response_code is not None:
        message = exc.error_message
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        return f"HTTP {exc.response_code} {message}"
    return f"{type(exc).__name__}: {exc}"


def _status(exc: BaseException) -> int | None:
    from gitlab.exceptions import GitlabError

    return exc.response_code if isinstance(exc, GitlabError) else None


def is_draft(title: str) -> bool:
    return title.lstrip().lower().startswith(_DRAFT_PREFIXES)


def strip_draft(title: str) -> str:
    text = title.lstrip()
    for prefix in _DRAFT_PREFIXES:
        if text.lower().startswith(prefix):
            return text[len(prefix) :].lstrip()
    return title


# ---------------------------------------------------------------------- the forge
class GitLabForge:
    name = "gitlab"

    def __init__(
        self,
        repo_url: str,
        *,
        token: str | None = None,
        forge_url: str | None = None,
        env: Mapping[str, str] | None = None,
        log: Callable[[str], None] | None = None,
        policy: RetryPolicy | None = None,
        timeout: int = 30,
    ) -> None:
        e = os.environ if env is None else env
        token = token or e.get("GITLAB_TOKEN") or e.get("CI_JOB_TOKEN")
        if not token:
            raise ForgeError(
                "GitLab needs a token: set GITLAB_TOKEN (an access token with the api scope) "
                "or pass --token-env / --token-file"
            )
        self.repo_url = repo_url
        self.server_url = server_url_for(repo_url, forge_url, e)
        self.project_path = project_path_for(repo_url, self.server_url)
        self._job_token = token == e.get("CI_JOB_TOKEN")
        self._token = token
        self.policy = policy or RetryPolicy(log=log)
        self.timeout = timeout
        self._gl: Gitlab | None = None
        self._project: Project | None = None
        self._user_ids: dict[str, int | None] = {}

    # ----------------------------------------------------------------- clients
    def client(self) -> Gitlab:
        if self._gl is None:
            import gitlab

            # 5xx/connection retries are ours (one policy with "already exists" adoption);
            # 429 Retry-After is obeyed by python-gitlab itself (obey_rate_limit).
            self._gl = gitlab.Gitlab(
                self.server_url,
                private_token=None if self._job_token else self._token,
                job_token=self._token if self._job_token else None,
                timeout=self.timeout,
                retry_transient_errors=False,
            )
        return self._gl

    def _retry(self, fn: Callable[[], Any], what: str) -> Any:
        return call_with_retry(fn, classify, self.policy, what)

    def project(self) -> Project:
        if self._project is None:
            gl = self.client()
            try:
                project = self._retry(
                    lambda: gl.projects.get(self.project_path),
                    f"look up the GitLab project {self.project_path}",
                )
            except Exception as exc:
                raise self._explain(exc, f"look up the project {self.project_path}") from exc
            self._project = project
        return self._project

    def _explain(self, exc: BaseException, what: str) -> ForgeError | BaseException:
        status = _status(exc)
        where = f"{self.project_path} on {self.server_url}"
        if status == 401:
            return ForgeError(
                f"GitLab rejected the token while trying to {what} ({where}): HTTP 401; check "
                "that GITLAB_TOKEN is set, not expired and has the api scope"
            )
        if status == 404:
            return ForgeError(
                f"GitLab answered 404 while trying to {what} ({where}): the project does not "
                "exist or the token cannot see it (GitLab hides private projects); check the "
                "repository URL, --forge-url and the token's membership"
            )
        if status == 403:
            return ForgeError(
                f"GitLab refused to {what} ({where}): HTTP 403; the token's user needs at "
                "least the Developer role on the project"
            )
        if status is not None:
            return ForgeError(f"GitLab refused to {what} ({where}): {_error_text(exc)}")
        return exc

    # ----------------------------------------------------------------- finding
    def find_open(self, spec: PullRequestSpec) -> dict[str, Any] | None:
        project = self.project()

        def find() -> dict[str, Any] | None:
            found = project.mergerequests.list(
                state="opened", source_branch=spec.head, target_branch=spec.base, get_all=True
            )
            # Oldest first: if a duplicate ever exists, keep using the original one.
            mrs = sorted(found, key=lambda m: int(m.iid))
            return dict(mrs[0].attributes) if mrs else None

        result: dict[str, Any] | None = self._retry(find, f"find the open MR for {spec.head}")
        return result

    def _user_id(self, username: str) -> int | None:
        name = username.lstrip("@")
        if name not in self._user_ids:
            gl = self.client()
            users = self._retry(
                lambda: gl.users.list(username=name, get_all=False),
                f"look up the GitLab user {name}",
            )
            self._user_ids[name] = int(users[0].id) if users else None
        return self._user_ids[name]

    def _ids(self, names: tuple[str, ...], role: str, messages: list[str]) -> list[int]:
        ids: list[int] = []
        for name in names:
            uid = self._user_id(name)
            if uid is None:
                messages.append(f"GitLab user {name!r} not found; not added as {role}")
            elif uid not in ids:
                ids.append(uid)
        return ids

    # ----------------------------------------------------------------- protocol
    def open_or_update(self, spec: PullRequestSpec) -> PullRequestResult:
        try:
            return self._open_or_update(spec)
        except ForgeError:
            raise
        except Exception as exc:
            if _status(exc) is None:
                raise
            raise self._explain(exc, f"open or update the merge request for {spec.head}") from exc

    def _wanted_title(self, spec: PullRequestSpec) -> str:
        title = strip_draft(spec.title)
        title = DRAFT_PREFIX + title if spec.draft else title
        # GitLab refuses titles over 255 characters (400 "is too long").
        return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"

    @staticmethod
    def _wanted_body(spec: PullRequestSpec) -> str:
        if len(spec.body) <= DESCRIPTION_MAX:
            return spec.body
        note = "\n\n… (truncated: GitLab descriptions are limited to 1,048,576 characters)\n"
        return spec.body[: DESCRIPTION_MAX - len(note)] + note

    def _open_or_update(self, spec: PullRequestSpec) -> PullRequestResult:
        project = self.project()
        messages: list[str] = []
        reviewer_ids = self._ids(spec.reviewers, "reviewer", messages)
        assignee_ids = self._ids(spec.assignees, "assignee", messages)
        squash = spec.auto_merge == "squash"
        mr = self.find_open(spec)
        action = "unchanged"
        if mr is None:
            data: dict[str, Any] = {
                "source_branch": spec.head,
                "target_branch": spec.base,
                "title": self._wanted_title(spec),
                "description": self._wanted_body(spec),
                "remove_source_branch": True,
            }
            if spec.labels:
                data["labels"] = ",".join(spec.labels)
            if reviewer_ids:
                data["reviewer_ids"] = reviewer_ids
            if assignee_ids:
                data["assignee_ids"] = assignee_ids
            if squash:
                data["squash"] = True
            created, adopted = create_or_adopt(
                lambda: dict(project.mergerequests.create(data).attributes),
                lambda: self.find_open(spec),
                _is_duplicate,
                classify,
                self.policy,
                f"create the MR for {spec.head}",
            )
            mr = created
            action = "updated" if adopted else "created"
            if adopted:
                messages.append(f"adopted existing MR !{mr['iid']} after a retried create")
        if action != "created":
            changes = self._changes(mr, spec, reviewer_ids, assignee_ids, squash)
            if changes:
                iid = int(mr["iid"])
                mr = self._retry(
                    lambda: dict(project.mergerequests.update(iid, changes)),
                    f"update MR !{iid}",
                )
                action = "updated"
        auto = bool(mr.get("merge_when_pipeline_succeeds"))
        if spec.auto_merge and not spec.merge_now and not auto:
            mr, note = self._enable_auto_merge(mr, spec)
            auto = bool(mr.get("merge_when_pipeline_succeeds"))
            messages.append(note)
            if mr.get("state") == "merged":
                action = "merged"
        if spec.merge_now and mr.get("state") == "opened":
            mr = self._merge_now(mr)
            action = "merged"
            messages.append(f"merged MR !{mr['iid']} as {mr.get('merge_commit_sha')}")
        if spec.auto_merge == "rebase":
            messages.append(
                "GitLab has no per-MR rebase merge: the project's merge method is used"
            )
        return PullRequestResult(
            number=int(mr["iid"]),
            url=str(mr["web_url"]),
            action=action,  # type: ignore[arg-type]
            auto_merge_enabled=auto,
            messages=tuple(messages),
        )

    def _changes(
        self,
        mr: dict[str, Any],
        spec: PullRequestSpec,
        reviewer_ids: list[int],
        assignee_ids: list[int],
        squash: bool,
    ) -> dict[str, Any]:
        """What to PUT so the MR says what this promotion says (and keeps what people added)."""
        changes: dict[str, Any] = {}
        title = self._wanted_title(spec)
        if mr.get("title") != title:
            changes["title"] = title
        body = self._wanted_body(spec)
        if (mr.get("description") or "") != body:
            changes["description"] = body
        have_labels = set(mr.get("labels") or [])
        missing = [label for label in spec.labels if label not in have_labels]
        if missing:
            changes["add_labels"] = ",".join(missing)
        have_reviewers = [int(u["id"]) for u in mr.get("reviewers") or []]
        if any(i not in have_reviewers for i in reviewer_ids):
            changes["reviewer_ids"] = list(dict.fromkeys(have_reviewers + reviewer_ids))
        have_assignees = [int(u["id"]) for u in mr.get("assignees") or []]
        if any(i not in have_assignees for i in assignee_ids):
            changes["assignee_ids"] = list(dict.fromkeys(have_assignees + assignee_ids))
        if squash and not mr.get("squash"):
            changes["squash"] = True
        return changes

    def _merge(self, mr: dict[str, Any], what: str, **params: Any) -> dict[str, Any]:
        """PUT .../merge with the MR's head sha; refetch once if the head moved meanwhile."""
        project = self.project()
        gl = self.client()
        iid = int(mr["iid"])
        path = f"/projects/{project.encoded_id}/merge_requests/{iid}/merge"
        for attempt in range(2):
            body = {**params, "sha": mr.get("sha")}

            def put(body: dict[str, Any] = body) -> Any:
                return gl.http_put(path, post_data=body)

            try:
                result: dict[str, Any] = self._retry(put, what)
                return result
            except Exception as exc:
                status = _status(exc)
                if status is None:
                    raise
                fresh = dict(self._retry(lambda: project.mergerequests.get(iid).attributes, what))
                if fresh.get("state") == "merged":
                    return fresh  # a retried merge whose first answer was lost
                if status == 409 and attempt == 0:
                    mr = fresh
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _enable_auto_merge(
        self, mr: dict[str, Any], spec: PullRequestSpec
    ) -> tuple[dict[str, Any], str]:
        iid = mr["iid"]
        try:
            merged = self._merge(
                mr,
                f"enable auto-merge on MR !{iid}",
                merge_when_pipeline_succeeds=True,
                auto_merge=True,
            )
        except Exception as exc:
            if _status(exc) in (401, 405, 406, 422):
                # e.g. a failed pipeline, conflicts, or no right to merge: the MR stays
                # open for a person; report it, do not fail the promotion.
                return mr, f"auto-merge not enabled on MR !{iid}: {_error_text(exc)}"
            raise
        if merged.get("state") == "merged":
            return merged, f"MR !{iid} merged at once (GitLab had no pipeline to wait for)"
        return merged, f"auto-merge enabled on MR !{iid}: GitLab merges when the pipeline succeeds"

    def _merge_now(self, mr: dict[str, Any]) -> dict[str, Any]:
        iid = mr["iid"]
        try:
            return self._merge(mr, f"merge MR !{iid}")
        except Exception as exc:
            if _status(exc) is None:
                raise
            raise ForgeError(
                f"--merge-now: GitLab did not merge MR !{iid} in {self.project_path}: "
                f"{_error_text(exc)} (405: not mergeable now, e.g. draft, conflicts or "
                "required checks; 401: the token may not merge into the target branch)"
            ) from exc

    def close_if_empty(self, spec: PullRequestSpec, comment: str) -> PullRequestResult:
        mr = self.find_open(spec)
        if mr is None:
            return PullRequestResult(number=None, url=None, action="none")
        project = self.project()
        iid = int(mr["iid"])
        lazy = project.mergerequests.get(iid, lazy=True)
        self._retry(lambda: lazy.notes.create({"body": comment}), f"comment on MR !{iid}")
        self._retry(
            lambda: project.mergerequests.update(iid, {"state_event": "close"}),
            f"close MR !{iid}",
        )
        return PullRequestResult(
            number=iid,
            url=str(mr["web_url"]),
            action="closed",
            messages=(f"closed MR !{iid}: {comment}",),
        )
