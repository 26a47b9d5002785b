"""``promote(request)``: check out, edit, validate, commit, push; git is the lock.

The one place that knows the order of a promotion (see DESIGN.md "Data flow"):

1. :func:`promoter.git.checkout` -- partial, sparse, shallow clone of ``base``;
2. :func:`apply_edit` -- the edit is one call of :func:`promoter.setimage.set_image`,
   re-run on the *current* tip for every attempt (a semantic re-apply, never a
   textual rebase), so different files or different keys never conflict;
3. :func:`run_validation` -- ``promoter.validate.api.validate`` on the changed files;
   any ``error`` finding pushes nothing (exit 3);
4. commit (author/committer from ``--author`` or CI variables; trailers
   ``Promoted-Image``, ``Previous-Image``, ``Source-Repository``, ``Source-Commit``,
   ``Pipeline-URL``, ``Promoted-By``) and push:

   * ``push`` mode: onto ``base``; a lost race (non-fast-forward) fetches the new
     tip, re-applies and pushes again with jittered exponential backoff, up to
     ``max_attempts``;
   * ``pr`` mode: the deterministic branch :func:`branch_name` is rebuilt from
     the latest base and pushed with ``--force-with-lease`` against the sha last
     seen. A branch that already carries this or a newer image stops the run as
     up to date. Commits on the branch without a ``Promoted-By`` trailer (made by
     people) are cherry-picked onto the new base, never dropped; if one no longer
     applies, the run stops and says so;
5. :func:`open_pull_request` -- the forge step after the push (``--forge none``
   prints where to open the pull request). Forge plug-ins hook in there only.

Exit codes: 0 changed / up to date / dry run, 1 failure, 3 validation failed.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import types
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promoter import __version__
from promoter.credentials import Credential, CredentialError, discover, scrub
from promoter.git import GitError, Identity, Workspace, checkout, normalise_paths
from promoter.imageref import ImageRef, InvalidReference, parse, try_parse

if TYPE_CHECKING:
    from promoter.yamledit.model import Edit, Result

Mode = Literal["pr", "push"]
Status = Literal["changed", "up-to-date", "dry-run", "failed"]
TRAILER = "Promoted-By"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 3

DEFAULT_IDENTITY = Identity("promoter", "promoter@localhost")


@dataclass(frozen=True, slots=True)
class Request:
    repo: str  # git URL (http(s), ssh, file://) or local path
    images: tuple[str, ...]
    paths: tuple[str, ...]
    base: str = "main"
    mode: Mode = "pr"
    branch: str | None = None  # overrides the deterministic promotion branch
    env: str | None = None  # environment name, used in branch name and message
    app: str | None = None  # app name, used in the branch name
    keys: tuple[str, ...] = ()  # explicit key paths, as set-image --key
    add: bool = False
    dry_run: bool = False
    validate: bool = True
    max_attempts: int = 10
    token_env: str | None = None
    token_file: str | None = None
    author: str | None = None
    output: Literal["text", "json"] = "text"
    # Where to check out; None = a temporary directory removed afterwards.
    workdir: str | None = None
    # Forge options, used by the step after the push (open_pull_request).
    forge: str = "none"
    forge_url: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: str | None = None
    merge_now: bool = False
    title: str | None = None
    body_file: str | None = None
    github_app_id: str | None = None
    github_app_key_file: str | None = None
    github_app_installation_id: str | None = None
    # CI variables (GITHUB_*, GITLAB_*, CI_*) and tokens; None = os.environ.
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class PromotionResult:
    status: Status
    mode: Mode
    repo: str  # without credentials
    base: str
    branch: str
    commit: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    attempts: int = 0
    pr_url: str | None = None
    pr_number: int | None = None
    # pr mode: pushed | current (branch already right) | newer | base (base already pins it)
    branch_state: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    diff: str = ""
    error: str | None = None
    exit_code: int = EXIT_OK
    message: str = ""  # the commit message (or the one that would be used)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PromotionError(RuntimeError):
    """A promotion that cannot go on; the message says what, where and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ------------------------------------------------------------------ naming


_REF_BAD = re.compile(r"[^A-Za-z0-9._/+-]+")


def sanitise_ref(text: str) -> str:
    """Make ``text`` a valid git branch name (git check-ref-format rules), stable per input."""
    out = _REF_BAD.sub("-", text)
    parts = []
    for part in out.split("/"):
        part = part.strip(".-")
        part = part.replace("..", ".")
        while part.endswith(".lock"):
            part = part[: -len(".lock")]
        if part:
            parts.append(part)
    return "/".join(parts) or "default"


