"""The sandbox HTTP server: git smart HTTP over bare repositories, plus API plug-ins.

One ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port by default) serves

* git smart HTTP at ``/<owner>/<repo>.git/...`` (any depth of groups:
  ``/<group>/<subgroup>/<project>.git/...``), backed by the bare repositories
  ``root/<path>.git`` through ``git http-backend`` (``githttp.py``);
* every other path by the API handlers registered with :meth:`Sandbox.add_handler`.

Extension point (how the GitHub/GitLab emulations plug in)
-----------------------------------------------------------
An API handler is a plain function ``ApiRequest -> ApiResponse | None``
(``promoter.sandbox.types``). ``add_handler(prefix, handler)`` routes every
request whose path equals ``prefix`` or starts with ``prefix + "/"`` to it,
handlers are tried in registration order, and ``None`` means "not mine" (the
next one is tried, then 404). The server has already parsed the method, path,
query, lower-cased headers and the (de-chunked) body, and extracted the token
the client presented (``Authorization: Bearer|token X``, the password of
``Authorization: Basic``, ``PRIVATE-TOKEN``, ``JOB-TOKEN``) into
``ApiRequest.token``; handlers decide what a missing or wrong token means and
may call :meth:`Sandbox.token_valid`. ``ApiRequest.base_url`` is
``http://<Host header>`` so links a handler returns work for the client.
``ApiResponse.drop_connection`` closes the socket without an answer (fault
injection). Handlers run on the server's threads: guard shared state. A handler
that raises gets ``500`` with a JSON body (its traceback goes to stderr), so a
bug shows as an answer, not as a connection the client sees reset.

Git auth: with ``tokens`` non-empty, every git request must present one of them
(as Basic password, bearer token or ``PRIVATE-TOKEN``/``JOB-TOKEN``); git first
asks without credentials and gets ``401`` + ``WWW-Authenticate: Basic``, as
from the real forges. With ``tokens`` empty, auth is off.
"""

from __future__ import annotations

import base64
import binascii
import socket
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from promoter.sandbox import githttp
from promoter.sandbox.types import ApiHandler, ApiRequest, ApiResponse

