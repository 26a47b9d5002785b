"""``promoter demo``: the one-command tour, offline, with nothing but Python and git.

Sections 1-6 and "What next", a few seconds in all:

1. ``set-image`` on a copy of the bundled example tree (``promoter/examples/shop``):
   the summary, the changed lines, and a rerun that changes nothing;
2. a local forge: the sandbox (``promoter.sandbox.app.build_sandbox``) started in
   this process on 127.0.0.1 (ephemeral port, random token that is never printed),
   with a bare repository ``acme/gitops`` holding the example tree on ``main``;
3. a real promotion through :func:`promoter.promote` -- the code path of
   ``promoter promote`` -- with ``--forge github`` against the sandbox's
   ``/api/v3``, the token read from ``PROMOTER_TOKEN``: a pull request for
   ``staging`` (``clusters/staging``) with a label and auto-merge (squash);
4. the same promotion again: up to date, the same PR;
5. a newer version: the same PR, updated;
6. the PR merged through the REST API, as a person pressing "merge" would, and the
   line of ``main`` that now pins the new tag.

Exit 0 when every step did what it shows; 1 with a one-line reason on stderr
(never a traceback) when one did not, e.g. git missing or older than 2.31 (promoter
hands git its settings and the token as environment config, ``GIT_CONFIG_COUNT``),
checked after part 1; 130 on Ctrl-C. The sandbox merges with
``git merge-tree --write-tree`` from git 2.38 on and with a three-way merge in a
private index before that (``promoter.sandbox.bare``).
The sandbox is stopped and the temporary directory removed on every way out
(``--keep`` keeps the directory and prints its path).

Choices: the promotion reads its variables from a mapping built here (only
``PROMOTER_TOKEN``), not from the caller's environment, so the tour behaves the
same inside a CI job (no ``GITHUB_*`` leaking into the PR or the commit author).
127.0.0.1 is added to ``NO_PROXY`` while the tour runs so that a configured HTTP
proxy is not asked for the local server. The seed commit is written with git's
plumbing and a fixed identity, so no git identity needs to be configured.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from promoter.promote import PromotionResult
    from promoter.sandbox.app import ForgeSandbox

DEFAULT_IMAGE = "ghcr.io/acme/web:1.10"
REPO = "acme/gitops"
ENV = "staging"
ENV_PATH = "clusters/staging"
ENV_FILE = "clusters/staging/web-helmrelease.yaml"
FIRST = "ghcr.io/acme/web:1.5.0"
NEWER = "ghcr.io/acme/web:1.5.1"
LABEL = "promotion"
TOKEN_VAR = "PROMOTER_TOKEN"
SEED_AUTHOR = ("promoter demo", "demo@promoter.invalid", None)


def example_tree() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "shop"


class DemoError(RuntimeError):
    """A step of the tour failed; the message says which and why (no token in it)."""


@click.command("demo", help="A one-command tour, offline: set-image on the bundled example "
               "tree, then a real pull request on a local GitHub sandbox.")
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True, metavar="REF",
    help="The image set-image writes into the copy of the example tree (part 1).",
)
@click.option("--keep", is_flag=True,
              help="Keep the temporary directory (example copy, sandbox repositories); "
                   "its path is printed.")
def command(image: str, keep: bool) -> None:
    from promoter.credentials import scrub

    work = Path(tempfile.mkdtemp(prefix="promoter-demo-"))
    token = "demo-" + secrets.token_urlsafe(24)
    code = 0
    try:
        with _no_proxy_for_localhost():
            part_set_image(work, image)
            check_git()
            part_forge(work, token)
        part_next()
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping the sandbox and cleaning up", err=True)
        code = 130
    except Exception as exc:  # the tour never shows a traceback; the message says what failed
        click.echo(f"\ndemo failed: {scrub(str(exc), [token])}", err=True)
        code = 1
    finally:
        if keep:
            click.echo(f"\nkept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if code:
        sys.exit(code)


# ------------------------------------------------------------------ output helpers


def heading(text: str) -> None:
    click.secho(f"\n== {text}", bold=True)


def shell(line: str) -> None:
    click.secho(f"$ {line}", fg="cyan")


def changed_lines(diff: str) -> list[str]:
    """A unified diff reduced to file names and the removed/added lines (no context)."""
    out: list[str] = []
    for line in diff.splitlines():
        if line.startswith("+++ "):
            continue
        if line.startswith("--- "):
            out.append("  " + line[4:].removeprefix("a/"))
        elif line.startswith(("-", "+")):
            out.append("    " + line.rstrip("\r"))
    return out


# ------------------------------------------------------------------ part 1: set-image


def part_set_image(work: Path, image: str) -> None:
    from promoter.commands.set_image import render_text
    from promoter.setimage import set_image

    tree = work / "shop"
    shutil.copytree(example_tree(), tree)
    heading("1. set-image: change only the pinned bytes (a copy of the bundled example tree)")
    click.echo("   a Deployment, a kustomize overlay pinning a digest, Helm values, a Flux "
               "HelmRelease\n   with CRLF line endings, an Argo CD Application")
    here = os.getcwd()
    os.chdir(work)  # so that file names print as shop/...
    try:
        shell(f"promoter set-image shop --image {image} --diff")
        result = set_image(["shop"], [image], diff=True)
        for error in result.errors:
            raise DemoError(f"set-image failed on the example tree: {error}")
        # set-image lists every pin; the changed lines below say the same more vividly,
        # so only its summary and notes are shown here
        listing = render_text(result, dry_run=False).splitlines()
        click.echo(listing[-1])
        for line in listing:
            if line.startswith("  note: "):
                click.echo(line)
        click.echo("\n".join(changed_lines(result.diff)))
        click.echo("-> comments, quotes, CRLF and indentation kept; 1.10 quoted where it would "
                   "read as a number;\n   the production digest no longer matched the new tag, "
                   "so it was removed.")
        shell(f"promoter set-image shop --image {image}   # again")
        again = set_image(["shop"], [image])
        click.echo(render_text(again, dry_run=False).splitlines()[-1])
    finally:
        os.chdir(here)


# ------------------------------------------------------------------ part 2: the forge

# promoter passes settings and the token to git as environment config (GIT_CONFIG_COUNT,
# git 2.31); the sandbox's merges work on older git too (bare.py's fallback).
MIN_GIT = (2, 31)


def git_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from ``git --version`` output, e.g. ``git version 2.39.5``."""
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_git() -> None:
    """Say plainly when git is missing or too old for the promotion, before the sandbox."""
    import subprocess

    if shutil.which("git") is None:
        raise DemoError("git is not on PATH: install git (2.31 or newer) for the rest of the "
                        "tour; promoter runs the git command line")
    proc = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    found = git_version(proc.stdout)
    if found is None or found < MIN_GIT:
        raise DemoError(
            f"the promotion needs git {MIN_GIT[0]}.{MIN_GIT[1]} or newer (promoter passes its "
            "settings and the token to git as GIT_CONFIG_COUNT environment config); found "
            f"{proc.stdout.strip() or 'no version'}: "
            "install a newer git for the rest of the tour"
        )



