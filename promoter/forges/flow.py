"""The forge step of ``promote``: after the promotion branch is pushed, open or update its PR.

``promote.open_pull_request`` calls :func:`run_forge`; ``promote.promote`` calls
:func:`forge_credential` before checking out, so that with GitHub App auth the
installation token is what git pushes with too (the same identity opens the PR).

What happens per outcome of the git step (``PromotionResult.branch_state``):

* ``pushed`` / ``current`` (the branch already had exactly this change): find
  the open PR for the branch and create it or update it in place;
* ``base`` (the base already pins the image): the open PR of this branch, if
  any, has nothing left to do: it is closed with a comment;
* ``newer`` (the branch carries a newer image than asked): left alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter import __version__
from promoter.forges.base import MergeMethod, PullRequestSpec
from promoter.forges.render import ChangeRow, Provenance, RenderInput, render_body, render_title

if TYPE_CHECKING:
    from promoter.credentials import Credential
    from promoter.forges.base import Forge
    from promoter.promote import PromotionResult, Request

CLOSE_COMMENT = (
    "Closing: `{base}` already pins {images}, so this promotion branch has nothing left "
    "to change. (promoter)"
)


class ForgeStepError(RuntimeError):
    """The branch was pushed but its pull request could not be opened or updated."""


def _environ(request: Request) -> Mapping[str, str]:
    return os.environ if request.environ is None else request.environ


def _forge_name(request: Request, url: str) -> str:
    from promoter.forges import detect

    if request.forge == "auto":
        return detect(url, request.forge_url, _environ(request))
    return request.forge


def _app_credentials(request: Request) -> Any:
    from promoter.forges.github import AppCredentials, ForgeError
    from promoter.promote import PromotionError

    try:
        return AppCredentials.from_options(
            request.github_app_id, request.github_app_key_file,
            request.github_app_installation_id, env=_environ(request),
        )
    except ForgeError as exc:
        raise PromotionError(str(exc)) from None


def forge_credential(request: Request, url: str, credential: Credential | None
                     ) -> Credential | None:
    """With GitHub App auth, the installation token (for git and API); else ``credential``."""
    if request.mode != "pr" or _forge_name(request, url) != "github":
        return credential
    app = _app_credentials(request)
    if app is None:
        return credential
    from promoter.credentials import Credential
    from promoter.forges.github import GitHubForge

    forge = GitHubForge(url, app=app, forge_url=request.forge_url, env=_environ(request))
    try:
        token = forge.installation_token()
    except Exception as exc:
        from promoter.promote import PromotionError

        raise PromotionError(
            f"GitHub App {app.app_id} could not get an installation token from "
            f"{forge.api_url}: {exc}; check the app id, its private key and that the app is "
            f"installed on {forge.owner}/{forge.repo_name}"
        ) from exc
    return Credential("x-access-token", token, f"GitHub App {app.app_id} installation token")


def make(request: Request, url: str) -> Forge:
    from promoter.credentials import discover
    from promoter.forges import make_forge

    name = _forge_name(request, url)
    env = _environ(request)
    app = _app_credentials(request) if name == "github" else None
    token = None
    if app is None:
        _, cred = discover(request.repo, token_env=request.token_env,
                           token_file=request.token_file, environ=env)
        token = cred.token if cred else None
    return make_forge(name, url, token=token, forge_url=request.forge_url, github_app=app,
                      env=env)


def render_input(request: Request, result: PromotionResult) -> RenderInput:
    from promoter.imageref import try_parse

    refs = [r for r in (try_parse(i) for i in request.images) if r is not None]
    image = ", ".join(r.name for r in refs) or ", ".join(request.images)
    new = ", ".join(r.version for r in refs) or ", ".join(request.images)
    where = request.env or ", ".join(request.paths)
    app = request.app or ", ".join(sorted({r.short_name for r in refs}))
    changes = [ChangeRow(str(e.get("file", "")), str(e.get("old") or ""), str(e.get("new") or ""),
                         e.get("line") if isinstance(e.get("line"), int) else None)
               for e in result.edits]
    errors = [f for f in result.findings if f.get("severity") == "error"]
    skipped = not request.validate or any(m.startswith("validation skipped")
                                          for m in result.messages)
    lines = [f"{f.get('severity', 'info')}: {f.get('file', '')}"
             + (f":{f['line']}" if f.get("line") else "") + f": {f.get('message', '')}"
             for f in result.findings]
    return RenderInput(
        app=app, environment=where, image=image, new=new, branch=result.branch,
        base=result.base, changes=changes,
        validation_ok=None if skipped else not errors,
        validation_lines=lines, provenance=Provenance.from_env(_environ(request)),
        tool_version=__version__,
    )


def build_spec(request: Request, result: PromotionResult) -> PullRequestSpec:
    data = render_input(request, result)
    body_template = None
    if request.body_file:
        try:
            body_template = Path(request.body_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ForgeStepError(f"cannot read --body-file {request.body_file}: "
                                 f"{exc.strerror or exc}") from None
    auto: MergeMethod | None = None
    if request.auto_merge in ("merge", "squash", "rebase"):
        auto = request.auto_merge  # type: ignore[assignment]
    return PullRequestSpec(
        repo_url=result.repo, base=result.base, head=result.branch,
        title=render_title(data, request.title), body=render_body(data, body_template),
        labels=request.labels, reviewers=request.reviewers, assignees=request.assignees,
        draft=request.draft, auto_merge=auto, merge_now=request.merge_now,
        head_sha=result.commit if result.branch_state in ("pushed", "current") else None,
    )


def run_forge(request: Request, result: PromotionResult) -> None:
    """Open/update (or close) the PR of ``result.branch``; fills pr_url, pr_number, messages."""
    state = getattr(result, "branch_state", "pushed" if result.status == "changed" else "")
    if state not in ("pushed", "current", "base"):
        return
    try:
        forge = make(request, result.repo)
        spec = build_spec(request, result)
        if state == "base":
            images = ", ".join(request.images)
            outcome = forge.close_if_empty(spec, CLOSE_COMMENT.format(base=result.base,
                                                                      images=images))
        else:
            outcome = forge.open_or_update(spec)
    except Exception as exc:
        from promoter.promote import PromotionError

        raise PromotionError(
            f"pushed {result.branch} but could not open or update its pull request: {exc}; "
            "run again (the rerun finds the same branch and PR)"
        ) from exc
    if outcome.number is not None:
        result.pr_number = outcome.number
        result.pr_url = outcome.url
    result.messages.extend(outcome.messages)
    if outcome.number is not None and outcome.action not in ("none", "unchanged"):
        result.messages.append(f"pull request #{outcome.number} {outcome.action}")
