"""The subset of the GitHub REST API (under ``/api/v3``) and GraphQL (``/api/graphql``) we use.

Served from bare repositories ``<root>/<owner>/<repo>.git`` in the GitHub
Enterprise layout PyGithub expects with ``base_url=<server>/api/v3``. Pull
request state lives in the ``github`` namespace of :class:`StateStore`; git
facts (head sha, mergeability, commits, merges) come from the repositories
through :mod:`promoter.sandbox.bare`, so a merge here is a real git commit.

Faithfulness notes (see ``shared/contracts/github``):
- error bodies are ``{"message", ["errors"], "documentation_url", "status"}``;
- ``POST /pulls`` answers 422 "A pull request already exists for owner:branch."
  and "No commits between base head" like github.com; ``mergeable`` is ``null``
  in the create response (GitHub computes it asynchronously) and computed with
  ``git merge-tree`` on later reads;
- ``PUT .../merge`` answers 409 when ``sha`` is not the head, 405 when the PR
  is closed, a draft or conflicts;
- every response carries ``x-ratelimit-*`` headers; lists carry ``Link``
  pagination honouring ``per_page`` / ``page``;
- GraphQL errors are HTTP 200 with ``errors[]``, like the real endpoint.

Where the real service behaves in ways a local server cannot (required checks,
merge queues), the sandbox's choice is documented on the handler: auto-merge
is recorded on the PR but never merges by itself, as if a required check were
pending forever.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from promoter.sandbox import bare
from promoter.sandbox import github_json as gj
from promoter.sandbox.state import StateStore
from promoter.sandbox.types import ApiRequest, ApiResponse

NS = "github"
DOC_PULLS = "https://docs.github.com/rest/pulls/pulls"
DOC_CREATE = f"{DOC_PULLS}#create-a-pull-request"
DOC_MERGE = f"{DOC_PULLS}#merge-a-pull-request"
JSON_TYPE = "application/json; charset=utf-8"
RATE_LIMIT = 5000
REPO_SETTINGS = {
    "allow_auto_merge": True,
    "allow_merge_commit": True,
    "allow_squash_merge": True,
    "allow_rebase_merge": True,
    "delete_branch_on_merge": False,
}


# --------------------------------------------------------------------------- recorder


@dataclass(frozen=True, slots=True)
class Recorded:
    operation: str  # OpenAPI operationId (or app/graphql pseudo ids outside the subset)
    method: str
    path: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


_recorders: list[list[Recorded]] = []
_recorders_lock = threading.Lock()


def start_recording() -> list[Recorded]:
    """Record every response the GitHub emulation produces (until :func:`stop_recording`)."""
    sink: list[Recorded] = []
    with _recorders_lock:
        _recorders.append(sink)
    return sink


def stop_recording(sink: list[Recorded]) -> None:
    with _recorders_lock:
        if sink in _recorders:
            _recorders.remove(sink)


def _record(item: Recorded) -> None:
    with _recorders_lock:
        for sink in _recorders:
            sink.append(item)


# --------------------------------------------------------------------------- plumbing


class HttpError(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or []


@dataclass(slots=True)
class Reply:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Ctx:
    req: ApiRequest
    base: str
    login: str | None  # authenticated user (None for app JWTs / anonymous)
    app_id: int | None  # set when authenticated with an app JWT
    doc: str

    def json(self) -> Any:
        if not self.req.body:
            return {}
        try:
            return json.loads(self.req.body)
        except ValueError:
            raise HttpError(400, gj.error(400, "Problems parsing JSON", self.doc)) from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; any other JSON is GitHub's 400 too."""
        data = self.json()
        if not isinstance(data, dict):
            raise HttpError(400, gj.error(400, "Problems parsing JSON", self.doc))
        return data