@dataclass(frozen=True, slots=True)
class Forge:
    """The running sandbox, the demo repository and how to reach them."""

    sandbox: ForgeSandbox
    bare: Path
    token: str

    @property
    def url(self) -> str:
        return self.sandbox.repo_url(REPO)

    @property
    def api_url(self) -> str:
        return self.sandbox.urls()["github_api"]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One GitHub REST call to the sandbox, as any HTTP client would make it."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.api_url}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Accept": "application/vnd.github+json",
                     "Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise DemoError(f"{method} {path} answered {exc.code}: {detail}") from None

    def pulls(self) -> list[dict[str, Any]]:
        answer = self.api("GET", f"/repos/{REPO}/pulls?state=all")
        return answer if isinstance(answer, list) else []


def seed_repository(root: Path, tree: Path) -> Path:
    """``root/acme/gitops.git`` with one commit on ``main`` holding ``tree`` byte for byte."""
    from promoter.sandbox import bare

    repo = bare.init_bare(root / f"{REPO}.git")
    index = root / "seed.index"
    env = {"GIT_INDEX_FILE": str(index), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull}
    bare.run(repo, "-c", "core.autocrlf=false", "--work-tree", str(tree), "add", "-A", ".",
             env=env)
    tree_sha = bare.run(repo, "write-tree", env=env).stdout.decode().strip()
    index.unlink(missing_ok=True)
    sha = bare.commit_tree(repo, tree_sha, [], "the example GitOps tree\n", author=SEED_AUTHOR)
    if not bare.update_ref(repo, "main", sha, None):
        raise DemoError(f"could not create main in {repo}")
    return repo


