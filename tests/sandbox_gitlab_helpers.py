"""Shared pieces of the GitLab sandbox / forge / contract tests (helper F's files).

``GitLabEnv`` is a running sandbox serving a GitLab-style nested project
``group/subgroup/manifests`` over real HTTP, with every ``/api/v4`` exchange
recorded so the contract test can validate what the emulation produced.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import SANDBOX_TOKEN, RepoFactory

from promoter.sandbox.faults import FaultInjector
from promoter.sandbox.gitlab_api import GitLabApi
from promoter.sandbox.server import Sandbox
from promoter.sandbox.types import ApiRequest, ApiResponse

PROJECT = "group/subgroup/manifests"
HEAD = "promoter/production/web"
VALUES = "env/production/values.yaml"


@dataclass(slots=True)
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(slots=True)
class GitLabEnv:
    sandbox: Sandbox
    api: GitLabApi
    repos: RepoFactory
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.sandbox.base_url

    def client(self, token: str | None = SANDBOX_TOKEN, **kwargs: Any) -> Any:
        import gitlab

        return gitlab.Gitlab(self.url, private_token=token, **kwargs)

    def push_branch(self, branch: str = HEAD, files: dict[str, str | None] | None = None,
                    parent: str = "main") -> str:
        """A promotion-like branch: one commit on top of ``parent``."""
        content = files if files is not None else {VALUES: 'image:\n  tag: "1.1"\n'}
        return self.repos.commit(PROJECT, content, message=f"promote {branch}", branch=branch,
                                 parent=self.repos.rev(PROJECT, parent))

    def http(self, method: str, path: str, body: Any = None,
             token: str | None = SANDBOX_TOKEN,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """A raw request (urllib) to ``/api/v4`` + ``path``: (status, headers, decoded body)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/api/v4{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("PRIVATE-TOKEN", token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
        try:
            decoded: Any = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode()
        return status, {k.lower(): v for k, v in hdrs.items()}, decoded


def start_env(repos: RepoFactory, files: dict[str, str] | None = None,
              rate_limit: int = 2000, faults: FaultInjector | None = None,
              clock: Callable[[], float] = time.time) -> GitLabEnv:
    content: dict[str, str | bytes] = dict(files or {
        VALUES: 'image:\n  repository: registry.example.com/web\n  tag: "1.0"\n',
        "README.md": "manifests\n",
    })
    repos.create(PROJECT, content)
    sandbox = Sandbox(repos.root, tokens=[SANDBOX_TOKEN])
    api = GitLabApi(repos.root, token_valid=sandbox.token_valid, rate_limit=rate_limit,
                    clock=clock)
    env = GitLabEnv(sandbox, api, repos)

    inner = faults.wrap(api) if faults is not None else api

    def recording(request: ApiRequest) -> ApiResponse | None:
        response = inner(request)
        if response is not None:
            with env.lock:
                env.exchanges.append(Exchange(
                    request.method, request.path, request.query, response.status,
                    {k.lower(): v for k, v in response.headers}, response.body,
                ))
        return response

    sandbox.add_handler("/api/v4", recording)
    sandbox.start()
    return env


def env_fixture(repos: RepoFactory, **kwargs: Any) -> Iterator[GitLabEnv]:
    """A running env; on teardown every recorded answer is checked against GitLab's schemas."""
    env = start_env(repos, **kwargs)
    try:
        yield env
        if contracts_dir().is_dir():
            counts, problems = check_exchanges(env, validators())
            print(f"[gitlab-contract] {sum(counts.values())} entities validated in "
                  f"{len(env.exchanges)} responses")
            assert not problems, "\n".join(problems)
    finally:
        env.sandbox.stop()


def contracts_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "contracts" / "gitlab"


SCHEMA_FILES = ("merge_request.json", "branch.json", "milestone.json", "commit/basic.json",
                "user/basic.json")
_VALIDATORS: dict[str, Any] = {}


# ---------------------------------------------------------------------- schemas
def validators() -> dict[str, Any]:
    """Draft 4 validators for GitLab's response schemas (null allowed for an absent user)."""
    if _VALIDATORS:
        return _VALIDATORS
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    root = contracts_dir() / "gitlab-api-schemas"
    resources = []
    schemas: dict[str, Any] = {}
    for name in SCHEMA_FILES:
        schema = json.loads((root / name).read_text())
        if name == "user/basic.json":
            schema = copy.deepcopy(schema)
            schema["type"] = ["object", "null"]  # GitLab sends null for "no user"
        schema["id"] = f"https://gitlab-schemas.invalid/{name}"
        schemas[name] = schema
        resources.append((schema["id"], Resource.from_contents(schema, DRAFT4)))
    registry: Any = Registry().with_resources(resources)
    # milestone.json uses the non-standard type "date" (a string in GitLab's specs).
    checker = jsonschema.Draft4Validator.TYPE_CHECKER.redefine(
        "date", lambda _c, v: isinstance(v, str))
    cls = jsonschema.validators.extend(jsonschema.Draft4Validator, type_checker=checker)
    _VALIDATORS.update({name: cls(schema, registry=registry) for name, schema in schemas.items()})
    return _VALIDATORS



def urls_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from urls_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from urls_in(v)
    elif isinstance(value, str) and re.match(r"^https?://", value):
        yield value



def schema_for(x: Exchange) -> str | None:
    """Which schema a successful answer's entities follow (None: no published schema)."""
    path = x.path
    if x.status >= 300:
        return None
    if re.search(r"/merge_requests(/\d+(/merge)?)?$", path):
        return "merge_request.json"
    if re.search(r"/repository/branches(/.+)?$", path):
        return "branch.json"
    if re.search(r"/repository/commits/[^/]+$|/merge_requests/\d+/commits$", path):
        return "commit/basic.json"
    if re.search(r"/api/v4/(user|users(/\d+)?)$", path):
        return "user/basic.json"
    return None




def check_exchanges(env: GitLabEnv, checks: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    """Validate every recorded answer: schema per entity, URLs on the sandbox's host."""
    problems: list[str] = []
    per_schema: dict[str, int] = {}

    def validate(name: str, item: Any, where: str) -> None:
        errors = sorted(checks[name].iter_errors(item), key=str)
        problems.extend(f"{where} vs {name}: {e.message}" for e in errors[:3])
        per_schema[name] = per_schema.get(name, 0) + 1

    for x in env.exchanges:
        is_json = x.headers.get("content-type", "").startswith("application/json")
        body = x.json() if is_json and x.body else None
        where = f"{x.method} {x.path} ({x.status})"
        for url in urls_in(body):
            if not url.startswith(env.url + "/"):
                problems.append(f"{where}: URL off the sandbox host: {url}")
        items = body if isinstance(body, list) else [body]
        if re.search(r"/notes$", x.path) and x.status < 300:  # note authors are UserBasic
            for note in items:
                validate("user/basic.json", note["author"], f"{where} note author")
        name = schema_for(x)
        if name is not None:
            for item in items:
                validate(name, item, where)
    return per_schema, problems