Handler = Callable[["GitHubApi", Ctx, "re.Match[str]"], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    doc: str
    handler: Handler
    app_jwt: bool = False  # authenticated as the app (JWT) rather than a user/installation


_ROUTES: list[Route] = []


def route(method: str, path: str, operation: str, doc: str = gj.DOCS, app_jwt: bool = False
          ) -> Callable[[Handler], Handler]:
    regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", path)
    regex = regex.replace("(?P<ref>[^/]+)", "(?P<ref>.+)")

    def deco(fn: Handler) -> Handler:
        _ROUTES.append(Route(method, re.compile(f"^{regex}$"), operation, doc, fn, app_jwt))
        return fn

    return deco


def _not_found(doc: str) -> HttpError:
    return HttpError(404, gj.error(404, "Not Found", doc))


def _validation(doc: str, errors: list[dict[str, Any]]) -> HttpError:
    return HttpError(422, gj.error(422, "Validation Failed", doc, errors))


@dataclass(slots=True)
class App:
    app_id: int
    public_key: Any  # cryptography public key
    installation_id: int
    slug: str


# --------------------------------------------------------------------------- the API


class GitHubApi:
    """Callable ``ApiHandler`` for ``/api/v3`` and ``/api/graphql``."""

    def __init__(
        self,
        root: Path,
        state: StateStore | None = None,
        tokens: Iterable[str] = (),
        users: dict[str, str] | None = None,
        default_login: str = "promoter-bot",
        rate_limit: int = RATE_LIMIT,
    ) -> None:
        self.root = Path(root)
        self.state = state or StateStore(self.root)
        self.tokens = set(tokens)
        self.users = dict(users or {})
        self.default_login = default_login
        self.rate_limit = rate_limit
        self.apps: dict[int, App] = {}
        self._rate: dict[str, list[int]] = {}  # identity -> [used, reset epoch]
        self._rate_lock = threading.Lock()

    # ----------------------------------------------------------------- configuration

    def register_app(
        self, app_id: int, public_key_pem: str | bytes, installation_id: int | None = None,
        slug: str = "promoter",
    ) -> int:
        """Accept RS256 JWTs signed by this app's private key; returns its installation id."""
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        inst = installation_id or 40_000_000 + app_id
        self.apps[app_id] = App(app_id, load_pem_public_key(pem), inst, slug)
        return inst

    def installation_token_valid(self, token: str) -> bool:
        issued = self.state.read(NS).get("installation_tokens", {}).get(token)
        return bool(issued) and float(issued["expires"]) > time.time()

    def set_repo_settings(self, full_name: str, **settings: bool) -> None:
        """Repository merge settings, e.g. ``allow_auto_merge=False``, ``allow_squash_merge=False``.

        Known keys: allow_auto_merge, allow_merge_commit, allow_squash_merge,
        allow_rebase_merge, delete_branch_on_merge (GitHub's defaults: all True but the last).
        """
        unknown = set(settings) - set(REPO_SETTINGS)
        if unknown:
            raise ValueError(f"unknown repository settings {sorted(unknown)}; known: "
                             f"{', '.join(REPO_SETTINGS)}")
        owner, repo = full_name.split("/", 1)
        self.repo_info(owner, repo, gj.DOCS)
        with self.state.transaction(NS) as st:
            st["repos"][full_name].setdefault("settings", {}).update(settings)

    def settings(self, owner: str, repo: str) -> dict[str, bool]:
        info = self.state.read(NS).get("repos", {}).get(f"{owner}/{repo}", {})
        return {**REPO_SETTINGS, **info.get("settings", {})}

    # ----------------------------------------------------------------- dispatch

    def __call__(self, req: ApiRequest) -> ApiResponse | None:
        if req.path == "/api/graphql" or req.path.startswith("/api/graphql/"):
            path, graphql = "/graphql", True
        elif req.path == "/api/v3" or req.path.startswith("/api/v3/"):
            path, graphql = req.path[len("/api/v3"):] or "/", False
        else:
            return None
        base = req.base_url.rstrip("/")
        operation, doc = "graphql", "https://docs.github.com/graphql"
        identity = req.token or "anonymous"
        try:
            path = self._alias_repositories(path)
            match: re.Match[str] | None = None
            chosen: Route | None = None
            if not graphql:
                for r in _ROUTES:
                    m = r.pattern.match(path)
                    if m and r.method == req.method:
                        chosen, match = r, m
                        break
                if chosen is None:
                    raise _not_found(gj.DOCS)
                operation, doc = chosen.operation, chosen.doc
            login, app_id = self._authenticate(req, chosen.app_jwt if chosen else False, doc)
            identity = login or (f"app:{app_id}" if app_id else "anonymous")
            self._check_rate(("graphql:" if graphql else "") + identity, operation)
            ctx = Ctx(req, base, login, app_id, doc)
            # Writes run one at a time (read-modify-write of the JSON state and git refs);
            # reads run concurrently.
            with self.state.locked() if req.method != "GET" else contextlib.nullcontext():
                if graphql:
                    reply = self._graphql(ctx)
                else:
                    assert chosen is not None and match is not None
                    reply = chosen.handler(self, ctx, match)
        except HttpError as exc:
            reply = Reply(exc.status, exc.body, exc.headers)
        return self._finish(req, operation, reply, identity, graphql)

    def _alias_repositories(self, path: str) -> str:
        # Link headers on github.com point at /repositories/{id}/...; serve those too.
        m = re.match(r"^/repositories/(\d+)(/.*)?$", path)
        if not m:
            return path
        repos = self.state.read(NS).get("repos", {})
        for full, info in repos.items():
            if str(info.get("id")) == m.group(1):
                return f"/repos/{full}{m.group(2) or ''}"
        return path

    def _authenticate(
        self, req: ApiRequest, app_route: bool, doc: str
    ) -> tuple[str | None, int | None]:
        token = req.token
        if app_route:
            if token is None or token.count(".") != 2:
                raise HttpError(401, gj.error(
                    401, "A JSON web token could not be decoded", gj.DOCS))
            return None, self._verify_jwt(token)
        if token is None:
            if self.tokens or self.apps:
                raise HttpError(401, gj.error(401, "Requires authentication", doc))
            return self.default_login, None
        if token in self.tokens or (not self.tokens and not self.apps):
            return self.users.get(token, self.default_login), None
        if self.installation_token_valid(token):
            slug = self.state.read(NS)["installation_tokens"][token]["slug"]
            return f"{slug}[bot]", None
        raise HttpError(401, gj.error(401, "Bad credentials", gj.DOCS))

    def _verify_jwt(self, token: str) -> int:
        import jwt

        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app = self.apps.get(int(claims.get("iss", 0)))
            if app is None:
                raise jwt.InvalidTokenError("unknown app id")
            jwt.decode(token, key=app.public_key, algorithms=["RS256"], leeway=60,
                       options={"require": ["iat", "exp", "iss"]})
            if int(claims["exp"]) - int(claims["iat"]) > 660:
                raise jwt.InvalidTokenError("exp too far in the future")
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise HttpError(401, gj.error(
                401, f"A JSON web token could not be decoded ({exc})", gj.DOCS)) from None
        return app.app_id

    def _check_rate(self, identity: str, operation: str) -> None:
        """Primary rate limit: past ``rate_limit`` calls per hour, GitHub's 403."""
        used, reset = self.rate_snapshot(identity)
        if operation != "rate-limit/get" and used >= self.rate_limit and reset > time.time():
            raise HttpError(403, gj.error(
                403, f"API rate limit exceeded for user ID {gj.user_id(identity)}.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"))

    def _rate_headers(self, identity: str, count: bool) -> list[tuple[str, str]]:
        now = int(time.time())
        with self._rate_lock:
            used, reset = self._rate.get(identity, [0, now + 3600])
            if reset <= now:
                used, reset = 0, now + 3600
            if count:
                used += 1
            self._rate[identity] = [used, reset]
        return [
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Remaining", str(max(0, self.rate_limit - used))),
            ("X-RateLimit-Reset", str(reset)),
            ("X-RateLimit-Used", str(used)),
            ("X-RateLimit-Resource", "graphql" if identity.startswith("graphql") else "core"),
        ]

    def rate_snapshot(self, identity: str) -> tuple[int, int]:
        with self._rate_lock:
            used, reset = self._rate.get(identity, [0, int(time.time()) + 3600])
        return used, reset

    def _finish(self, req: ApiRequest, operation: str, reply: Reply, identity: str,
                graphql: bool) -> ApiResponse:
        headers: list[tuple[str, str]] = []
        body = b""
        if reply.body is not None:
            body = json.dumps(reply.body, separators=(",", ":")).encode()
            headers.append(("Content-Type", JSON_TYPE))
        headers += [
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("x-github-api-version-selected", "2022-11-28"),
            ("X-GitHub-Request-Id", secrets.token_hex(8).upper()),
        ]
        headers += self._rate_headers(("graphql:" if graphql else "") + identity,
                                      count=operation != "rate-limit/get")
        headers += reply.headers
        resp = ApiResponse(status=reply.status, body=body, headers=headers)
        _record(Recorded(operation, req.method, req.path, reply.status, body, tuple(headers)))
        return resp

    # ----------------------------------------------------------------- repo helpers

    def repo_path(self, owner: str, repo: str) -> Path:
        if "/" in owner or "/" in repo or owner.startswith(".") or repo.startswith("."):
            raise _not_found(gj.DOCS)
        return self.root / owner / f"{repo}.git"

    def repo_info(self, owner: str, repo: str, doc: str) -> tuple[Path, dict[str, Any]]:
        path = self.repo_path(owner, repo)
        if not (path / "HEAD").is_file():
            raise _not_found(doc)
        full = f"{owner}/{repo}"
        info = self.state.read(NS).get("repos", {}).get(full)
        if info is None:
            with self.state.transaction(NS) as st:
                repos = st.setdefault("repos", {})
                if full not in repos:
                    st["next_repo_id"] = st.get("next_repo_id", 700_000) + 1
                    repos[full] = {"id": st["next_repo_id"]}
                info = repos[full]
        return path, info

    def repo_json(self, base: str, owner: str, repo: str, full: bool) -> dict[str, Any]:
        path, info = self.repo_info(owner, repo, gj.DOCS)
        try:
            mtime = max(p.stat().st_mtime for p in (path / "refs", path / "packed-refs")
                        if p.exists())
            pushed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
        except ValueError:
            pushed = gj.EPOCH_CREATED
        out = gj.repository(base, owner, repo, info["id"], bare.default_branch(path), pushed,
                            full)
        if full:
            out.update(self.settings(owner, repo))
        return out

    # ----------------------------------------------------------------- PR representation

    def _pull_json(self, ctx: Ctx, owner: str, repo: str, pr: dict[str, Any], simple: bool,
                   mergeable_known: bool = True) -> dict[str, Any]:
        base = ctx.base
        path = self.repo_path(owner, repo)
        n = pr["number"]
        r = f"{gj.api(base)}/repos/{owner}/{repo}"
        head_sha = pr["head_sha"]
        base_sha = pr.get("base_sha") or ""
        if pr["state"] == "open":
            head_sha = bare.resolve(path, pr["head"]) or head_sha
            base_sha = bare.resolve(path, pr["base"]) or base_sha
        repo_obj = self.repo_json(base, owner, repo, full=False)
        labels_db = self.state.read(NS).get("labels", {}).get(f"{owner}/{repo}", {})
        # PR-embedded labels: the description is a string there (OpenAPI pull-request-simple)
        labels = [{**gj.label(base, owner, repo, labels_db[name]),
                   "description": labels_db[name].get("description") or ""}
                  for name in pr["labels"] if name in labels_db]
        assignees = [gj.simple_user(base, a) for a in pr["assignees"]]
        auto = pr.get("auto_merge")
        out: dict[str, Any] = {
            "url": f"{r}/pulls/{n}",
            "id": pr["id"],
            "node_id": gj.node_id("PullRequest", pr["id"]),
            "html_url": f"{base}/{owner}/{repo}/pull/{n}",
            "diff_url": f"{base}/{owner}/{repo}/pull/{n}.diff",
            "patch_url": f"{base}/{owner}/{repo}/pull/{n}.patch",
            "issue_url": f"{r}/issues/{n}",
            "number": n,
            "state": pr["state"],
            "locked": False,
            "title": pr["title"],
            "user": gj.simple_user(base, pr["user"]),
            "body": pr["body"],
            "created_at": pr["created_at"],
            "updated_at": pr["updated_at"],
            "closed_at": pr.get("closed_at"),
            "merged_at": pr.get("merged_at"),
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "requested_reviewers": [gj.simple_user(base, u) for u in pr["reviewers"]],
            "requested_teams": [],
            "labels": labels,
            "milestone": None,
            "draft": pr["draft"],
            "commits_url": f"{r}/pulls/{n}/commits",
            "review_comments_url": f"{r}/pulls/{n}/comments",
            "review_comment_url": f"{r}/pulls/comments{{/number}}",
            "comments_url": f"{r}/issues/{n}/comments",
            "statuses_url": f"{r}/statuses/{head_sha}",
            "head": {
                "label": f"{owner}:{pr['head']}", "ref": pr["head"], "sha": head_sha,
                "user": gj.simple_user(base, owner), "repo": repo_obj,
            },
            "base": {
                "label": f"{owner}:{pr['base']}", "ref": pr["base"], "sha": base_sha,
                "user": gj.simple_user(base, owner), "repo": repo_obj,
            },
            "_links": {
                "self": {"href": f"{r}/pulls/{n}"},
                "html": {"href": f"{base}/{owner}/{repo}/pull/{n}"},
                "issue": {"href": f"{r}/issues/{n}"},
                "comments": {"href": f"{r}/issues/{n}/comments"},
                "review_comments": {"href": f"{r}/pulls/{n}/comments"},
                "review_comment": {"href": f"{r}/pulls/comments{{/number}}"},
                "commits": {"href": f"{r}/pulls/{n}/commits"},
                "statuses": {"href": f"{r}/statuses/{head_sha}"},
            },
            "author_association": "OWNER",
            "auto_merge": None if auto is None else {
                "enabled_by": gj.simple_user(base, auto["enabled_by"]),
                "merge_method": auto["merge_method"],
                "commit_title": auto.get("commit_title") or "",
                "commit_message": auto.get("commit_message") or "",
            },
            "active_lock_reason": None,
        }
        if simple:
            return out
        merged = pr.get("merged_at") is not None
        mergeable: bool | None = None
        state = "unknown"
        commits: list[str] = []
        stat = bare.DiffStat((), 0, 0)
        if head_sha and base_sha:
            commits = bare.commits_between(path, base_sha, head_sha) if not merged else []
            stat = bare.diff_stat(path, base_sha, head_sha) if not merged else stat
        if pr["state"] == "open" and mergeable_known and head_sha and base_sha:
            mergeable = bare.merge_check(path, base_sha, head_sha).clean
            if not mergeable:
                state = "dirty"
            elif pr["draft"]:
                state = "draft"
            elif not bare.is_ancestor(path, base_sha, head_sha):
                state = "behind"
            else:
                state = "clean"
        elif merged:
            commits = pr.get("merged_commits", [])
        out.update(
            {
                "merged": merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": state,
                "merged_by": gj.simple_user(base, pr["merged_by"]) if pr.get("merged_by")
                else None,
                "comments": pr.get("comments", 0),
                "review_comments": 0,
                "maintainer_can_modify": pr.get("maintainer_can_modify", False),
                "commits": len(commits) if not merged else pr.get("commit_count", 0),
                "additions": stat.additions if not merged else pr.get("additions", 0),
                "deletions": stat.deletions if not merged else pr.get("deletions", 0),
                "changed_files": len(stat.files) if not merged else pr.get("changed_files", 0),
            }
        )
        return out

    def pulls(self, owner: str, repo: str) -> dict[str, dict[str, Any]]:
        """The stored pull requests of a repository by number (a snapshot)."""
        pulls: dict[str, dict[str, Any]] = (
            self.state.read(NS).get("pulls", {}).get(f"{owner}/{repo}", {}))
        return pulls

    def _get_pr(self, owner: str, repo: str, number: str, doc: str) -> dict[str, Any]:
        self.repo_info(owner, repo, doc)
        pr = self.pulls(owner, repo).get(str(number))
        if pr is None:
            raise _not_found(doc)
        return dict(pr)

    def _save_pr(self, owner: str, repo: str, pr: dict[str, Any]) -> None:
        with self.state.transaction(NS) as st:
            st.setdefault("pulls", {}).setdefault(f"{owner}/{repo}", {})[str(pr["number"])] = pr

    def _find_pr_by_node(self, node: str) -> tuple[str, str, dict[str, Any]] | None:
        for full, pulls in self.state.read(NS).get("pulls", {}).items():
            for pr in pulls.values():
                if gj.node_id("PullRequest", pr["id"]) == node:
                    owner, repo = full.split("/", 1)
                    return owner, repo, pr
        return None

    # ----------------------------------------------------------------- pagination

    def paginate(self, ctx: Ctx, items: list[Any]) -> Reply:
        q = ctx.req.query
        try:
            per_page = max(1, min(100, int(q.get("per_page", ["30"])[0])))
            page = max(1, int(q.get("page", ["1"])[0]))
        except ValueError:
            per_page, page = 30, 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        # github.com's links address the repository by id: /repositories/{id}/...
        path = ctx.req.path
        m = re.match(r"^/api/v3/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if m:
            info = self.state.read(NS).get("repos", {}).get(f"{m.group(1)}/{m.group(2)}")
            if info:
                path = f"/api/v3/repositories/{info['id']}{m.group(3) or ''}"

        def link(p: int, rel: str) -> str:
            params = {k: v[0] for k, v in q.items() if k != "page"}
            params["page"] = str(p)
            return f'<{ctx.base}{path}?{urlencode(params)}>; rel="{rel}"'

        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        headers = [("Link", ", ".join(links))] if links else []
        return Reply(200, chunk, headers)

    # ----------------------------------------------------------------- GraphQL

    def _graphql(self, ctx: Ctx) -> Reply:
        if ctx.req.method != "POST":
            raise _not_found("https://docs.github.com/graphql")
        payload = ctx.json_object()
        query = str(payload.get("query", ""))
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return Reply(200, {"errors": [{"message": "Variables are invalid JSON."}]})
        m = re.search(r"\{\s*(\w+)\s*\(\s*input\s*:\s*\$(\w+)\s*\)\s*\{", query)
        if not m:
            return Reply(200, {"errors": [{"message": "The sandbox only implements the "
                                           "pull-request mutations (enable/disable auto-merge, "
                                           "draft/ready) with an $input variable",
                                           "locations": [{"line": 1, "column": 1}]}]})
        name, var = m.group(1), m.group(2)
        loc = _location(query, m.start(1))
        selection = _parse_selection(query[m.end() - 1:])
        inp = variables.get(var) or {}
        if not isinstance(inp, dict):
            return Reply(200, {"errors": [{
                "message": f"Variable ${var} of type {name[0].upper()}{name[1:]}Input! was "
                           "provided invalid value", "locations": [loc]}]})
        found = self._find_pr_by_node(str(inp.get("pullRequestId", "")))
        if found is None:
            return Reply(200, {"data": {name: None}, "errors": [{
                "type": "NOT_FOUND", "path": [name], "locations": [loc],
                "message": f"Could not resolve to a node with the global id of "
                           f"'{inp.get('pullRequestId')}'"}]})
        owner, repo, pr = found
        err = self._apply_mutation(ctx, name, inp, owner, repo, pr)
        if err:
            return Reply(200, {"data": {name: None}, "errors": [{
                "type": "UNPROCESSABLE", "path": [name], "locations": [loc],
                "message": err}]})
        pr = self._get_pr(owner, repo, pr["number"], gj.DOCS)
        auto = pr.get("auto_merge")
        viewer = ctx.login or "ghost"
        full = {
            # github.com answered null even when one was sent (replay testEnableAutomerge)
            "clientMutationId": None,
            "actor": {"avatarUrl": f"{ctx.base}/avatars/u/{gj.user_id(viewer)}?v=4",
                      "login": viewer, "resourcePath": f"/{viewer}",
                      "url": f"{ctx.base}/{viewer}"},
            "pullRequest": {
                "id": gj.node_id("PullRequest", pr["id"]), "number": pr["number"],
                "isDraft": pr["draft"], "state": pr["state"].upper(),
                "headRefOid": pr["head_sha"],
                "autoMergeRequest": None if auto is None else {
                    "mergeMethod": auto["merge_method"].upper(),
                    "enabledAt": auto["enabled_at"], "commitHeadline": auto.get("commit_title"),
                    "commitBody": auto.get("commit_message"),
                    "authorEmail": auto.get("author_email"),
                },
            },
        }
        return Reply(200, {"data": {name: _project(full, selection)}})

    def _apply_mutation(self, ctx: Ctx, name: str, inp: dict[str, Any], owner: str, repo: str,
                        pr: dict[str, Any]) -> str | None:
        if name == "enablePullRequestAutoMerge":
            method = str(inp.get("mergeMethod") or "MERGE").lower()
            if method not in ("merge", "squash", "rebase"):
                return f"Argument 'mergeMethod' has an invalid value ({inp.get('mergeMethod')})."
            if not self.settings(owner, repo)["allow_auto_merge"]:
                return "Pull request Auto merge is not allowed for this repository"
            if pr["state"] != "open":
                return "Pull request is closed"
            expected = inp.get("expectedHeadOid")
            head = bare.resolve(self.repo_path(owner, repo), pr["head"]) or pr["head_sha"]
            if expected and expected != head:
                return "Head sha didn't match expected head sha"
            pr["auto_merge"] = {
                "enabled_by": ctx.login or "ghost", "merge_method": method,
                "commit_title": inp.get("commitHeadline"), "commit_message": inp.get("commitBody"),
                "author_email": inp.get("authorEmail"), "enabled_at": gj.now_iso(),
            }
        elif name == "disablePullRequestAutoMerge":
            pr["auto_merge"] = None
        elif name in ("convertPullRequestToDraft", "markPullRequestReadyForReview"):
            if pr["state"] != "open":
                return "Pull request is closed"
            pr["draft"] = name == "convertPullRequestToDraft"
        else:
            return f"Field '{name}' doesn't exist on type 'Mutation' in the sandbox"
        pr["updated_at"] = gj.now_iso()
        self._save_pr(owner, repo, pr)
        return None


# --------------------------------------------------------------------------- GraphQL helpers


def _location(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return {"line": line, "column": column}


def _parse_selection(text: str) -> dict[str, Any]:
    """Nested field names of a GraphQL selection set starting at ``{`` (no fragments)."""
    tokens = re.findall(r"[A-Za-z_]\w*|[{}()]|\"(?:\\.|[^\"])*\"", text)
    pos = 0

    def block() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        pos += 1  # skip "{"
        last: str | None = None
        while pos < len(tokens):
            tok = tokens[pos]
            if tok == "}":
                pos += 1
                return out
            if tok == "(":
                depth = 0
                while pos < len(tokens):
                    depth += tokens[pos] == "("
                    depth -= tokens[pos] == ")"
                    pos += 1
                    if depth == 0:
                        break
                continue
            if tok == "{" and last is not None:
                out[last] = block()
                continue
            out[tok] = None
            last = tok
            pos += 1
        return out

    return block() if tokens and tokens[0] == "{" else {}


def _project(value: Any, selection: dict[str, Any] | None) -> Any:
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_project(v, selection) for v in value]
    if isinstance(value, dict):
        return {k: _project(value.get(k), sub) for k, sub in selection.items()}
    return value


# --------------------------------------------------------------------------- REST handlers


def _q(ctx: Ctx, name: str, default: str | None = None) -> str | None:
    vals = ctx.req.query.get(name)
    return vals[0] if vals else default


@route("GET", "/", "meta/root")
def _root(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    a = gj.api(ctx.base)
    return Reply(200, {
        "current_user_url": f"{a}/user",
        "current_user_authorizations_html_url": f"{ctx.base}/settings/connections/applications"
                                                "{/client_id}",
        "authorizations_url": f"{a}/authorizations", "code_search_url": f"{a}/search/code",
        "commit_search_url": f"{a}/search/commits", "emails_url": f"{a}/user/emails",
        "emojis_url": f"{a}/emojis", "events_url": f"{a}/events", "feeds_url": f"{a}/feeds",
        "followers_url": f"{a}/user/followers", "following_url": f"{a}/user/following{{/target}}",
        "gists_url": f"{a}/gists{{/gist_id}}", "hub_url": f"{a}/hub",
        "issue_search_url": f"{a}/search/issues", "issues_url": f"{a}/issues",
        "keys_url": f"{a}/user/keys", "label_search_url": f"{a}/search/labels",
        "notifications_url": f"{a}/notifications",
        "organization_url": f"{a}/orgs/{{org}}", "organization_repositories_url":
            f"{a}/orgs/{{org}}/repos{{?type,page,per_page,sort}}",
        "organization_teams_url": f"{a}/orgs/{{org}}/teams",
        "public_gists_url": f"{a}/gists/public", "rate_limit_url": f"{a}/rate_limit",
        "repository_url": f"{a}/repos/{{owner}}/{{repo}}",
        "repository_search_url": f"{a}/search/repositories",
        "current_user_repositories_url": f"{a}/user/repos{{?type,page,per_page,sort}}",
        "starred_url": f"{a}/user/starred{{/owner}}{{/repo}}", "starred_gists_url":
            f"{a}/gists/starred", "user_url": f"{a}/users/{{user}}",
        "user_organizations_url": f"{a}/user/orgs",
        "user_repositories_url": f"{a}/users/{{user}}/repos{{?type,page,per_page,sort}}",
        "user_search_url": f"{a}/search/users",
    })


@route("GET", "/user", "users/get-authenticated",
       "https://docs.github.com/rest/users/users#get-the-authenticated-user")
def _user(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    if ctx.login is None or ctx.login.endswith("[bot]"):
        raise HttpError(403, gj.error(403, "Resource not accessible by integration", ctx.doc))
    return Reply(200, gj.private_user(ctx.base, ctx.login))


@route("GET", "/rate_limit", "rate-limit/get",
       "https://docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user")
def _rate_limit(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    used, reset = api.rate_snapshot(ctx.login or "anonymous")
    limit = api.rate_limit
    core = {"limit": limit, "used": used, "remaining": max(0, limit - used), "reset": reset}
    gused, greset = api.rate_snapshot("graphql:" + (ctx.login or "anonymous"))
    graphql = {"limit": limit, "used": gused, "remaining": max(0, limit - gused),
               "reset": greset}
    search = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
    return Reply(200, {"resources": {"core": core, "search": search, "graphql": graphql},
                       "rate": core})


@route("GET", "/repos/{owner}/{repo}", "repos/get",
       "https://docs.github.com/rest/repos/repos#get-a-repository")
def _get_repo(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    api.repo_info(m["owner"], m["repo"], ctx.doc)
    return Reply(200, api.repo_json(ctx.base, m["owner"], m["repo"], full=True))


@route("GET", "/repos/{owner}/{repo}/branches/{branch}", "repos/get-branch",
       "https://docs.github.com/rest/branches/branches#get-a-branch")
def _get_branch(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    path, _ = api.repo_info(m["owner"], m["repo"], ctx.doc)
    sha = bare.resolve(path, f"refs/heads/{m['branch']}")
    if sha is None:
        raise HttpError(404, gj.error(404, "Branch not found", ctx.doc))
    r = f"{gj.api(ctx.base)}/repos/{m['owner']}/{m['repo']}"
    return Reply(200, {
        "name": m["branch"], "commit": _commit_json(ctx, m["owner"], m["repo"], path, sha),
        "_links": {"self": f"{r}/branches/{m['branch']}",
                   "html": f"{ctx.base}/{m['owner']}/{m['repo']}/tree/{m['branch']}"},
        "protected": False,
        "protection": {"enabled": False, "required_status_checks": {
            "enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": f"{r}/branches/{m['branch']}/protection",
    })


def _refuse_duplicate(ctx: Ctx, pulls: Iterable[dict[str, Any]], owner: str, head: str,
                      base: str) -> None:
    """GitHub's 422 when an open pull request already joins ``head`` to ``base``."""
    if any(p["state"] == "open" and p["head"] == head and p["base"] == base for p in pulls):
        raise _validation(ctx.doc, [{
            "resource": "PullRequest", "code": "custom",
            "message": f"A pull request already exists for {owner}:{head}."}])


def _commit_json(ctx: Ctx, owner: str, repo: str, path: Path, sha: str) -> dict[str, Any]:
    """A commit as the branch and pull-request-commits endpoints show it."""
    r = f"{gj.api(ctx.base)}/repos/{owner}/{repo}"
    html = f"{ctx.base}/{owner}/{repo}/commit"
    info = bare.commit_info(path, sha)
    return {
        "sha": sha, "node_id": gj.node_id("Commit", sha[:12]), "url": f"{r}/commits/{sha}",
        "html_url": f"{html}/{sha}", "comments_url": f"{r}/commits/{sha}/comments",
        "commit": {
            "url": f"{r}/git/commits/{sha}",
            "author": {"name": info.author_name, "email": info.author_email,
                       "date": info.author_date},
            "committer": {"name": info.committer_name, "email": info.committer_email,
                          "date": info.committer_date},
            "message": info.message.rstrip("\n"), "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{r}/git/trees/{info.tree}"},
        },
        "author": None, "committer": None,
        "parents": [{"sha": p, "url": f"{r}/commits/{p}", "html_url": f"{html}/{p}"}
                    for p in info.parents],
    }


def _split_head(api: GitHubApi, owner: str, head: str) -> tuple[str, str]:
    if ":" in head:
        head_owner, branch = head.split(":", 1)
        return head_owner, branch
    return owner, head


@route("GET", "/repos/{owner}/{repo}/pulls", "pulls/list",
       "https://docs.github.com/rest/pulls/pulls#list-pull-requests")
def _list_pulls(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    api.repo_info(owner, repo, ctx.doc)
    state = _q(ctx, "state", "open")
    if state not in ("open", "closed", "all"):
        raise _validation(ctx.doc, [{"resource": "Issue", "field": "state", "code": "invalid"}])
    pulls = list(api.pulls(owner, repo).values())
    if state != "all":
        pulls = [p for p in pulls if p["state"] == state]
    head = _q(ctx, "head")
    if head:
        head_owner, branch = _split_head(api, owner, head)
        # github.com ignores a head filter without "owner:"; it then lists everything.
        if ":" in head:
            pulls = [p for p in pulls if head_owner == owner and p["head"] == branch]
    base_f = _q(ctx, "base")
    if base_f:
        pulls = [p for p in pulls if p["base"] == base_f]
    sort = _q(ctx, "sort", "created")
    key = {"created": "created_at", "updated": "updated_at"}.get(sort or "created", "created_at")
    direction = _q(ctx, "direction", "desc" if sort == "created" else "asc")
    pulls.sort(key=lambda p: (p[key], p["number"]), reverse=direction == "desc")
    reply = api.paginate(ctx, pulls)
    reply.body = [api._pull_json(ctx, owner, repo, p, simple=True) for p in reply.body]
    return reply


@route("POST", "/repos/{owner}/{repo}/pulls", "pulls/create", DOC_CREATE)
def _create_pull(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    path, _ = api.repo_info(owner, repo, ctx.doc)
    data = ctx.json_object()
    missing = [f for f in ("head", "base") if not data.get(f)]
    if not data.get("title") and not data.get("issue"):
        missing.insert(0, "title")
    if missing:
        raise _validation(ctx.doc, [{"resource": "PullRequest", "field": f,
                                     "code": "missing_field"} for f in missing])
    head_owner, head = _split_head(api, owner, str(data["head"]))
    base_branch = str(data["base"])
    errors = []
    head_sha = bare.resolve(path, f"refs/heads/{head}") if head_owner == owner else None
    base_sha = bare.resolve(path, f"refs/heads/{base_branch}")
    if head_sha is None:
        errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
    if base_sha is None:
        errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
    if errors:
        raise _validation(ctx.doc, errors)
    assert head_sha is not None and base_sha is not None
    with api.state.transaction(NS) as st:
        pulls = st.setdefault("pulls", {}).setdefault(f"{owner}/{repo}", {})
        _refuse_duplicate(ctx, pulls.values(), owner, head, base_branch)
        if not bare.commits_between(path, base_sha, head_sha):
            raise _validation(ctx.doc, [{
                "resource": "PullRequest", "code": "custom",
                "message": f"No commits between {base_branch} {head}"}])
        numbers = st.setdefault("next_number", {})
        number = numbers.get(f"{owner}/{repo}", 0) + 1
        numbers[f"{owner}/{repo}"] = number
        st["next_pr_id"] = st.get("next_pr_id", 1_000_000) + 1
        stamp = gj.now_iso()
        pr = {
            "number": number, "id": st["next_pr_id"], "title": str(data.get("title") or ""),
            "body": data.get("body"), "state": "open", "draft": bool(data.get("draft", False)),
            "head": head, "base": base_branch, "head_sha": head_sha, "base_sha": base_sha,
            "user": ctx.login or "ghost", "created_at": stamp, "updated_at": stamp,
            "closed_at": None, "merged_at": None, "merge_commit_sha": None, "merged_by": None,
            "labels": [], "assignees": [], "reviewers": [], "auto_merge": None, "comments": 0,
            "maintainer_can_modify": bool(data.get("maintainer_can_modify", False)),
        }
        pulls[str(number)] = pr
    body = api._pull_json(ctx, owner, repo, pr, simple=False, mergeable_known=False)
    return Reply(201, body, [("Location", body["url"])])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}", "pulls/get",
       f"{DOC_PULLS}#get-a-pull-request")
def _get_pull(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    pr = api._get_pr(m["owner"], m["repo"], m["number"], ctx.doc)
    return Reply(200, api._pull_json(ctx, m["owner"], m["repo"], pr, simple=False))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{number}", "pulls/update",
       f"{DOC_PULLS}#update-a-pull-request")
def _update_pull(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    path = api.repo_path(owner, repo)
    pr = api._get_pr(owner, repo, m["number"], ctx.doc)
    data = ctx.json_object()
    if "title" in data:
        pr["title"] = str(data["title"])
    if "body" in data:
        pr["body"] = data["body"]
    if "maintainer_can_modify" in data:
        pr["maintainer_can_modify"] = bool(data["maintainer_can_modify"])
    if "base" in data:
        if bare.resolve(path, f"refs/heads/{data['base']}") is None:
            raise _validation(ctx.doc, [{"resource": "PullRequest", "field": "base",
                                         "code": "invalid"}])
        pr["base"] = str(data["base"])
    if "state" in data:
        new = data["state"]
        if new not in ("open", "closed"):
            raise _validation(ctx.doc, [{"resource": "PullRequest", "field": "state",
                                         "code": "invalid"}])
        if new == "closed" and pr["state"] == "open":
            pr["head_sha"] = bare.resolve(path, pr["head"]) or pr["head_sha"]
            pr["base_sha"] = bare.resolve(path, pr["base"]) or pr["base_sha"]
            pr["state"], pr["closed_at"], pr["auto_merge"] = "closed", gj.now_iso(), None
        elif new == "open" and pr["state"] == "closed":
            if pr.get("merged_at"):
                raise _validation(ctx.doc, [{"resource": "PullRequest", "code": "custom",
                                             "message": "Cannot reopen a merged pull request"}])
            head_sha = bare.resolve(path, pr["head"])
            if head_sha is None:
                raise _validation(ctx.doc, [{"resource": "PullRequest", "code": "custom",
                                             "message": "state cannot be changed. The "
                                             f"{pr['head']} branch has been deleted."}])
            _refuse_duplicate(ctx, api.pulls(owner, repo).values(), owner, pr["head"], pr["base"])
            pr["state"], pr["closed_at"], pr["head_sha"] = "open", None, head_sha
    pr["updated_at"] = gj.now_iso()
    api._save_pr(owner, repo, pr)
    return Reply(200, api._pull_json(ctx, owner, repo, pr, simple=False))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits", "pulls/list-commits",
       f"{DOC_PULLS}#list-commits-on-a-pull-request")
def _pull_commits(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    path = api.repo_path(owner, repo)
    pr = api._get_pr(owner, repo, m["number"], ctx.doc)
    head = bare.resolve(path, pr["head"]) if pr["state"] == "open" else pr["head_sha"]
    base = bare.resolve(path, pr["base"]) if pr["state"] == "open" else pr["base_sha"]
    shas = bare.commits_between(path, base or "", head or "") if head and base else []
    if pr.get("merged_at"):
        shas = pr.get("merged_commits", [])
    return api.paginate(ctx, [_commit_json(ctx, owner, repo, path, sha) for sha in shas])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/merge", "pulls/check-if-merged",
       f"{DOC_PULLS}#check-if-a-pull-request-has-been-merged")
def _is_merged(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    pr = api._get_pr(m["owner"], m["repo"], m["number"], ctx.doc)
    if pr.get("merged_at"):
        return Reply(204)
    raise _not_found(ctx.doc)


@route("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge", "pulls/merge", DOC_MERGE)
def _merge(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    path = api.repo_path(owner, repo)
    data = ctx.json_object()
    method = str(data.get("merge_method") or "merge")
    if method not in ("merge", "squash", "rebase"):
        raise _validation(ctx.doc, [{"resource": "PullRequest", "field": "merge_method",
                                     "code": "invalid"}])
    with api.state.locked():
        pr = api._get_pr(owner, repo, m["number"], ctx.doc)
        if pr["state"] != "open":
            raise HttpError(405, gj.error(405, "Pull Request is not mergeable", ctx.doc))
        head_sha = bare.resolve(path, pr["head"])
        base_sha = bare.resolve(path, pr["base"])
        if head_sha is None or base_sha is None:
            raise HttpError(405, gj.error(405, "Pull Request is not mergeable", ctx.doc))
        if data.get("sha") and data["sha"] != head_sha:
            raise HttpError(409, gj.error(
                409, "Head branch was modified. Review and try the merge again.", ctx.doc))
        if pr["draft"]:
            raise HttpError(405, gj.error(405, "Pull Request is still a draft", ctx.doc))
        allowed = api.settings(owner, repo)
        setting = {"merge": "allow_merge_commit", "squash": "allow_squash_merge",
                   "rebase": "allow_rebase_merge"}[method]
        if not allowed[setting]:
            what = {"merge": "Merge commits", "squash": "Squash merges",
                    "rebase": "Rebase merges"}[method]
            raise HttpError(405, gj.error(405, f"{what} are not allowed on this repository.",
                                          ctx.doc))
        commits = bare.commits_between(path, base_sha, head_sha)
        stat = bare.diff_stat(path, base_sha, head_sha)
        n = pr["number"]
        if method == "merge":
            title = data.get("commit_title") or f"Merge pull request #{n} from {owner}/{pr['head']}"
            message = data.get("commit_message") if "commit_message" in data else pr["title"]
        elif method == "squash":
            title = data.get("commit_title") or f"{pr['title']} (#{n})"
            message = data.get("commit_message") if "commit_message" in data else "\n\n".join(
                "* " + bare.commit_info(path, c).message.strip() for c in commits)
        else:
            title, message = "", ""
        new_tip = bare.merge_commit(path, pr["base"], head_sha, method, str(title),
                                    str(message or ""))
        if new_tip is None:
            raise HttpError(405, gj.error(405, "Pull Request is not mergeable", ctx.doc))
        stamp = gj.now_iso()
        pr.update({
            "state": "closed", "merged_at": stamp, "closed_at": stamp, "updated_at": stamp,
            "merge_commit_sha": new_tip, "merged_by": ctx.login or "ghost",
            "head_sha": head_sha, "base_sha": base_sha, "auto_merge": None,
            "merged_commits": commits, "commit_count": len(commits),
            "additions": stat.additions, "deletions": stat.deletions,
            "changed_files": len(stat.files),
        })
        api._save_pr(owner, repo, pr)
        if allowed["delete_branch_on_merge"]:
            bare.delete_ref(path, pr["head"], head_sha)
    return Reply(200, {"sha": new_tip, "merged": True,
                       "message": "Pull Request successfully merged"})


def _issue_pr(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> dict[str, Any]:
    # Every PR is an issue; this sandbox has no plain issues.
    return api._get_pr(m["owner"], m["repo"], m["number"], ctx.doc)


def _ensure_labels(api: GitHubApi, full: str, names: list[str]) -> None:
    with api.state.transaction(NS) as st:
        repo_labels = st.setdefault("labels", {}).setdefault(full, {})
        for name in names:
            if name not in repo_labels:
                st["next_label_id"] = st.get("next_label_id", 5_000_000) + 1
                repo_labels[name] = {"id": st["next_label_id"], "name": name, "color": "ededed",
                                     "description": None}


def _label_names(ctx: Ctx) -> list[str]:
    data = ctx.json()
    raw = data.get("labels", []) if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise _validation(ctx.doc, [{"resource": "Label", "field": "labels", "code": "invalid"}])
    names = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise _validation(ctx.doc, [{"resource": "Label", "field": "name",
                                         "code": "invalid"}])
        names.append(name)
    return names


def _labels_reply(api: GitHubApi, ctx: Ctx, owner: str, repo: str, names: list[str]) -> Reply:
    db = api.state.read(NS).get("labels", {}).get(f"{owner}/{repo}", {})
    return Reply(200, [gj.label(ctx.base, owner, repo, db[n]) for n in names if n in db])


@route("GET", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/list-labels-on-issue",
       "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue")
def _list_labels(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    pr = _issue_pr(api, ctx, m)
    reply = _labels_reply(api, ctx, m["owner"], m["repo"], pr["labels"])
    return api.paginate(ctx, reply.body)


@route("POST", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/add-labels",
       "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue")
def _add_labels(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    return _relabel(api, ctx, m, lambda had, names: had + [n for n in names if n not in had])


@route("PUT", "/repos/{owner}/{repo}/issues/{number}/labels", "issues/set-labels",
       "https://docs.github.com/rest/issues/labels#set-labels-for-an-issue")
def _set_labels(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    return _relabel(api, ctx, m, lambda had, names: list(dict.fromkeys(names)))


def _relabel(api: GitHubApi, ctx: Ctx, m: re.Match[str],
             combine: Callable[[list[str], list[str]], list[str]]) -> Reply:
    """Labels of the PR become ``combine(current, requested)``; new names are created."""
    owner, repo = m["owner"], m["repo"]
    pr = _issue_pr(api, ctx, m)
    names = _label_names(ctx)
    _ensure_labels(api, f"{owner}/{repo}", names)
    pr["labels"] = combine(pr["labels"], names)
    pr["updated_at"] = gj.now_iso()
    api._save_pr(owner, repo, pr)
    return _labels_reply(api, ctx, owner, repo, pr["labels"])


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}", "issues/remove-label",
       "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
def _remove_label(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    pr = _issue_pr(api, ctx, m)
    name = unquote(m["name"])
    if name not in pr["labels"]:
        raise HttpError(404, gj.error(404, "Label does not exist", ctx.doc))
    pr["labels"] = [n for n in pr["labels"] if n != name]
    api._save_pr(owner, repo, pr)
    return _labels_reply(api, ctx, owner, repo, pr["labels"])


def _logins(ctx: Ctx, key: str) -> list[str]:
    data = ctx.json()
    raw = data.get(key, []) if isinstance(data, dict) else []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _validation(ctx.doc, [{"resource": "PullRequest", "field": key, "code": "invalid"}])
    return raw


def _review_request_body(api: GitHubApi, ctx: Ctx, owner: str, repo: str,
                         pr: dict[str, Any]) -> dict[str, Any]:
    return api._pull_json(ctx, owner, repo, pr, simple=True)


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
       "pulls/request-reviewers",
       "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request")
def _request_reviewers(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    pr = api._get_pr(owner, repo, m["number"], ctx.doc)
    users = _logins(ctx, "reviewers")
    if pr["user"] in users:
        raise _validation(ctx.doc, [{"resource": "PullRequest", "code": "custom",
                                     "message": "Review cannot be requested from pull request "
                                                "author."}])
    pr["reviewers"] = pr["reviewers"] + [u for u in users if u not in pr["reviewers"]]
    api._save_pr(owner, repo, pr)
    return Reply(201, _review_request_body(api, ctx, owner, repo, pr))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
       "pulls/list-requested-reviewers",
       "https://docs.github.com/rest/pulls/review-requests#get-all-requested-reviewers-for-a-pull-request")
def _list_reviewers(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    pr = api._get_pr(m["owner"], m["repo"], m["number"], ctx.doc)
    return Reply(200, {"users": [gj.simple_user(ctx.base, u) for u in pr["reviewers"]],
                       "teams": []})


@route("DELETE", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
       "pulls/remove-requested-reviewers",
       "https://docs.github.com/rest/pulls/review-requests#remove-requested-reviewers-from-a-pull-request")
def _remove_reviewers(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    pr = api._get_pr(owner, repo, m["number"], ctx.doc)
    users = _logins(ctx, "reviewers")
    pr["reviewers"] = [u for u in pr["reviewers"] if u not in users]
    api._save_pr(owner, repo, pr)
    return Reply(200, _review_request_body(api, ctx, owner, repo, pr))


def _issue_json(api: GitHubApi, ctx: Ctx, owner: str, repo: str, pr: dict[str, Any]
                ) -> dict[str, Any]:
    p = api._pull_json(ctx, owner, repo, pr, simple=True)
    r = f"{gj.api(ctx.base)}/repos/{owner}/{repo}"
    n = pr["number"]
    return {
        "id": pr["id"], "node_id": p["node_id"], "url": f"{r}/issues/{n}",
        "repository_url": r, "labels_url": f"{r}/issues/{n}/labels{{/name}}",
        "comments_url": f"{r}/issues/{n}/comments", "events_url": f"{r}/issues/{n}/events",
        "html_url": p["html_url"], "number": n, "state": pr["state"],
        "state_reason": None, "title": pr["title"], "body": pr["body"], "user": p["user"],
        "labels": p["labels"], "assignee": p["assignee"], "assignees": p["assignees"],
        "milestone": None, "locked": False, "active_lock_reason": None,
        "comments": pr.get("comments", 0),
        "pull_request": {"url": p["url"], "html_url": p["html_url"], "diff_url": p["diff_url"],
                         "patch_url": p["patch_url"], "merged_at": pr.get("merged_at")},
        "closed_at": pr.get("closed_at"), "created_at": pr["created_at"],
        "updated_at": pr["updated_at"], "draft": pr["draft"], "closed_by": None,
        "author_association": "OWNER", "timeline_url": f"{r}/issues/{n}/timeline",
    }


@route("POST", "/repos/{owner}/{repo}/issues/{number}/assignees", "issues/add-assignees",
       "https://docs.github.com/rest/issues/assignees#add-assignees-to-an-issue")
def _add_assignees(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    pr = _issue_pr(api, ctx, m)
    users = _logins(ctx, "assignees")
    pr["assignees"] = (pr["assignees"] + [u for u in users if u not in pr["assignees"]])[:10]
    api._save_pr(owner, repo, pr)
    return Reply(201, _issue_json(api, ctx, owner, repo, pr))


@route("DELETE", "/repos/{owner}/{repo}/issues/{number}/assignees", "issues/remove-assignees",
       "https://docs.github.com/rest/issues/assignees#remove-assignees-from-an-issue")
def _remove_assignees(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    pr = _issue_pr(api, ctx, m)
    users = _logins(ctx, "assignees")
    pr["assignees"] = [u for u in pr["assignees"] if u not in users]
    api._save_pr(owner, repo, pr)
    return Reply(200, _issue_json(api, ctx, owner, repo, pr))


def _comment_json(ctx: Ctx, owner: str, repo: str, c: dict[str, Any]) -> dict[str, Any]:
    r = f"{gj.api(ctx.base)}/repos/{owner}/{repo}"
    return {
        "id": c["id"], "node_id": gj.node_id("IssueComment", c["id"]),
        "url": f"{r}/issues/comments/{c['id']}",
        "html_url": f"{ctx.base}/{owner}/{repo}/pull/{c['issue']}#issuecomment-{c['id']}",
        "body": c["body"], "user": gj.simple_user(ctx.base, c["user"]),
        "created_at": c["created_at"], "updated_at": c["updated_at"],
        "issue_url": f"{r}/issues/{c['issue']}", "author_association": "OWNER",
        "performed_via_github_app": None,
    }


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments", "issues/create-comment",
       "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
def _create_comment(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    _issue_pr(api, ctx, m)
    data = ctx.json()
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, str) or not body:
        raise _validation(ctx.doc, [{"resource": "IssueComment", "field": "body",
                                     "code": "missing_field"}])
    stamp = gj.now_iso()
    with api.state.transaction(NS) as st:
        st["next_comment_id"] = st.get("next_comment_id", 9_000_000) + 1
        c = {"id": st["next_comment_id"], "issue": int(m["number"]), "body": body,
             "user": ctx.login or "ghost", "created_at": stamp, "updated_at": stamp}
        st.setdefault("comments", {}).setdefault(f"{owner}/{repo}", []).append(c)
        pr = st["pulls"][f"{owner}/{repo}"][m["number"]]
        pr["comments"] = pr.get("comments", 0) + 1
    body_json = _comment_json(ctx, owner, repo, c)
    return Reply(201, body_json, [("Location", body_json["url"])])


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments", "issues/list-comments",
       "https://docs.github.com/rest/issues/comments#list-issue-comments")
def _list_comments(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    owner, repo = m["owner"], m["repo"]
    _issue_pr(api, ctx, m)
    comments = api.state.read(NS).get("comments", {}).get(f"{owner}/{repo}", [])
    items = [_comment_json(ctx, owner, repo, c) for c in comments if c["issue"] == int(m["number"])]
    return api.paginate(ctx, items)


# --------------------------------------------------------------------------- GitHub App


def _installation_json(api: GitHubApi, ctx: Ctx, app: App) -> dict[str, Any]:
    a = gj.api(ctx.base)
    account = gj.simple_user(ctx.base, "sandbox-org")
    return {
        "id": app.installation_id, "account": account, "repository_selection": "all",
        "access_tokens_url": f"{a}/app/installations/{app.installation_id}/access_tokens",
        "repositories_url": f"{a}/installation/repositories",
        "html_url": f"{ctx.base}/settings/installations/{app.installation_id}",
        "app_id": app.app_id, "app_slug": app.slug, "target_id": account["id"],
        "target_type": "Organization",
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write",
                        "metadata": "read"},
        "events": [], "created_at": gj.EPOCH_CREATED, "updated_at": gj.EPOCH_CREATED,
        "single_file_name": None, "has_multiple_single_files": False,
        "single_file_paths": [], "suspended_by": None, "suspended_at": None,
    }


def _app_of(api: GitHubApi, ctx: Ctx) -> App:
    assert ctx.app_id is not None
    return api.apps[ctx.app_id]


@route("GET", "/app", "apps/get-authenticated", app_jwt=True)
def _get_app(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    app = _app_of(api, ctx)
    return Reply(200, {
        "id": app.app_id, "slug": app.slug, "node_id": gj.node_id("Integration", app.app_id),
        "owner": gj.simple_user(ctx.base, "sandbox-org"), "name": app.slug, "description": "",
        "external_url": ctx.base, "html_url": f"{ctx.base}/apps/{app.slug}",
        "created_at": gj.EPOCH_CREATED, "updated_at": gj.EPOCH_CREATED,
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write",
                        "metadata": "read"},
        "events": [], "installations_count": 1,
    })


@route("GET", "/app/installations", "apps/list-installations", app_jwt=True)
def _list_installations(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    return api.paginate(ctx, [_installation_json(api, ctx, _app_of(api, ctx))])


@route("GET", "/repos/{owner}/{repo}/installation", "apps/get-repo-installation",
       "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app",
       app_jwt=True)
def _repo_installation(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    api.repo_info(m["owner"], m["repo"], ctx.doc)
    return Reply(200, _installation_json(api, ctx, _app_of(api, ctx)))


@route("POST", "/app/installations/{installation_id}/access_tokens",
       "apps/create-installation-access-token",
       "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
       app_jwt=True)
def _access_token(api: GitHubApi, ctx: Ctx, m: re.Match[str]) -> Reply:
    app = _app_of(api, ctx)
    if m["installation_id"] != str(app.installation_id):
        raise _not_found(ctx.doc)
    token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36]
    expires = int(time.time()) + 3600
    with api.state.transaction(NS) as st:
        st.setdefault("installation_tokens", {})[token] = {
            "installation_id": app.installation_id, "expires": expires, "slug": app.slug}
    return Reply(201, {
        "token": token,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write",
                        "metadata": "read"},
        "repository_selection": "all",
    })

