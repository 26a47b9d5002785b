"""``promoter sandbox serve``: the local git + GitHub/GitLab API server, in the foreground.

Prints exactly one JSON line on stdout once it listens, e.g.::

    {"git": "http://127.0.0.1:40123", "github_api": "http://127.0.0.1:40123/api/v3",
     "github_graphql": "http://127.0.0.1:40123/api/graphql",
     "gitlab_api": "http://127.0.0.1:40123/api/v4", "root": "/srv", "pid": 4242}

and serves until SIGTERM or SIGINT, then closes its socket and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click


@click.group("sandbox")
def command() -> None:
    """Run the local git + GitHub/GitLab API sandbox."""


@command.command("serve")
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory of bare repositories (<owner>/<repo>.git); created if missing.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, type=int,
              help="Port to bind (0: any free port; the JSON line tells which).")
@click.option("--token", "tokens", multiple=True,
              help="Accepted token (repeatable). None given: no auth at all.")
@click.option("--init-repo", "init_repos", multiple=True, metavar="OWNER/REPO",
              help="Create this empty bare repository if missing (repeatable).")
@click.option("--fault", "faults", multiple=True, metavar="SPEC",
              help="Inject API faults, e.g. 'status=502,p=0.3' or "
                   "'status=429,retry_after=1,times=1' (repeatable; see promoter.sandbox.faults).")
@click.option("--seed", type=int, default=None, help="Seed for probabilistic faults.")
@click.option("--github-app", "github_apps", multiple=True, metavar="APP_ID:PUBLIC_KEY_PEM",
              help="Accept JWTs of this GitHub App (its public key file) and issue "
                   "installation tokens (repeatable).")
def serve(root: Path, host: str, port: int, tokens: tuple[str, ...], init_repos: tuple[str, ...],
          faults: tuple[str, ...], seed: int | None, github_apps: tuple[str, ...]) -> None:
    """Serve git smart HTTP and the GitHub/GitLab API subsets from bare repositories."""
    from promoter.sandbox import bare
    from promoter.sandbox.app import build_sandbox
    from promoter.sandbox.faults import FaultInjector

    injector = FaultInjector(seed=seed)
    for spec in faults:
        try:
            injector.add(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
    root = root.resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create --root {root}: {exc.strerror or exc}; choose a directory you can "
            "write to") from None
    for name in init_repos:
        path = root / f"{name.strip('/').removesuffix('.git')}.git"
        if not (path / "HEAD").exists():
            bare.init_bare(path)
    sandbox = build_sandbox(root, tokens=tokens, host=host, port=port, faults=injector)
    for item in github_apps:
        app_id, sep, key_file = item.partition(":")
        if not sep or not app_id.isdigit():
            raise click.BadParameter(f"{item!r}: expected APP_ID:PUBLIC_KEY_PEM_FILE",
                                     param_hint="--github-app")
        try:
            sandbox.github.register_app(int(app_id), Path(key_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"cannot load the public key {key_file}: {exc}",
                                     param_hint="--github-app") from None

    try:
        sandbox.start()
    except OSError as exc:  # port taken, address not on this machine, privileged port
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port "
            "(0 picks a free one) or --host") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with sandbox:
            info = {**sandbox.urls(), "root": str(root), "pid": os.getpid()}
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("sandbox stopped", err=True)