REALM = "promoter sandbox"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One served request, for tests and benchmarks (no headers, no tokens)."""

    method: str
    path: str
    status: int
    bytes_sent: int  # response body bytes
    git: bool
    bytes_received: int = 0  # request body bytes (de-chunked)


def presented_token(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(user, token) the client presented; headers have lower-cased keys."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:
        return None, value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        # Some clients put the token in the user field with an empty password.
        return (user or None), (password or user or None)
    for name in ("private-token", "job-token"):
        if headers.get(name):
            return None, headers[name]
    return None, None


class Sandbox:
    """A local git smart-HTTP + API server. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        root: Path,
        tokens: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        git_config: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.tokens: set[str] = set(tokens)
        self.host = host
        self.port = port
        # Extra server-side git config, e.g. {"uploadpack.allowFilter": "false"} to act as a
        # server without partial clone support.
        self.git_config: dict[str, str] = dict(git_config or {})
        self._handlers: list[tuple[str, ApiHandler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.records: list[RequestRecord] = []
        # Open client connections: stop() closes them, so no keep-alive connection goes on
        # being served (and pinning a thread) after the sandbox stopped.
        self._connections: set[socket.socket] = set()

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use it as `with`")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- configuration
    def add_handler(self, prefix: str, handler: ApiHandler) -> None:
        """Route paths equal to ``prefix`` or under ``prefix/`` to ``handler`` (in order)."""
        self._handlers.append((prefix.rstrip("/"), handler))

    def token_valid(self, token: str | None) -> bool:
        return not self.tokens or (token is not None and token in self.tokens)

    def repo_url(self, path: str) -> str:
        """Clone URL of ``root/<path>.git`` (``path`` like ``acme/manifests``)."""
        return f"{self.base_url}/{path.strip('/').removesuffix('.git')}.git"

    def bytes_sent(self, *, git_only: bool = True) -> int:
        """Response body bytes sent so far (what clients received)."""
        with self._lock:
            return sum(r.bytes_sent for r in self.records if r.git or not git_only)

    def bytes_received(self, *, git_only: bool = True) -> int:
        """Request body bytes received so far (what clients uploaded, e.g. pushes)."""
        with self._lock:
            return sum(r.bytes_received for r in self.records if r.git or not git_only)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)

    def _track(self, conn: socket.socket, open_: bool) -> bool:
        """Note a client connection opening or closing; False: the sandbox is stopping."""
        with self._lock:
            if not open_:
                self._connections.discard(conn)
                return True
            if self._server is None:
                return False
            self._connections.add(conn)
            return True


def _make_handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.sandbox = sandbox
    return Handler


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    _responded = False  # the status line went out: too late to answer 500
    _refused = False
    protocol_version = "HTTP/1.1"
    server_version = "promoter-sandbox"
    timeout = 60  # idle keep-alive connections do not pin threads forever

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and benchmarks read Sandbox.records instead

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # ---------------------------------------------------------------- plumbing
    def setup(self) -> None:
        super().setup()
        self._refused = not self.sandbox._track(self.connection, True)

    def handle(self) -> None:
        if not self._refused:  # accepted while the sandbox was stopping: close unanswered
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox._track(self.connection, False)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        super().send_response(code, message)

    def _dispatch(self) -> None:
        self._responded = False
        try:
            self._dispatch_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it
        except Exception:
            print(f"promoter sandbox: {self.command} {self.path.partition('?')[0]} failed:",
                  file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            if self._responded:
                self.close_connection = True  # half an answer: the client sees it cut short
                return
            body = b'{"message": "Server Error (the sandbox\'s stderr has the traceback)"}'
            self._send(500, body, [("Content-Type", "application/json")], git=False,
                       path=self.path.partition("?")[0])

    def _dispatch_request(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body(headers)
        except ValueError as exc:
            self._send(400, f"bad request body: {exc}\n".encode(), [], git=False)
            return
        raw_path, _, query = self.path.partition("?")
        path = urllib.parse.unquote(raw_path)
        user, token = presented_token(headers)
        route = githttp.match_route(path, self.sandbox.root)
        if route is not None:
            self._serve_git(route, path, query, headers, body, user, token)
            return
        request = ApiRequest(
            method=self.command,
            path=path,
            query=urllib.parse.parse_qs(query, keep_blank_values=True),
            headers=headers,
            body=body,
            base_url=f"http://{headers.get('host') or self._host_port()}",
            token=token,
        )
        for prefix, handler in list(self.sandbox._handlers):
            if path == prefix or path.startswith(prefix + "/") or prefix == "":
                response = handler(request)
                if response is None:
                    continue
                self._answer(response, path)
                return
        self._send(
            404,
            b'{"message": "Not Found"}',
            [("Content-Type", "application/json")],
            git=False,
            path=path,
        )

    def _host_port(self) -> str:
        host, port = self.connection.getsockname()[:2]
        return f"{host!s}:{port}"

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return githttp.decode_chunked(self.rfile.readline, self.rfile.read)
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve_git(
        self,
        route: githttp.GitRoute,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        user: str | None,
        token: str | None,
    ) -> None:
        sandbox = self.sandbox
        if sandbox.tokens and not sandbox.token_valid(token):
            msg = b"Authentication required\n" if token is None else b"Invalid credentials\n"
            self._send(
                401,
                msg,
                [("WWW-Authenticate", f'Basic realm="{REALM}"'), ("Content-Type", "text/plain")],
                git=True,
                path=path,
            )
            return
        if not (sandbox.root / route.repo).is_dir():
            self._send(
                404,
                b"Repository not found\n",
                [("Content-Type", "text/plain")],
                git=True,
                path=path,
            )
            return
        cgi = githttp.run_backend(
            root=sandbox.root,
            route=route,
            method=self.command,
            query=query,
            headers=headers,
            body=body,
            remote_user=user or "sandbox",
            remote_addr=self.client_address[0],
            server_config=sandbox.git_config,
        )
        sent = 0
        try:  # from the status line on: a client gone early must not leave git running
            self.send_response(cgi.status)
            for name, value in cgi.headers:
                self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in cgi.body:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it
        finally:
            for _ in cgi.body:  # drain so the CGI process can exit
                pass
            sandbox._record(
                RequestRecord(self.command, path, cgi.status, sent, True, len(body))
            )

    def _answer(self, response: ApiResponse, path: str) -> None:
        if response.drop_connection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sandbox._record(RequestRecord(self.command, path, 0, 0, False))
            return
        self._send(response.status, response.body, response.headers, git=False, path=path)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        *,
        git: bool,
        path: str = "",
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.sandbox._record(RequestRecord(self.command, path, status, len(body), git))