def branch_name(
    base: str, env: str | None, paths: Sequence[str], app: str | None, images: Sequence[ImageRef]
) -> str:
    """``promoter/<base>/<env-or-path>/<app-or-repository>``, sanitised and deterministic.

    Each of the three parts is flattened to one ref component (``/`` becomes ``-``)
    so that two promotion branches can never collide as file and directory in
    git's ref store (``a/b`` next to ``a/b/c``).
    """
    where = env or "+".join(p for p in normalise_paths(paths) if p) or "root"
    what = app or "+".join(sorted({ref.short_name for ref in images}))
    parts = [sanitise_ref(part.replace("/", "-")) for part in (base, where, what)]
    name = "promoter/" + "/".join(parts)
    if len(name) > 200:
        import hashlib

        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = name[:186].rstrip("/.-") + "-" + digest
    return name


def author_identity(author: str | None, environ: Mapping[str, str]) -> Identity:
    """``--author``, else the CI user (GitHub Actions, GitLab CI), else the promoter bot."""
    if author:
        return Identity.parse(author)
    actor = environ.get("GITHUB_ACTOR")
    if actor:
        return Identity(actor, f"{actor}@users.noreply.github.com")
    name, email = environ.get("GITLAB_USER_NAME"), environ.get("GITLAB_USER_EMAIL")
    if name and email:
        return Identity(name, email)
    return DEFAULT_IDENTITY


