"""Request/response types shared by the sandbox's HTTP server and its API plug-ins.

``server.py`` owns sockets, threads, auth challenges and git smart HTTP; the
GitHub (``github_api.py``) and GitLab (``gitlab_api.py``) emulations are
plain functions from ``ApiRequest`` to ``ApiResponse`` registered under a
path prefix, so they can be reasoned about (and faulted) without sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str  # upper-case
    path: str  # path without the query string, e.g. /api/v3/repos/o/r/pulls
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # scheme://host:port of this server as the client reached it
    token: str | None  # bearer/token/basic-password/private-token presented, or None


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # When True the server drops the connection without answering (fault injection).
    drop_connection: bool = False


# Returns None when the handler does not serve this path (the server tries the next one / 404s).
ApiHandler = Callable[[ApiRequest], "ApiResponse | None"]
