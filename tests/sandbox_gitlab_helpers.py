"""Shared pieces of the GitLab sandbox / forge / contract tests (helper F's files).

``GitLabEnv`` is a running sandbox serving a GitLab-style nested project
``group/subgroup/manifests`` over real HTTP, with every ``/api/v4`` exchange
recorded so the contract test can validate what the emulation produced.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
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
              rate_limit: int = 2000, faults: FaultInjector | None = None) -> GitLabEnv:
    content: dict[str, str | bytes] = dict(files or {
        VALUES: 'image:\n  repository: registry.example.com/web\n  tag: "1.0"\n',
        "README.md": "manifests\n",
    })
    repos.create(PROJECT, content)
    sandbox = Sandbox(repos.root, tokens=[SANDBOX_TOKEN])
    api = GitLabApi(repos.root, token_valid=sandbox.token_valid, rate_limit=rate_limit)
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
    env = start_env(repos, **kwargs)
    try:
        yield env
    finally:
        env.sandbox.stop()


def contracts_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "contracts" / "gitlab"
