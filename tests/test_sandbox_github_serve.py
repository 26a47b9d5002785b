"""``promoter sandbox serve`` as a real process: JSON line, git + API, clean SIGTERM stop."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests
from conftest import make_git_env, run_git


def test_serve_prints_urls_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from promoter.cli import main; main()", "sandbox", "serve",
         "--root", str(tmp_path), "--token", "t0k", "--init-repo", "acme/manifests",
         "--fault", "status=503,times=1",
         "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=make_git_env(),
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["github_api"] == info["git"] + "/api/v3"
        assert info["gitlab_api"] == info["git"] + "/api/v4"
        headers = {"Authorization": "token t0k"}
        url = f"{info['github_api']}/repos/acme/manifests"
        assert requests.get(url, headers=headers, timeout=10).status_code == 503  # the fault
        repo = requests.get(url, headers=headers, timeout=10).json()
        assert repo["clone_url"] == f"{info['git']}/acme/manifests.git"
        work = tmp_path / "work"
        run_git("init", "-q", "-b", "main", str(work))
        (work / "f").write_text("x\n")
        run_git("add", "f", cwd=work)
        run_git("commit", "-qm", "first", cwd=work)
        auth_base = info["git"].replace("http://", "http://x-access-token:t0k@")
        push_url = f"{auth_base}/acme/manifests.git"
        run_git("push", "-q", push_url, "main", cwd=work)
        branch = requests.get(f"{url}/branches/main", headers=headers, timeout=10).json()
        assert branch["commit"]["commit"]["message"] == "first"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in err


def test_serve_explains_a_port_in_use_and_an_unusable_root(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from promoter.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "serve", "--root", str(tmp_path / "r"),
                                           "--port", str(port)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # no traceback
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["sandbox", "serve", "--root", str(blocker / "r")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"cannot create --root {blocker / 'r'}: Not a directory" in result.output
