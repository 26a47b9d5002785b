"""Git stall protection (promoter/git.py): a stalled http(s) server fails git, never hangs it."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from promoter.git import LOW_SPEED_LIMIT, LOW_SPEED_TIME, Git


def config_of(env: dict[str, str]) -> dict[str, str]:
    count = int(env["GIT_CONFIG_COUNT"])
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMOTER_GIT_LOW_SPEED_TIME", "PROMOTER_GIT_LOW_SPEED_LIMIT",
                 "GIT_HTTP_LOW_SPEED_LIMIT", "GIT_HTTP_LOW_SPEED_TIME"):
        monkeypatch.delenv(name, raising=False)


def test_every_git_command_gets_the_low_speed_settings() -> None:
    config = config_of(Git().env())
    assert config["http.lowSpeedLimit"] == str(LOW_SPEED_LIMIT) == "1000"
    assert config["http.lowSpeedTime"] == str(LOW_SPEED_TIME) == "60"


def test_low_speed_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_GIT_LOW_SPEED_TIME", "15")
    monkeypatch.setenv("PROMOTER_GIT_LOW_SPEED_LIMIT", "10")
    config = config_of(Git().env())
    assert (config["http.lowSpeedTime"], config["http.lowSpeedLimit"]) == ("15", "10")
    monkeypatch.setenv("PROMOTER_GIT_LOW_SPEED_TIME", "0")
    assert "http.lowSpeedTime" not in config_of(Git().env())
    monkeypatch.setenv("PROMOTER_GIT_LOW_SPEED_TIME", "soon")
    with pytest.raises(ValueError, match="PROMOTER_GIT_LOW_SPEED_TIME='soon' is not a whole"):
        Git().env()


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """An HTTP server that starts a git answer, then sends nothing more.

    The listener is closed only after the serving thread has stopped: closing
    it under a thread that is about to call ``accept()`` frees the descriptor
    number, the next test's server can get the same number, and this thread
    would then answer that server's clients (seen once in CI as a sandbox
    request that read this stalled reply).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    release = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not release.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            conn.settimeout(None)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n"
                         b"Content-Type: application/x-git-upload-pack-advertisement\r\n"
                         b"Content-Length: 100000\r\n\r\n001e# service=git-upload-pack\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/acme/manifests.git"
    finally:
        release.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the stalling server's thread did not stop"
        listener.close()
        for conn in conns:
            conn.close()


def test_a_stalled_server_fails_the_command(
    stalling_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_GIT_LOW_SPEED_TIME", "1")
    done: list[subprocess.CompletedProcess[str]] = []
    worker = threading.Thread(
        target=lambda: done.append(Git().run("ls-remote", stalling_server, check=False)),
        daemon=True,
    )
    worker.start()
    # Generous bound only so a regression fails instead of hanging the suite.
    worker.join(timeout=60)
    assert done, "git kept waiting on a stalled server"
    [proc] = done
    assert proc.returncode != 0
    assert "too slow" in proc.stderr.lower(), proc.stderr