def ci_trailers(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Source-Repository, Source-Commit and Pipeline-URL from the CI variables present."""
    out: list[tuple[str, str]] = []
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    if repo:
        server = (server or "https://github.com").rstrip("/")
        out.append(("Source-Repository", f"{server}/{repo}"))
        if environ.get("GITHUB_SHA"):
            out.append(("Source-Commit", environ["GITHUB_SHA"]))
        if environ.get("GITHUB_RUN_ID"):
            out.append(("Pipeline-URL", f"{server}/{repo}/actions/runs/{environ['GITHUB_RUN_ID']}"))
        return out
    if environ.get("CI_PROJECT_URL"):
        out.append(("Source-Repository", environ["CI_PROJECT_URL"]))
    if environ.get("CI_COMMIT_SHA"):
        out.append(("Source-Commit", environ["CI_COMMIT_SHA"]))
    if environ.get("CI_PIPELINE_URL"):
        out.append(("Pipeline-URL", environ["CI_PIPELINE_URL"]))
    return out


def commit_message(
    images: Sequence[ImageRef],
    where: str,
    previous: Sequence[str],
    environ: Mapping[str, str],
) -> str:
    what = ", ".join(f"{ref.name} to {ref.version}" for ref in images)
    lines = [f"promote {what} in {where}", ""]
    lines += [f"Promoted-Image: {ref}" for ref in images]
    lines += [f"Previous-Image: {p}" for p in previous]
    lines += [f"{k}: {v}" for k, v in ci_trailers(environ)]
    lines.append(f"{TRAILER}: promoter {__version__}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ versions

_SEMVER = re.compile(
    r"\A[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\Z"
)


def _version_parts(value: str) -> tuple[str | None, str | None]:
    """(tag, digest) of a written value: a full reference, a bare tag or a bare digest."""
    if re.match(r"\A[A-Za-z][A-Za-z0-9]*:[0-9a-fA-F]{32,}\Z", value):
        return None, value
    if "/" in value or ":" in value or "@" in value:
        ref = try_parse(value)
        if ref is not None:
            return ref.tag, ref.digest
    return value, None


def _semver_key(tag: str) -> tuple[Any, ...] | None:
    m = _SEMVER.match(tag)
    if m is None:
        return None
    nums = tuple(int(g) if g else 0 for g in m.groups()[:4])
    pre = m.group(5)
    # A pre-release sorts before its release; pre-release identifiers compare per semver.
    pre_key: tuple[Any, ...] = (1,) if pre is None else (
        0,
        *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")),
    )
    return (*nums, pre_key)


def compare_versions(current: str, wanted: str) -> Literal["same", "newer", "older", "unknown"]:
    """How the value written in a file (``current``) relates to the ``wanted`` one.

    Digest aware: equal digests are the same image whatever the tags say. Tags
    compare as semantic versions (``v`` prefix, missing minor/patch, pre-releases);
    tags that are not versions are only ever "same" or "unknown".
    """
    if current == wanted:
        return "same"
    ctag, cdig = _version_parts(current)
    wtag, wdig = _version_parts(wanted)
    if cdig and wdig:
        if cdig == wdig:
            return "same"
    if ctag and wtag:
        if ctag == wtag and not (cdig and wdig):
            return "same"
        ck, wk = _semver_key(ctag), _semver_key(wtag)
        if ck is not None and wk is not None:
            if ck == wk:
                return "same" if not (cdig and wdig) else "unknown"
            return "newer" if ck > wk else "older"
    return "unknown"


# ------------------------------------------------------------------ steps


def apply_edit(ws: Workspace, request: Request, *, dry_run: bool, diff: bool = False) -> Result:
    """The edit: one call of ``set_image`` on the work tree's current files."""
    from promoter.setimage import set_image

    targets = [str(ws.path / p) if p != "." else str(ws.path) for p in ws.paths]
    return set_image(
        targets, list(request.images), keys=request.keys, add=request.add,
        dry_run=dry_run, diff=diff,
    )


def run_validation(ws: Workspace, files: Sequence[str]) -> list[Any] | None:
    """Validate changed files; None when the validation module is not installed."""
    try:
        from promoter.validate.api import validate
    except ImportError:
        return None
    return list(validate([str(ws.path / f) for f in files]))


def open_pull_request(request: Request, result: PromotionResult) -> None:
    """The forge step, after the promotion branch is pushed (pr mode only).

    ``forge == "none"``: say where to open the pull request (a compare link for
    GitHub- and GitLab-looking URLs). Other forges: ``promoter.forges.flow.run_forge``.
    """
    if request.forge not in ("none", ""):
        from promoter.forges.flow import run_forge

        run_forge(request, result)
        return
    if result.status != "changed":
        return
    if request.forge in ("none", ""):
        link = compare_link(result.repo, result.base, result.branch)
        if link:
            result.messages.append(f"open a pull request: {link}")
        else:
            result.messages.append(
                f"pushed {result.branch}; open a pull request from it into {result.base}"
            )
        return
    raise PromotionError(
        f"--forge {request.forge} is not available in this version; use --forge none"
    )


def compare_link(repo_url: str, base: str, branch: str) -> str | None:
    """Web compare URL for GitHub/GitLab style remotes (https or scp-like ssh); else None."""
    url = repo_url
    m = re.match(r"\A(?:ssh://)?git@([^:/]+)[:/](.+)\Z", url)
    if m:
        url = f"https://{m.group(1)}/{m.group(2)}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = parts.path.rstrip("/").removesuffix(".git")
    host = parts.hostname.lower()
    if "gitlab" in host:
        return f"{parts.scheme}://{parts.netloc}{path}/-/compare/{base}...{branch}"
    if "github" in host:
        return f"{parts.scheme}://{parts.netloc}{path}/compare/{base}...{branch}?expand=1"
    return None


# ------------------------------------------------------------------ orchestration


def promote(request: Request) -> PromotionResult:
    """Run one promotion; never raises for expected failures (``status == "failed"``)."""
    environ = os.environ if request.environ is None else request.environ
    credential: Credential | None = None
    clean_url = request.repo
    result = PromotionResult(
        status="failed", mode=request.mode, repo=clean_url, base=request.base, branch=""
    )
    try:
        clean_url, credential = discover(
            request.repo, token_env=request.token_env, token_file=request.token_file,
            environ=environ,
        )
        result.repo = clean_url
        if request.forge not in ("none", "") and not request.dry_run:
            from promoter.forges.flow import forge_credential

            credential = forge_credential(request, clean_url, credential)
        _promote(request, clean_url, credential, environ, result)
    except (PromotionError, GitError, CredentialError, InvalidReference, ValueError) as exc:
        result.status = "failed"
        result.exit_code = exc.exit_code if isinstance(exc, PromotionError) else EXIT_FAILED
        result.error = str(exc)
    except OSError as exc:  # a full disk, an unwritable temporary directory, ...
        result.status = "failed"
        result.exit_code = EXIT_FAILED
        result.error = (
            f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            + "; check free space and permissions there (TMPDIR, --workdir), then run again"
        )
    secrets = credential.secrets() if credential else ()
    if result.error:
        result.error = scrub(result.error, secrets)
    result.messages = [scrub(m, secrets) for m in result.messages]
    result.repo = scrub(result.repo, secrets)
    return result


def _promote(
    request: Request,
    url: str,
    credential: Credential | None,
    environ: Mapping[str, str],
    result: PromotionResult,
) -> None:
    if not request.images:
        raise PromotionError("no --image given: name the image to promote, e.g. app:1.2.3")
    if not request.paths:
        raise PromotionError("no --path given: name the files or directories to edit")
    if request.max_attempts < 1:
        raise PromotionError("--max-attempts must be at least 1")
    refs = [parse(i) for i in request.images]
    for ref in refs:
        if ref.tag is None and ref.digest is None:
            raise PromotionError(
                f"--image {ref} has no tag or digest: give the version to promote, "
                f"e.g. {ref.name}:1.2.3"
            )
    identity = author_identity(request.author, environ)
    result.branch = (
        request.base if request.mode == "push"
        else sanitise_ref(request.branch) if request.branch
        else branch_name(request.base, request.env, request.paths, request.app, refs)
    )
    where = request.env or ", ".join(p for p in normalise_paths(request.paths) if p) or "/"
    tmp: str | None = None
    if request.workdir:
        dest = Path(request.workdir)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PromotionError(
                f"cannot create --workdir {dest}: {exc.strerror or exc} ({exc.filename}); "
                "choose a directory you can write to"
            ) from None
    else:
        tmp = tempfile.mkdtemp(prefix="promoter-")
        dest = Path(tmp) / "checkout"
    # Import the editing engine and the validators while git clones (saves their import time).
    warm = threading.Thread(target=_warm_imports, daemon=True)
    warm.start()
    try:
        ws = checkout(
            url, dest, base=request.base, paths=request.paths,
            credential=credential, identity=identity,
            lookup=[result.branch] if request.mode == "pr" and not request.dry_run else [],
        )
        warm.join()
        result.messages.extend(ws.notes)
        missing = [p for p in ws.paths if not (ws.path / p).exists()]
        if missing:
            raise PromotionError(
                f"--path {', '.join(missing)} does not exist on branch {request.base} of "
                f"{url}: give paths relative to the repository root"
            )
        ctx = _Ctx(request, ws, refs, where, environ, result)
        if request.dry_run:
            _dry_run(ctx)
        elif request.mode == "push":
            _push_mode(ctx)
        else:
            _pr_mode(ctx)
            if result.status == "changed" or request.forge not in ("none", ""):
                open_pull_request(request, result)
    finally:
        # A failed checkout skips the join above: no import may outlive this promotion (a
        # later import racing it in another thread could see a half-initialised module).
        warm.join()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _warm_imports() -> None:
    import contextlib
    import importlib

    for name in ("promoter.setimage", "promoter.validate.api"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)


@dataclass(slots=True)
class _Ctx:
    request: Request
    ws: Workspace
    refs: list[ImageRef]
    where: str
    environ: Mapping[str, str]
    result: PromotionResult


def _relative(ws: Workspace, name: str) -> str:
    try:
        return Path(name).resolve().relative_to(ws.path.resolve()).as_posix()
    except ValueError:
        return name


def _record_edits(ctx: _Ctx, res: Result) -> list[str]:
    """Fill result.edits/previous/message from an edit result; return changed files."""
    ws, result = ctx.ws, ctx.result
    result.edits = []
    for edit in res.edits:
        item = edit.to_dict()
        item["file"] = _relative(ws, edit.file)
        result.edits.append(item)
    result.previous = previous_images(ctx.refs, res.edits)
    result.message = commit_message(ctx.refs, ctx.where, result.previous, ctx.environ)
    return [_relative(ws, f) for f in res.changed_files]


def _in_checkout(ws: Workspace, text: str) -> str:
    """``text`` with the checkout's directory taken off the paths it names."""
    return text.replace(str(ws.path.resolve()) + "/", "").replace(str(ws.path) + "/", "")


def _edit(ctx: _Ctx) -> tuple[Result, list[str]]:
    """Edit the checkout: (edit result, changed files relative to the repository).

    A file that cannot be edited, or nothing under the paths pinning the images,
    raises ``PromotionError``.
    """
    res = apply_edit(ctx.ws, ctx.request, dry_run=False)
    if res.errors:
        details = "; ".join(_in_checkout(ctx.ws, str(e)) for e in res.errors)
        raise PromotionError(f"cannot edit the manifests: {details}")
    if not res.edits and not getattr(res, "up_to_date", None):
        raise _not_found_error(ctx)
    return res, _record_edits(ctx, res)


def _not_found_error(ctx: _Ctx) -> PromotionError:
    names = ", ".join(ref.name for ref in ctx.refs)
    paths = " ".join(ctx.ws.paths)
    return PromotionError(
        f"nothing under {paths} (branch {ctx.request.base} of {ctx.result.repo}) pins {names}: "
        "check --path and --image"
    )


def _validate(ctx: _Ctx, changed: list[str]) -> None:
    if not ctx.request.validate or not changed:
        return
    findings = run_validation(ctx.ws, changed)
    if findings is None:
        ctx.result.messages.append("validation skipped: promoter.validate is not available")
        return
    items = []
    for f in findings:
        item = asdict(f) if hasattr(f, "__dataclass_fields__") else {"message": str(f)}
        if isinstance(item.get("file"), str):
            item["file"] = _in_checkout(ctx.ws, item["file"])
        items.append(item)
    ctx.result.findings = items
    errors = [i for i in items if i.get("severity") == "error"]
    if errors:
        raise PromotionError(
            f"validation failed with {len(errors)} error(s); nothing was pushed",
            exit_code=EXIT_INVALID,
        )


def _dry_run(ctx: _Ctx) -> None:
    # Edit the throw-away checkout for real so that `git diff` gives repository-relative
    # paths; nothing is committed or pushed.
    res, _ = _edit(ctx)
    ctx.result.diff = ctx.ws.git.run("diff", "--no-color", "--no-ext-diff").stdout
    ctx.result.status = "dry-run"
    ctx.result.attempts = 1
    ctx.result.commit = ctx.ws.head()
    if not res.edits:
        ctx.result.messages.append("already up to date: nothing would change")


def _gave_up(ctx: _Ctx, ref: str) -> PromotionError:
    return PromotionError(
        f"gave up after {ctx.request.max_attempts} attempts: {ref} of {ctx.result.repo} kept "
        "moving; run again or raise --max-attempts"
    )


def _backoff(attempt: int) -> None:
    """Jittered exponential backoff before attempt ``attempt + 1``."""
    base = 0.2 * (2 ** min(attempt - 1, 5))
    time.sleep(min(base, 5.0) * random.uniform(0.5, 1.5))


def _push_mode(ctx: _Ctx) -> None:
    ws, result, request = ctx.ws, ctx.result, ctx.request
    for attempt in range(1, request.max_attempts + 1):
        result.attempts = attempt
        if attempt > 1:
            ws.fetch_base()
            ws.reset(f"refs/remotes/origin/{request.base}")
        res, changed = _edit(ctx)
        if not res.edits:
            result.status = "up-to-date"
            result.commit = ws.head()
            result.messages.append(f"already up to date on {request.base}: nothing pushed")
            return
        _validate(ctx, changed)
        sha = ws.commit(result.message)
        if sha is None:
            result.status = "up-to-date"
            return
        pushed = ws.push(request.base)
        if pushed.ok:
            result.status = "changed"
            result.commit = sha
            return
        result.messages.append(f"attempt {attempt}: push lost a race ({pushed.summary})")
        if attempt < request.max_attempts:
            _backoff(attempt)
    raise _gave_up(ctx, request.base)


def _branch_carries(ctx: _Ctx, own: Sequence[str]) -> Literal["newer", "other"]:
    """Does the promotion branch already carry a newer image than the one requested?

    Read from the ``Promoted-Image`` trailers of the branch's latest promoter commit
    (no checkout needed): "newer" when, for every requested image, that commit
    promoted the same repository at the same or a newer version, and at least one
    is newer. Equal images are not "newer": the tree comparison later decides.
    """
    for sha in reversed(own):
        if not ctx.ws.trailers(sha, TRAILER):
            continue
        promoted = [r for r in (try_parse(t) for t in ctx.ws.trailers(sha, "Promoted-Image")) if r]
        verdicts = set()
        for ref in ctx.refs:
            match = next((p for p in promoted if p.same_repository(ref)), None)
            if match is None:
                return "other"
            verdicts.add(compare_versions(match.version, ref.version))
        return "newer" if verdicts <= {"newer", "same"} and "newer" in verdicts else "other"
    return "other"


def _pr_mode(ctx: _Ctx) -> None:
    ws, result, request = ctx.ws, ctx.result, ctx.request
    branch = result.branch
    base_ref = f"refs/remotes/origin/{request.base}"
    for attempt in range(1, request.max_attempts + 1):
        result.attempts = attempt
        base_sha = ws.fetch_base() if attempt > 1 else ws.git.out("rev-parse", base_ref)
        existing = ws.fetch_branch(branch)
        tip: str | None = None
        foreign: list[str] = []
        if existing is not None:
            tip, own = existing
            foreign = [c for c in own if not ws.trailers(c, TRAILER)]
            if _branch_carries(ctx, own) == "newer":
                result.status = "up-to-date"
                result.commit = tip
                result.branch_state = "newer"
                result.messages.append(
                    f"{branch} already carries a newer image than "
                    f"{', '.join(request.images)}: nothing pushed"
                )
                return
        if attempt > 1:
            ws.reset(base_ref)  # else the fresh checkout already is the base tip
        if foreign:
            ws.fetch_parents(branch)
        for sha in foreign:
            outcome = ws.cherry_pick(sha)
            if outcome == "conflict":
                raise PromotionError(
                    f"{branch} has a commit not made by promoter ({sha[:12]} "
                    f"{ws.subject(sha)!r}) that no longer applies on the latest {request.base}; "
                    "promoter will not discard it: rebase or merge that branch by hand (or "
                    "delete it), then run again"
                )
            if outcome == "applied":
                subject = ws.subject(sha)
                result.messages.append(f"kept commit {sha[:12]} {subject!r} (not promoter's)")
        res, changed = _edit(ctx)
        _validate(ctx, changed)
        if res.edits:
            ws.commit(result.message)
        head = ws.head()
        if head == base_sha:
            result.status = "up-to-date"
            result.commit = base_sha
            result.branch_state = "base"
            result.messages.append(
                f"{request.base} already pins {', '.join(request.images)}: nothing pushed"
            )
            return
        # same content *and* built on the current base; a base that moved under the branch
        # (e.g. into a conflict on the same line) means the branch must be rebuilt and pushed
        if (tip is not None and ws.tree(head) == ws.tree(tip)
                and _built_on(ws, own, base_sha)):
            result.status = "up-to-date"
            result.commit = tip
            result.branch_state = "current"
            result.messages.append(f"{branch} is already up to date: nothing pushed")
            return
        pushed = ws.push(branch, lease=tip)
        if pushed.ok:
            result.status = "changed"
            result.branch_state = "pushed"
            result.commit = head
            return
        result.messages.append(f"attempt {attempt}: {branch} moved meanwhile ({pushed.summary})")
        if attempt < request.max_attempts:
            _backoff(attempt)
    raise _gave_up(ctx, branch)


def _built_on(ws: Workspace, own: Sequence[str], base_sha: str) -> bool:
    """Is the branch whose own commits are ``own`` (oldest first) built on ``base_sha``?

    Reads the raw commit object (``cat-file``), which names its parent even in a
    shallow clone where the parent itself was not fetched.
    """
    if not own:
        return True
    for line in ws.git.out("cat-file", "-p", own[0]).splitlines():
        if line.startswith("parent "):
            return line.split()[1] == base_sha
        if not line:
            break
    return False


def previous_images(refs: Sequence[ImageRef], edits: Sequence[Edit]) -> list[str]:
    """The full references the edits replaced, in order, without repeats."""
    out: list[str] = []
    for edit in edits:
        if not edit.old:
            continue
        ref = _image_for(refs, edit.new or "")
        old = edit.old
        parsed = try_parse(old) if ("/" in old or ":" in old or "@" in old) else None
        if parsed is not None and ref is not None and parsed.same_repository(ref):
            text = str(parsed)
        elif ref is None:
            text = old
        elif re.match(r"\A[A-Za-z][A-Za-z0-9]*:[0-9a-fA-F]{32,}\Z", old):
            text = f"{ref.name}@{old}"
        else:
            text = f"{ref.name}:{old}"
        if text not in out:
            out.append(text)
    return out


def _image_for(refs: Sequence[ImageRef], new: str) -> ImageRef | None:
    if len(refs) == 1:
        return refs[0]
    for ref in refs:
        if new in (str(ref), ref.tag, ref.digest, ref.version) or new.endswith(ref.version):
            return ref
    parsed = try_parse(new)
    if parsed is not None:
        for ref in refs:
            if parsed.same_repository(ref):
                return ref
    return None


class _CallableModule(types.ModuleType):
    """``promoter.promote`` is both this module and the library function.

    Importing the submodule makes the package attribute ``promoter.promote`` the
    module (shadowing the lazy re-export in ``promoter/__init__.py``), so the module
    itself is callable: ``from promoter import promote; promote(Request(...))`` works
    in either case.
    """

    def __call__(self, request: Request) -> PromotionResult:
        return promote(request)


sys.modules[__name__].__class__ = _CallableModule
