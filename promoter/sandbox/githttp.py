"""Git smart HTTP for the sandbox: route matching and the ``git http-backend`` CGI call.

Kept apart from ``server.py`` so the socket handling and the git plumbing can be
read (and tested) separately. Facts this relies on are in
``shared/notes/git-smart-http.md``: http-backend is a CGI program fed through
environment variables and stdin; it prints CGI headers, a blank line and the
body; ``REMOTE_USER`` enables receive-pack; ``GIT_PROTOCOL`` selects v2.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# The three smart-HTTP routes. Anything else (dumb HTTP) is not served.
_ROUTE_RE = re.compile(
    r"\A/(?P<repo>[^?#]+?)(?P<suffix>\.git)?/(?P<tail>info/refs|git-upload-pack|git-receive-pack)\Z"
)
_SERVICES = {"git-upload-pack", "git-receive-pack"}

# Server-side git config every sandbox repository gets, like the big forges:
# partial clone filters and lazy blob fetches by id must work, pushes are allowed.
DEFAULT_SERVER_CONFIG: dict[str, str] = {
    "http.receivepack": "true",
    "http.uploadpack": "true",
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "true",
    "receive.denyCurrentBranch": "ignore",
}


@dataclass(frozen=True, slots=True)
class GitRoute:
    repo: str  # repository path relative to the root, always ending in ".git"
    tail: str  # info/refs | git-upload-pack | git-receive-pack

    @property
    def path_info(self) -> str:
        return f"/{self.repo}/{self.tail}"


def match_route(path: str, root: Path) -> GitRoute | None:
    """Return the git route for a URL path, or None when it is not a git smart-HTTP URL.

    ``/<group>/.../<project>.git/info/refs`` maps to ``root/<group>/.../<project>.git``;
    the ``.git`` suffix may be omitted in the URL (as GitHub and GitLab allow) when
    that bare repository exists.
    """
    m = _ROUTE_RE.match(path)
    if m is None:
        return None
    repo = m.group("repo")
    parts = repo.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    repo_git = repo + ".git"
    if m.group("suffix") is None and not (root / repo_git).is_dir():
        return None
    return GitRoute(repo=repo_git, tail=m.group("tail"))


def is_write(route: GitRoute, query: str) -> bool:
    return route.tail == "git-receive-pack" or "service=git-receive-pack" in query


@dataclass(slots=True)
class CgiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: Iterator[bytes]  # streamed from the CGI process; must be fully consumed
    stderr: str = ""


def run_backend(
    *,
    root: Path,
    route: GitRoute,
    method: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    remote_user: str | None,
    remote_addr: str,
    server_config: Mapping[str, str] | None = None,
) -> CgiResponse:
    """Run ``git http-backend`` for one request and stream its answer.

    ``headers`` have lower-cased keys. The request body must already be de-chunked;
    its length becomes ``CONTENT_LENGTH``.
    """
    config = dict(DEFAULT_SERVER_CONFIG)
    config.update(server_config or {})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": route.path_info,
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": remote_addr,
        # Keep the operator's own git config out of the server.
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    if remote_user:
        env["REMOTE_USER"] = remote_user
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]

    # stdin from a file (not a pipe) so that we can stream stdout without deadlocking.
    stdin = tempfile.TemporaryFile()
    stdin.write(body)
    stdin.seek(0)
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        ["git", "http-backend"], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env
    )
    stdin.close()
    assert proc.stdout is not None
    head = b""
    while True:
        sep = _header_end(head)
        if sep is not None:
            break
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        head += chunk
    sep = _header_end(head)
    if sep is None:
        rest = b""
        header_block = head
    else:
        header_block, rest = head[: sep[0]], head[sep[1] :]
    status = 200
    out_headers: list[tuple[str, str]] = []
    for line in header_block.decode("latin-1").splitlines():
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        value = value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            out_headers.append((name.strip(), value))

    def stream() -> Iterator[bytes]:
        try:
            if rest:
                yield rest
            assert proc.stdout is not None
            while True:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                yield chunk
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()
            stderr.close()

    if sep is None:
        # The backend died before writing headers: report what it said.
        proc.stdout.close()
        proc.wait()
        stderr.seek(0)
        err = stderr.read().decode("utf-8", "replace")
        stderr.close()
        return CgiResponse(
            status=500,
            headers=[("Content-Type", "text/plain")],
            body=iter([f"git http-backend failed: {err}".encode()]),
            stderr=err,
        )
    return CgiResponse(status=status, headers=out_headers, body=stream())


def _header_end(data: bytes) -> tuple[int, int] | None:
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    candidates = [(i, i + 4) for i in (crlf,) if i >= 0] + [(i, i + 2) for i in (lf,) if i >= 0]
    return min(candidates) if candidates else None


def decode_chunked(read_line: Callable[[int], bytes], read: Callable[[int], bytes]) -> bytes:
    """Decode an HTTP/1.1 ``Transfer-Encoding: chunked`` body (Python's http.server does not)."""
    out = bytearray()
    while True:
        line = read_line(65537)
        if not line:
            raise ValueError("connection closed inside a chunked body")
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailers until an empty line.
            while True:
                trailer = read_line(65537)
                if not trailer or trailer in (b"\r\n", b"\n"):
                    return bytes(out)
        out += _read_exact(read, size)
        read_line(65537)  # CRLF after the chunk data


def _read_exact(read: Callable[[int], bytes], size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        piece = read(size - len(buf))
        if not piece:
            raise ValueError("connection closed inside a chunked body")
        buf += piece
    return bytes(buf)