def promote_once(forge: Forge, image: str, shown: str) -> PromotionResult:
    """Run the promotion of ``image``; ``shown`` is the command line printed for it."""
    from promoter.promote import Request, promote

    request = Request(
        repo=forge.url, images=(image,), paths=(ENV_PATH,), env=ENV, app="web",
        mode="pr", forge="github", forge_url=forge.api_url, token_env=TOKEN_VAR,
        labels=(LABEL,), auto_merge="squash", environ={TOKEN_VAR: forge.token},
    )
    shell(shown)
    result = promote(request)
    if result.status == "failed":
        raise DemoError(f"promote {image} failed: {result.error}")
    return result


def full_command(forge: Forge, image: str) -> str:
    return (f"promoter promote --repo {forge.url} \\\n    --image {image} --path {ENV_PATH} "
            f"--env {ENV} --app web \\\n    --forge github --forge-url {forge.api_url} "
            f"--token-env {TOKEN_VAR} \\\n    --label {LABEL} --auto-merge squash")


def show_result(result: PromotionResult) -> None:
    if result.status == "changed":
        click.echo(f"promoted: pushed {str(result.commit)[:12]} to branch {result.branch}")
        for edit in result.edits:
            old = edit.get("old") or "(none)"
            click.echo(f"  {edit['file']}:{edit['line']}  {edit['path']}: {old} -> {edit['new']}")
        for finding in result.findings:
            click.echo(f"  {finding.get('severity', 'note')}: {finding.get('message', '')}")
        if not any(m.startswith("validation skipped") for m in result.messages):
            click.echo(f"  validated: {len(result.findings)} finding(s) in the changed files")
    else:
        click.echo(f"up to date: nothing pushed to branch {result.branch}")
    for message in result.messages:
        click.echo(f"  note: {message}")
    if result.pr_number is not None:
        click.echo(f"pull request #{result.pr_number}: {result.pr_url}")


def file_line(forge: Forge, ref: str, path: str, needle: str) -> str:
    from promoter.sandbox import bare

    text = bare.run(forge.bare, "show", f"{ref}:{path}").stdout.decode()
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return f"{path}:{number}: {line.strip()}"
    return f"{path}: (no line with {needle!r})"


@contextlib.contextmanager
def running_forge(work: Path, token: str) -> Iterator[Forge]:
    from promoter.sandbox.app import build_sandbox

    root = work / "forge"
    repo = seed_repository(root, example_tree())
    sandbox = build_sandbox(root, tokens=[token])
    with sandbox:  # stopped on every way out, Ctrl-C included
        yield Forge(sandbox, repo, token)


def part_forge(work: Path, token: str) -> None:
    heading("2. A local GitHub in this process (the sandbox: git over HTTP + the REST API)")
    with running_forge(work, token) as forge:
        click.echo(f"   {forge.sandbox.base_url}  (GitHub API at /api/v3; a random token, "
                   f"in {TOKEN_VAR}, never printed)")
        click.echo(f"   repository {REPO}: main has one commit holding the example tree")
        number = step_promote(forge)
        step_rerun(forge)
        head_sha = step_newer(forge, number)
        step_merge(forge, number, head_sha)


