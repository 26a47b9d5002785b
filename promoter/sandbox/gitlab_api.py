"""The GitLab REST v4 subset the promoter uses, emulated over the sandbox's bare repos.

Register with ``sandbox.add_handler("/api/v4", GitLabApi(root, token_valid=...))``.
Projects are the bare repositories ``root/<group>/<subgroup>/<project>.git``,
addressed by numeric id or URL-encoded path; merge requests, notes, users and
pipelines live in ``<root>/.sandbox/gitlab.json`` (``state.StateStore``).

Served (bodies, status codes and error bodies as GitLab sends them, see
``shared/contracts/gitlab/``):

* ``GET /version``, ``GET /user``, ``GET /users?username=``, ``GET /users/:id``
* ``GET /projects/:id``, ``GET /projects/:id/repository/branches[/:branch]``,
  ``GET /projects/:id/repository/commits/:sha``
* ``GET|POST /projects/:id/merge_requests`` (filters ``state``,
  ``source_branch``, ``target_branch``, ``labels``, ``iids[]``; paginated)
* ``GET|PUT /projects/:id/merge_requests/:iid`` (title, description, labels,
  add/remove_labels, assignee_id(s), reviewer_ids, squash, remove_source_branch,
  target_branch, state_event close|reopen; drafts are a ``Draft:`` title prefix)
* ``PUT .../merge`` (``sha`` check, ``squash``, ``should_remove_source_branch``,
  ``auto_merge`` / ``merge_when_pipeline_succeeds``), ``POST
  .../cancel_merge_when_pipeline_succeeds``, ``GET|POST .../notes``, ``GET .../commits``
* ``POST /projects/:id/statuses/:sha`` (a CI status; drives pipelines and auto-merge)

Pipelines: like GitLab, a commit whose tree has ``.gitlab-ci.yml`` gets a
pipeline (``running`` here until a status is posted); without one there is no
pipeline, so ``auto_merge`` merges at once, exactly as GitLab does.

Access: every token the sandbox accepts authenticates as ``root``
(Administrator); :meth:`GitLabApi.add_user` adds users with their own token and
access level (guests get 403 on writes; only maintainers may merge into the
protected default branch, others get GitLab's 401). Rate limiting answers
``RateLimit-*`` headers on every response and 429 ``Retry later`` past the
per-minute limit.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import math
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.sandbox import bare
from promoter.sandbox import gitlab_entities as ent
from promoter.sandbox import gitlab_merge as gm
from promoter.sandbox import gitlab_params as prm
from promoter.sandbox.gitlab_merge import Project
from promoter.sandbox.gitlab_model import (
    DEVELOPER,
    GUEST,
    OWNER,
    ROOT_USER,
    GitLabState,
    MergeRequest,
    Note,
    User,
    now_iso,
)
from promoter.sandbox.gitlab_params import ApiError, error
from promoter.sandbox.state import StateStore
from promoter.sandbox.types import ApiRequest, ApiResponse

PREFIX = "/api/v4"
NAMESPACE = "gitlab"
VERSION = {"version": "17.11.0", "revision": "sandbox", "kas": {"enabled": False}}
DEFAULT_USERS = (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"))
TITLE_MAX = 255
DESCRIPTION_MAX = 1_048_576

UPDATE_KEYS = (
    "assignee_id",
    "assignee_ids",
    "reviewer_ids",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "milestone_id",
    "milestone",
    "remove_source_branch",
    "allow_collaboration",
    "allow_maintainer_to_push",
    "squash",
    "target_branch",
    "title",
    "state_event",
    "discussion_locked",
    "merge_after",
)


@dataclass(slots=True)
class _Ctx:
    request: ApiRequest
    params: dict[str, Any]
    state: GitLabState
    user: User
    base: str
    changed: bool = False


def _json(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    return ApiResponse(status, json.dumps(body).encode(), list(headers or []))


class GitLabApi:
    """An ``ApiHandler`` for ``/api/v4``; thread-safe (one state transaction per request)."""

    def __init__(
        self,
        root: Path,
        *,
        token_valid: Callable[[str | None], bool] | None = None,
        rate_limit: int = 2000,
        store: StateStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        # Rate limits count in fixed wall-clock minutes, like GitLab's Rack::Attack; a test
        # passes a frozen clock so that its requests never straddle two windows.
        self._clock = clock
        self.store = store or StateStore(self.root)
        self._token_valid = token_valid or (lambda _token: True)
        self.rate_limit = rate_limit
        self._rate_lock = threading.Lock()
        self._rate: dict[str, tuple[int, int]] = {}  # key -> (window start, count)
        with self.store.transaction(NAMESPACE) as raw:
            state = GitLabState.load(raw)
            if state.user_by_name(ROOT_USER) is None:
                state.add_user(ROOT_USER, "Administrator", OWNER)
            for username, name in DEFAULT_USERS:
                state.add_user(username, name, DEVELOPER)
            raw.clear()
            raw.update(state.dump())

    # ------------------------------------------------------------------ sandbox controls
    def add_user(
        self, username: str, *, access_level: int = DEVELOPER, token: str | None = None
    ) -> int:
        """Add (or update) a user; ``token`` authenticates as that user. Returns the id."""
        with self.store.transaction(NAMESPACE) as raw:
            state = GitLabState.load(raw)
            user = state.add_user(username)
            user.access_level = access_level
            if token and token not in user.tokens:
                user.tokens.append(token)
            raw.clear()
            raw.update(state.dump())
            return user.id

    def set_pipeline(self, project_path: str, sha: str, status: str, ref: str = "") -> None:
        """Finish (or move) the pipeline of ``sha`` like CI would; runs pending auto-merges."""
        with self.store.transaction(NAMESPACE) as raw:
            state = GitLabState.load(raw)
            project = self._project_by_path(state, project_path.strip("/"))
            if project is None:
                raise ValueError(f"no project {project_path!r} under {self.root}")
            gm.set_pipeline(state, project, sha, status, ref or None)
            raw.clear()
            raw.update(state.dump())

    def merge_request(self, project_path: str, iid: int) -> dict[str, Any] | None:
        """The raw stored record of a merge request (tests, demo)."""
        state = GitLabState.load(self.store.read(NAMESPACE))
        project = self._project_by_path(state, project_path.strip("/"))
        if project is None:
            return None
        mr = state.mr(project.id, iid)
        return None if mr is None else json.loads(json.dumps(_asdict(mr)))

    # ------------------------------------------------------------------ entry point
    def __call__(self, request: ApiRequest) -> ApiResponse | None:
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return None
        extra: list[tuple[str, str]] = [
            ("Cache-Control", "max-age=0, private, must-revalidate"),
            ("X-Request-Id", uuid.uuid4().hex[:26].upper()),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("Vary", "Origin, Accept-Encoding"),
        ]
        try:
            with self.store.transaction(NAMESPACE) as raw:
                state = GitLabState.load(raw)
                user = self._authenticate(request, state)
                extra += self._rate_headers(f"user:{user.id}")
                ctx = _Ctx(request, prm.parse(request), state, user, request.base_url)
                response = self._route(ctx)
                raw.clear()
                raw.update(state.dump())
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, bytes) else json.dumps(exc.body).encode()
            ctype = "text/plain" if isinstance(exc.body, bytes) else "application/json"
            response = ApiResponse(exc.status, body, [("Content-Type", ctype), *exc.headers])
        if not any(k.lower() == "content-type" for k, _ in response.headers):
            response.headers.append(("Content-Type", "application/json"))
        response.headers.extend(extra)
        return response

    # ------------------------------------------------------------------ auth, rate limits
    def _authenticate(self, request: ApiRequest, state: GitLabState) -> User:
        token = request.token
        if token is not None:
            owner = state.user_by_token(token)
            if owner is not None:
                return owner
        if not self._token_valid(token):
            # Rate limiting still counts failed attempts per client.
            self._rate_headers(f"anon:{token is None}")
            raise error(401, "401 Unauthorized")
        root = state.user_by_name(ROOT_USER)
        assert root is not None
        return root

    def _rate_headers(self, key: str) -> list[tuple[str, str]]:
        now = self._clock()
        window = int(now // 60) * 60
        with self._rate_lock:
            start, count = self._rate.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._rate[key] = (start, count)
        reset = start + 60
        headers = [
            ("RateLimit-Name", "throttle_authenticated_api"),
            ("RateLimit-Limit", str(self.rate_limit)),
            ("RateLimit-Observed", str(count)),
            ("RateLimit-Remaining", str(max(0, self.rate_limit - count))),
            ("RateLimit-Reset", str(reset)),
            ("RateLimit-ResetTime", email.utils.formatdate(reset, usegmt=True)),
        ]
        if count > self.rate_limit:
            retry = str(max(1, math.ceil(reset - now)))
            raise ApiError(429, b"Retry later\n", [*headers, ("Retry-After", retry)])
        return headers

    # ------------------------------------------------------------------ routing
    def _route(self, ctx: _Ctx) -> ApiResponse:
        method = ctx.request.method
        rest = ctx.request.path[len(PREFIX) :].strip("/")
        if rest == "version" and method == "GET":
            return _json(200, VERSION)
        if rest == "user" and method == "GET":
            return _json(200, ent.user_detail(ctx.base, ctx.user))
        if rest == "users" and method == "GET":
            return self._list_users(ctx)
        m = re.fullmatch(r"users/(\d+)", rest)
        if m and method == "GET":
            found = ctx.state.user_by_id(int(m.group(1)))
            if found is None:
                raise error(404, "404 User Not Found")
            return _json(200, ent.user_basic(ctx.base, found))
        if rest.startswith("projects/"):
            project, sub = self._resolve_project(ctx.state, rest[len("projects/") :])
            return self._route_project(ctx, project, sub)
        raise ApiError(404, {"error": "404 Not Found"})

    def _route_project(self, ctx: _Ctx, project: Project, sub: str) -> ApiResponse:
        method = ctx.request.method
        if sub == "" and method == "GET":
            # An empty repository has no default branch yet (GitLab: null, empty_repo true).
            default = bare.default_branch(project.repo) if bare.branches(project.repo) else None
            body = ent.project_entity(
                ctx.base, ctx.state, project.path, project.id, default, ctx.user
            )
            return _json(200, body)
        if sub == "repository/branches" and method == "GET":
            return self._list_branches(ctx, project)
        if sub.startswith("repository/branches/") and method == "GET":
            return self._get_branch(ctx, project, sub[len("repository/branches/") :])
        if sub.startswith("repository/commits/") and method == "GET":
            return self._get_commit(ctx, project, sub[len("repository/commits/") :])
        if sub.startswith("statuses/") and method == "POST":
            return self._post_status(ctx, project, sub[len("statuses/") :])
        if sub == "merge_requests":
            if method == "GET":
                return self._list_mrs(ctx, project)
            if method == "POST":
                return self._create_mr(ctx, project)
        m = re.fullmatch(r"merge_requests/([^/]+)(?:/(.*))?", sub)
        if m:
            if not m.group(1).isdigit():
                raise ApiError(400, {"error": "merge_request_iid is invalid"})
            mr = ctx.state.mr(project.id, int(m.group(1)))
            if mr is None:
                raise error(404, "404 Not found")
            action = m.group(2) or ""
            handler = {
                ("", "GET"): self._get_mr,
                ("", "PUT"): self._update_mr,
                ("merge", "PUT"): self._merge_mr,
                ("cancel_merge_when_pipeline_succeeds", "POST"): self._cancel_auto_merge,
                ("notes", "GET"): self._list_notes,
                ("notes", "POST"): self._create_note,
                ("commits", "GET"): self._list_mr_commits,
            }.get((action, method))
            if handler is not None:
                return handler(ctx, project, mr)
        raise ApiError(404, {"error": "404 Not Found"})

    # ------------------------------------------------------------------ projects
    def _project_by_path(self, state: GitLabState, path: str) -> Project | None:
        repo = self.root / f"{path}.git"
        if not path or ".." in path.split("/") or not (repo / "HEAD").is_file():
            return None
        return Project(state.project_id(path), path, repo)

    def _resolve_project(self, state: GitLabState, rest: str) -> tuple[Project, str]:
        """(project, sub-path) from ``<id or path>/<sub...>``.

        The server hands us the *decoded* path, so ``group%2Fsub%2Fproject``
        arrives as ``group/sub/project``: the longest prefix naming a bare
        repository is the project.
        """
        parts = rest.split("/")
        if parts[0].isdigit():
            path = state.project_path(int(parts[0]))
            if path is None:
                state.register_repos(self.root)
                path = state.project_path(int(parts[0]))
            project = self._project_by_path(state, path) if path else None
            if project is None:
                raise error(404, "404 Project Not Found")
            return project, "/".join(parts[1:])
        for cut in range(len(parts), 0, -1):
            project = self._project_by_path(state, "/".join(parts[:cut]))
            if project is not None:
                return project, "/".join(parts[cut:])
        raise error(404, "404 Project Not Found")

    def _require(self, ctx: _Ctx, level: int) -> None:
        if ctx.user.access_level < level:
            raise error(403, "403 Forbidden")

    # ------------------------------------------------------------------ pagination
    def _paginate(
        self, ctx: _Ctx, items: list[Any], link_path: str
    ) -> tuple[list[Any], list[tuple[str, str]]]:
        page = prm.integer(ctx.params, "page") or 1
        per_page = prm.integer(ctx.params, "per_page") or 20
        page = max(page, 1)
        per_page = min(max(per_page, 1), 100)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        query = {k: v for k, v in ctx.request.query.items() if k not in ("page", "per_page")}

        def url(p: int) -> str:
            q = [(k, v) for k, vals in query.items() for v in vals]
            q += [("page", str(p)), ("per_page", str(per_page))]
            return f"{ctx.base}{link_path}?{urllib.parse.urlencode(q)}"

        links = []
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(pages)}>; rel="last"')
        headers = [
            ("Link", ", ".join(links)),
            ("X-Page", str(page)),
            ("X-Per-Page", str(per_page)),
            ("X-Total", str(total)),
            ("X-Total-Pages", str(pages)),
            ("X-Next-Page", str(page + 1) if page < pages else ""),
            ("X-Prev-Page", str(page - 1) if page > 1 else ""),
        ]
        return chunk, headers

    # ------------------------------------------------------------------ users
    def _list_users(self, ctx: _Ctx) -> ApiResponse:
        users = list(ctx.state.users)
        username = prm.string(ctx.params, "username")
        if username is not None:
            users = [u for u in users if u.username.lower() == username.lower()]
        search = prm.string(ctx.params, "search")
        if search:
            low = search.lower()
            users = [u for u in users if low in u.username.lower() or low in u.name.lower()]
        chunk, headers = self._paginate(ctx, users, f"{PREFIX}/users")
        return _json(200, [ent.user_basic(ctx.base, u) for u in chunk], headers)

    # ------------------------------------------------------------------ repository
    def _list_branches(self, ctx: _Ctx, project: Project) -> ApiResponse:
        names = sorted(bare.branches(project.repo))
        search = prm.string(ctx.params, "search")
        if search:
            names = [n for n in names if search in n]
        link = f"{PREFIX}/projects/{project.encoded}/repository/branches"
        chunk, headers = self._paginate(ctx, names, link)
        return _json(200, [self._branch(ctx, project, n) for n in chunk], headers)

    def _branch(self, ctx: _Ctx, project: Project, name: str) -> dict[str, Any]:
        default = bare.default_branch(project.repo)
        sha = bare.resolve(project.repo, f"refs/heads/{name}")
        if sha is None:
            raise error(404, "404 Branch Not Found")
        default_sha = bare.resolve(project.repo, f"refs/heads/{default}")
        merged = (
            name != default
            and default_sha is not None
            and bare.is_ancestor(project.repo, sha, default_sha)
        )
        info = bare.commit_info(project.repo, sha)
        return ent.branch_entity(
            ctx.base, project.path, name, info, default=name == default, merged=merged
        )

    def _get_branch(self, ctx: _Ctx, project: Project, name: str) -> ApiResponse:
        return _json(200, self._branch(ctx, project, name))

    def _get_commit(self, ctx: _Ctx, project: Project, ref: str) -> ApiResponse:
        sha = bare.resolve(project.repo, ref) if ref and not ref.startswith("-") else None
        if sha is None:
            raise error(404, "404 Commit Not Found")
        info = bare.commit_info(project.repo, sha)
        body = ent.commit_entity(ctx.base, project.path, info)
        pipeline = ctx.state.pipeline(project.id, sha)
        body["stats"] = _stats(project.repo, info)
        body["status"] = pipeline.status if pipeline else None
        body["project_id"] = project.id
        body["last_pipeline"] = (
            ent.pipeline_basic(ctx.base, project.path, pipeline) if pipeline else None
        )
        return _json(200, body)

    # ------------------------------------------------------------------ git facts
    def _render(
        self, ctx: _Ctx, project: Project, mr: MergeRequest, facts: ent.MrFacts | None = None
    ) -> dict[str, Any]:
        facts = facts or gm.facts(ctx.state, project, mr)
        can_merge = gm.can_merge(ctx.user, project, mr)
        body = ent.mr_full(ctx.base, ctx.state, project.path, mr, facts, ctx.user, can_merge)
        mr.unchecked = False  # the next read sees the checked status
        return body

    # ------------------------------------------------------------------ merge requests
    def _list_mrs(self, ctx: _Ctx, project: Project) -> ApiResponse:
        mrs = ctx.state.mrs_of(project.id)
        state = prm.string(ctx.params, "state") or "all"
        if state != "all":
            mrs = [m for m in mrs if m.state == state]
        for key in ("source_branch", "target_branch"):
            wanted = prm.string(ctx.params, key)
            if wanted is not None:
                mrs = [m for m in mrs if getattr(m, key) == wanted]
        labels = prm.str_list(ctx.params, "labels")
        if labels:
            mrs = [m for m in mrs if set(labels) <= set(m.labels)]
        iids = prm.int_list(ctx.params, "iids")
        if iids:
            mrs = [m for m in mrs if m.iid in iids]
        order_by = prm.string(ctx.params, "order_by") or "created_at"
        sort = prm.string(ctx.params, "sort") or "desc"
        key_attr = "updated_at" if order_by == "updated_at" else "created_at"
        mrs.sort(key=lambda m: (getattr(m, key_attr), m.id), reverse=sort != "asc")
        link = f"{PREFIX}/projects/{project.encoded}/merge_requests"
        chunk, headers = self._paginate(ctx, mrs, link)
        body = [
            ent.mr_basic(ctx.base, ctx.state, project.path, m, gm.facts(ctx.state, project, m))
            for m in chunk
        ]
        return _json(200, body, headers)

    def _get_mr(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        return _json(200, self._render(ctx, project, mr))

    def _user_ids(self, ctx: _Ctx, ids: list[int]) -> list[int]:
        # GitLab silently drops ids of users who cannot be assigned.
        return [i for i in dict.fromkeys(ids) if ctx.state.user_by_id(i) is not None]

    def _add_labels(self, ctx: _Ctx, project: Project, labels: list[str]) -> None:
        known = ctx.state.project_labels.setdefault(str(project.id), [])
        for label in labels:
            if label not in known:  # unknown labels are created on the project
                known.append(label)

    def _create_mr(self, ctx: _Ctx, project: Project) -> ApiResponse:
        p = ctx.params
        missing = [k for k in ("title", "source_branch", "target_branch") if p.get(k) is None]
        if missing:
            raise prm.grape_error(", ".join(f"{k} is missing" for k in missing))
        title = prm.string(p, "title") or ""
        source = prm.string(p, "source_branch") or ""
        target = prm.string(p, "target_branch") or ""
        labels = prm.str_list(p, "labels") or []
        assignees = prm.int_list(p, "assignee_ids")
        single = prm.integer(p, "assignee_id")
        reviewers = prm.int_list(p, "reviewer_ids") or []
        squash = prm.boolean(p, "squash")
        remove = prm.boolean(p, "remove_source_branch")
        description = prm.string(p, "description")
        target_project = prm.integer(p, "target_project_id")
        self._require(ctx, DEVELOPER)
        if target_project is not None and target_project != project.id:
            raise error(422, ["Validate fork Source project is not a fork of the target project"])
        if source == target:
            raise error(422, ["You can't use same project/branch for source and target"])
        if not title.strip():
            raise error(400, {"title": ["can't be blank"]})
        _check_lengths(title, description)
        if bare.resolve(project.repo, f"refs/heads/{source}") is None:
            raise error(422, [f'Source branch "{source}" does not exist'])
        if bare.resolve(project.repo, f"refs/heads/{target}") is None:
            raise error(422, [f'Target branch "{target}" does not exist'])
        for other in ctx.state.mrs_of(project.id):
            if (
                other.state == "opened"
                and other.source_branch == source
                and other.target_branch == target
            ):
                raise error(
                    409,
                    [
                        f"Another open merge request already exists for this source branch: "
                        f"!{other.iid}"
                    ],
                )
        stamp = now_iso()
        ids = assignees if assignees is not None else ([single] if single else [])
        mr = MergeRequest(
            id=ctx.state.next_id("merge_request"),
            iid=ctx.state.next_iid(project.id),
            project_id=project.id,
            title=title,
            description=description or "",
            source_branch=source,
            target_branch=target,
            author_id=ctx.user.id,
            created_at=stamp,
            updated_at=stamp,
            labels=labels,
            assignee_ids=self._user_ids(ctx, ids),
            reviewer_ids=self._user_ids(ctx, reviewers),
            squash=bool(squash),
            force_remove_source_branch=bool(remove),
        )
        self._add_labels(ctx, project, labels)
        ctx.state.merge_requests.append(mr)
        facts = gm.facts(ctx.state, project, mr)
        body = ent.mr_full(
            ctx.base,
            ctx.state,
            project.path,
            mr,
            facts,
            ctx.user,
            gm.can_merge(ctx.user, project, mr),
        )
        mr.unchecked = False
        return _json(201, body)

    def _update_mr(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        p = ctx.params
        prm.check_at_least_one(p, UPDATE_KEYS)
        self._require(ctx, DEVELOPER)
        before = _asdict(mr)
        title = prm.string(p, "title")
        if title is not None:
            if not title.strip():
                raise prm.grape_error("title is empty")
        description = prm.string(p, "description")
        _check_lengths(title, description)
        if title is not None:
            mr.title = title
        if description is not None:
            mr.description = description
        labels = prm.str_list(p, "labels")
        if labels is not None:
            mr.labels = labels
        for label in prm.str_list(p, "add_labels") or []:
            if label not in mr.labels:
                mr.labels.append(label)
        remove = prm.str_list(p, "remove_labels") or []
        mr.labels = [label for label in mr.labels if label not in remove]
        self._add_labels(ctx, project, mr.labels)
        assignees = prm.int_list(p, "assignee_ids")
        single = prm.integer(p, "assignee_id")
        if assignees is not None:
            mr.assignee_ids = self._user_ids(ctx, assignees)
        elif single is not None:
            mr.assignee_ids = self._user_ids(ctx, [single] if single else [])
        reviewers = prm.int_list(p, "reviewer_ids")
        if reviewers is not None:
            mr.reviewer_ids = self._user_ids(ctx, reviewers)
        squash = prm.boolean(p, "squash")
        if squash is not None:
            mr.squash = squash
        remove_branch = prm.boolean(p, "remove_source_branch")
        if remove_branch is not None:
            mr.force_remove_source_branch = remove_branch
        target = prm.string(p, "target_branch")
        if target is not None and target != mr.target_branch:
            if target == mr.source_branch:
                raise error(422, ["You can't use same project/branch for source and target"])
            if bare.resolve(project.repo, f"refs/heads/{target}") is None:
                raise error(422, [f'Target branch "{target}" does not exist'])
            mr.target_branch = target
        event = prm.string(p, "state_event")
        if event is not None and event not in ("close", "reopen"):
            raise prm.grape_error("state_event does not have a valid value")
        if event == "close" and mr.state == "opened":
            self._close(ctx, project, mr)
        elif event == "reopen" and mr.state == "closed":
            mr.state = "opened"
            mr.closed_at = mr.closed_by_id = mr.final_base_sha = None
        if _asdict(mr) != before:
            mr.updated_at = now_iso()
        gm.process_auto_merge(ctx.state, project, mr)
        return _json(200, self._render(ctx, project, mr))

    def _close(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> None:
        facts = gm.facts(ctx.state, project, mr)
        mr.final_sha = facts.head_sha or mr.final_sha
        mr.final_base_sha = facts.target_sha
        mr.state = "closed"
        mr.closed_at = now_iso()
        mr.closed_by_id = ctx.user.id
        mr.merge_when_pipeline_succeeds = False

    # ------------------------------------------------------------------ merging
    def _merge_mr(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        """PUT .../merge, in the order of GitLab's API::MergeRequests (401, 409 sha, 405/422)."""
        p = ctx.params
        if not gm.can_merge(ctx.user, project, mr):
            raise error(401, "401 Unauthorized")
        auto = bool(prm.boolean(p, "merge_when_pipeline_succeeds")) or bool(
            prm.boolean(p, "auto_merge")
        )
        facts = gm.facts(ctx.state, project, mr)
        sha = prm.string(p, "sha")
        if sha and mr.state == "opened" and sha != facts.head_sha:
            raise error(409, f"SHA does not match HEAD of source branch: {facts.head_sha}")
        if prm.boolean(p, "squash"):
            mr.squash = True
        options = gm.MergeOptions(
            prm.string(p, "merge_commit_message"),
            prm.string(p, "squash_commit_message"),
            prm.boolean(p, "should_remove_source_branch"),
        )
        if auto and mr.state == "opened" and gm.auto_merge_strategy(mr, facts):
            gm.enable_auto_merge(ctx.state, mr, ctx.user, options)  # waits for the checks
        elif auto and mr.state == "opened" and gm.pipeline_allows_merge(facts):
            gm.immediate_merge(ctx.state, project, mr, ctx.user, facts, options)
        elif not auto and gm.mergeable(mr, facts):
            gm.immediate_merge(ctx.state, project, mr, ctx.user, facts, options)
        else:
            raise error(405, "405 Method Not Allowed")
        return _json(200, self._render(ctx, project, mr))

    def _cancel_auto_merge(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        if not gm.can_merge(ctx.user, project, mr) and ctx.user.id != mr.merge_user_id:
            raise error(401, "401 Unauthorized")
        if mr.state != "opened":
            raise error(405, "405 Method Not Allowed")
        if not mr.merge_when_pipeline_succeeds:
            raise error(406, "406 Not Acceptable")
        mr.merge_when_pipeline_succeeds = False
        mr.merge_user_id = None
        mr.updated_at = now_iso()
        gm.system_note(ctx.state, mr, ctx.user, "canceled the automatic merge")
        return _json(201, {"status": "success"})

    # ------------------------------------------------------------------ pipelines
    def _post_status(self, ctx: _Ctx, project: Project, sha_ref: str) -> ApiResponse:
        self._require(ctx, DEVELOPER)
        status = prm.string(ctx.params, "state", required=True)
        allowed = ("pending", "running", "success", "failed", "canceled", "skipped")
        if status not in allowed:
            raise prm.grape_error("state does not have a valid value")
        sha = bare.resolve(project.repo, sha_ref)
        if sha is None:
            raise error(404, "404 Commit Not Found")
        ref = prm.string(ctx.params, "ref")
        pipeline = gm.set_pipeline(ctx.state, project, sha, status, ref)
        name = prm.string(ctx.params, "name") or prm.string(ctx.params, "context") or "default"
        return _json(
            201, ent.commit_status_entity(ctx.base, project.path, pipeline, name, ctx.user)
        )

    # ------------------------------------------------------------------ notes, commits
    def _list_notes(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        notes = sorted(mr.notes, key=lambda n: (n.created_at, n.id), reverse=True)
        link = f"{PREFIX}/projects/{project.encoded}/merge_requests/{mr.iid}/notes"
        chunk, headers = self._paginate(ctx, notes, link)
        return _json(200, [ent.note_entity(ctx.base, ctx.state, mr, n) for n in chunk], headers)

    def _create_note(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        body = prm.string(ctx.params, "body", required=True) or ""
        if not body.strip():
            raise error(400, {"note": ["can't be blank"]})
        self._require(ctx, GUEST)
        note = Note(ctx.state.next_id("note"), body, ctx.user.id, now_iso())
        mr.notes.append(note)
        return _json(201, ent.note_entity(ctx.base, ctx.state, mr, note))

    def _list_mr_commits(self, ctx: _Ctx, project: Project, mr: MergeRequest) -> ApiResponse:
        facts = gm.facts(ctx.state, project, mr)
        shas: list[str] = []
        if facts.head_sha and facts.merge_base:
            shas = list(
                reversed(bare.commits_between(project.repo, facts.merge_base, facts.head_sha))
            )
        link = f"{PREFIX}/projects/{project.encoded}/merge_requests/{mr.iid}/commits"
        chunk, headers = self._paginate(ctx, shas, link)
        body = [
            ent.commit_entity(ctx.base, project.path, bare.commit_info(project.repo, s))
            for s in chunk
        ]
        return _json(200, body, headers)


# ---------------------------------------------------------------------- helpers
def _asdict(mr: MergeRequest) -> dict[str, Any]:
    return dataclasses.asdict(mr)


def _check_lengths(title: str | None, description: str | None) -> None:
    """GitLab's model validations (400 with a field -> messages object)."""
    problems: dict[str, list[str]] = {}
    if title is not None and len(title) > TITLE_MAX:
        problems["title"] = [f"is too long (maximum is {TITLE_MAX} characters)"]
    if description is not None and len(description) > DESCRIPTION_MAX:
        problems["description"] = [f"is too long (maximum is {DESCRIPTION_MAX} characters)"]
    if problems:
        raise error(400, problems)


def _stats(repo: Path, info: bare.CommitInfo) -> dict[str, int]:
    parent = info.parents[0] if info.parents else None
    if parent is None:
        return {"additions": 0, "deletions": 0, "total": 0}
    stat = bare.diff_stat(repo, parent, info.sha)
    return {
        "additions": stat.additions,
        "deletions": stat.deletions,
        "total": stat.additions + stat.deletions,
    }
