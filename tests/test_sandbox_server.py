"""The sandbox's HTTP server itself: what a client sees when a handler fails."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

import pytest

from promoter.sandbox.server import Sandbox
from promoter.sandbox.types import ApiRequest, ApiResponse


def failing(request: ApiRequest) -> ApiResponse | None:
    if request.path == "/api/boom":
        raise RuntimeError("a bug in a handler")
    return ApiResponse(200, b'{"ok": true}', [("Content-Type", "application/json")])


def test_a_handler_that_raises_is_answered_500_and_the_server_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox(tmp_path) as sandbox:
        sandbox.add_handler("/api", failing)
        conn = http.client.HTTPConnection("127.0.0.1", int(sandbox.base_url.rsplit(":", 1)[1]),
                                          timeout=10)
        try:
            conn.request("POST", "/api/boom?private_token=secret-in-query", body=b"{}")
            resp = conn.getresponse()
            assert resp.status == 500
            assert "Server Error" in json.loads(resp.read())["message"]
            conn.request("GET", "/api/fine")  # the same keep-alive connection still serves
            again = conn.getresponse()
            assert (again.status, json.loads(again.read())) == (200, {"ok": True})
        finally:
            conn.close()
    assert [(r.method, r.path, r.status) for r in sandbox.records] == [
        ("POST", "/api/boom", 500), ("GET", "/api/fine", 200)]
    err = capsys.readouterr().err
    assert "RuntimeError: a bug in a handler" in err and "secret-in-query" not in err


def test_stop_closes_keep_alive_connections(tmp_path: Path) -> None:
    """A client's pooled connection is not served by a stopped sandbox (nor pins a thread)."""
    baseline = set(threading.enumerate())
    sandbox = Sandbox(tmp_path).start()
    sandbox.add_handler("/api", failing)
    conn = http.client.HTTPConnection("127.0.0.1", int(sandbox.base_url.rsplit(":", 1)[1]),
                                      timeout=10)
    try:
        conn.request("GET", "/api/fine")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read()
        serving = set(threading.enumerate()) - baseline  # the accept loop and the handler
        sandbox.stop()
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.request("GET", "/api/fine")
            conn.getresponse()
    finally:
        conn.close()
    assert len(serving) == 2
    for thread in serving:
        thread.join(timeout=10)  # the handler thread ends with its connection
        assert not thread.is_alive(), thread.name