def step_promote(forge: Forge) -> int:
    heading(f"3. Promote web to {ENV} through a pull request")
    click.echo(f"   the code path of `promoter promote`; {ENV} is {ENV_FILE}")
    first = promote_once(forge, FIRST, full_command(forge, FIRST))
    show_result(first)
    if first.status != "changed" or first.pr_number is None:
        raise DemoError(f"the first promotion opened no pull request ({first.status})")
    return first.pr_number


def step_rerun(forge: Forge) -> None:
    heading("4. The same promotion again: idempotent, no second pull request")
    again = promote_once(forge, FIRST, "promoter promote ...   # the same command")
    show_result(again)
    pulls = forge.pulls()
    click.echo(f"-> {len(pulls)} pull request(s) in {REPO}: "
               + ", ".join(f"#{p['number']} {p['state']}" for p in pulls))


def step_newer(forge: Forge, number: int) -> str:
    heading("5. A newer version: the same pull request is updated")
    newer = promote_once(forge, NEWER,
                         f"promoter promote ... --image {NEWER} ...   # the rest as before")
    show_result(newer)
    pr = forge.api("GET", f"/repos/{REPO}/pulls/{number}")
    labels = ", ".join(str(label.get("name")) for label in pr.get("labels") or [])
    auto = (pr.get("auto_merge") or {}).get("merge_method", "off")
    click.echo(f"-> #{pr['number']} {pr['title']!r}, labels: {labels or '-'}, "
               f"auto-merge: {auto}")
    return str(pr["head"]["sha"])


def step_merge(forge: Forge, number: int, head_sha: str) -> None:
    from promoter.sandbox import bare

    heading("6. Merge the pull request, as a person pressing \"Squash and merge\"")
    shell(f"curl -X PUT -H \"Authorization: token ${TOKEN_VAR}\" \\\n"
          f"    {forge.api_url}/repos/{REPO}/pulls/{number}/merge "
          "-d '{\"merge_method\": \"squash\"}'")
    merged = forge.api("PUT", f"/repos/{REPO}/pulls/{number}/merge",
                       {"merge_method": "squash", "sha": head_sha})
    if not merged.get("merged"):
        raise DemoError(f"the sandbox did not merge #{number}: {merged.get('message')}")
    click.echo(f"merged: squash commit {str(merged.get('sha'))[:12]}")
    click.echo("main now:")
    for line in bare.out(forge.bare, "log", "--format=%h %s", "main").splitlines():
        click.echo(f"  {line}")
    pinned = file_line(forge, "main", ENV_FILE, "tag:")
    click.echo(f"  {pinned}")
    version = NEWER.rsplit(":", 1)[1]
    if not re.search(rf"tag: \"?{re.escape(version)}\"? ", pinned):
        raise DemoError(f"main does not carry {version} after the merge: {pinned}")


# ------------------------------------------------------------------ part 3: what next


def part_next() -> None:
    heading("What next")
    for command, what in (
        ("promoter promote --help", "promote into your own repository (GitHub, GitLab, push)"),
        ("promoter set-image --help", "edit a local checkout, no git involved"),
        ("promoter validate PATH...", "YAML, Kubernetes schemas, kustomize, policies"),
        ("ci-templates/", "in the source tree: a GitHub Action and a GitLab CI job"),
        ("promoter sandbox serve", "this local forge, for your own experiments"),
    ):
        click.echo(f"  {command:<27} {what}")


@contextlib.contextmanager
def _no_proxy_for_localhost() -> Iterator[None]:
    """Put 127.0.0.1 in NO_PROXY/no_proxy while the tour runs (git and HTTP clients read it)."""
    saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
    for name, value in saved.items():
        extra: Sequence[str] = [v for v in (value or "").split(",") if v]
        os.environ[name] = ",".join([*extra, "127.0.0.1", "localhost"])
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
