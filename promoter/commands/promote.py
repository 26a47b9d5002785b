"""``promoter promote``: the command line over :func:`promoter.promote.promote`."""

from __future__ import annotations

import json
import sys

import click


@click.command("promote")
@click.option("--repo", required=True, help="Git URL (https, ssh, file://) or path of the repo.")
@click.option("--image", "images", multiple=True, required=True,
              help="Image to promote, REPO:TAG or REPO@DIGEST (repeatable).")
@click.option("--path", "paths", multiple=True, required=True,
              help="File or directory in the repo to edit (repeatable).")
@click.option("--base", default="main", show_default=True, help="Base branch.")
@click.option("--mode", type=click.Choice(["pr", "push"]), default="pr", show_default=True,
              help="pr: push a promotion branch; push: commit straight onto the base branch.")
@click.option("--branch", default=None,
              help="Promotion branch (default promoter/<base>/<env-or-path>/<app-or-image>).")
@click.option("--env", "env_name", default=None, help="Environment name (branch and message).")
@click.option("--app", default=None, help="App name (branch name).")
@click.option("--key", "keys", multiple=True, help="Explicit key path to set, as set-image.")
@click.option("--add", is_flag=True, help="Create a missing kustomize images: entry.")
@click.option("--forge", type=click.Choice(["auto", "github", "gitlab", "none"]), default="auto",
              show_default=True,
              help="Forge to open the PR on (auto: from the repo URL and CI variables).")
@click.option("--forge-url", default=None,
              help="Forge API/base URL (GitHub Enterprise, self-managed GitLab).")
@click.option("--label", "labels", multiple=True, help="PR label (repeatable).")
@click.option("--reviewer", "reviewers", multiple=True, help="PR reviewer (repeatable).")
@click.option("--assignee", "assignees", multiple=True, help="PR assignee (repeatable).")
@click.option("--draft", is_flag=True, help="Open the PR as a draft.")
@click.option("--auto-merge", type=click.Choice(["merge", "squash", "rebase"]), default=None,
              is_flag=False, flag_value="merge",
              help="Enable the forge's native auto-merge (default method: merge).")
@click.option("--merge-now", is_flag=True, help="Merge the PR right away (only when asked).")
@click.option("--title", default=None, metavar="TEMPLATE",
              help="PR title template, e.g. 'Deploy {image} {new} to {environment}'.")
@click.option("--body-file", default=None, type=click.Path(dir_okay=False),
              help="PR body template file (fields as --title; values are escaped).")
@click.option("--github-app-id", default=None, help="GitHub App id (App auth).")
@click.option("--github-app-key-file", default=None, type=click.Path(dir_okay=False),
              help="GitHub App private key PEM (or GITHUB_APP_PRIVATE_KEY).")
@click.option("--github-app-installation-id", default=None,
              help="GitHub App installation id (default: looked up for the repository).")
@click.option("--dry-run", is_flag=True, help="Print the plan and the diff; push nothing.")
@click.option("--no-validate", is_flag=True, help="Skip validating the changed files.")
@click.option("--max-attempts", default=10, show_default=True, type=click.IntRange(min=1),
              help="Attempts when racing other pushes.")
@click.option("--token-env", default=None, metavar="NAME",
              help="Environment variable holding the token.")
@click.option("--token-file", default=None, type=click.Path(dir_okay=False),
              help="File holding the token.")
@click.option("--author", default=None, metavar="'NAME <EMAIL>'",
              help="Commit author and committer (default: from CI variables, else promoter).")
@click.option("--workdir", default=None, type=click.Path(file_okay=False),
              help="Check out here and keep it (default: a temporary directory).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--dotenv", "dotenv", default=None, type=click.Path(dir_okay=False),
              help="Write PROMOTER_STATUS/BRANCH/COMMIT/PR_URL/PR_NUMBER here (GitLab dotenv "
                   "report; default: $PROMOTER_DOTENV when set).")
@click.option("--no-ci-outputs", is_flag=True,
              help="Do not write GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, annotations or "
                   "$PROMOTER_DOTENV (an explicit --dotenv is still written).")
def command(
    repo: str,
    images: tuple[str, ...],
    paths: tuple[str, ...],
    base: str,
    mode: str,
    branch: str | None,
    env_name: str | None,
    app: str | None,
    keys: tuple[str, ...],
    add: bool,
    forge: str,
    forge_url: str | None,
    labels: tuple[str, ...],
    reviewers: tuple[str, ...],
    assignees: tuple[str, ...],
    draft: bool,
    auto_merge: str | None,
    merge_now: bool,
    title: str | None,
    body_file: str | None,
    github_app_id: str | None,
    github_app_key_file: str | None,
    github_app_installation_id: str | None,
    dry_run: bool,
    no_validate: bool,
    max_attempts: int,
    token_env: str | None,
    token_file: str | None,
    author: str | None,
    workdir: str | None,
    output: str,
    dotenv: str | None,
    no_ci_outputs: bool,
) -> None:
    """Promote an image into a git repository: check out, edit, validate, commit, push.

    Exit codes: 0 changed, up to date or dry run; 1 failed; 3 validation failed.
    """
    from promoter.promote import Request, promote

    request = Request(
        repo=repo,
        images=images,
        paths=paths,
        base=base,
        mode="push" if mode == "push" else "pr",
        branch=branch,
        env=env_name,
        app=app,
        keys=keys,
        add=add,
        dry_run=dry_run,
        validate=not no_validate,
        max_attempts=max_attempts,
        token_env=token_env,
        token_file=token_file,
        author=author,
        output="json" if output == "json" else "text",
        workdir=workdir,
        forge=forge,
        forge_url=forge_url,
        labels=labels,
        reviewers=reviewers,
        assignees=assignees,
        draft=draft,
        auto_merge=auto_merge,
        merge_now=merge_now,
        title=title,
        body_file=body_file,
        github_app_id=github_app_id,
        github_app_key_file=github_app_key_file,
        github_app_installation_id=github_app_installation_id,
    )
    result = promote(request)
    _ci_outputs(result, dotenv, not no_ci_outputs, token_env, token_file)
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        _print_text(result)
    sys.exit(result.exit_code)


def _ci_outputs(
    result: object, dotenv: str | None, automatic: bool, token_env: str | None,
    token_file: str | None,
) -> None:
    """GitHub step outputs/summary/annotations and the GitLab dotenv (promoter/report.py)."""
    from promoter.promote import PromotionResult
    from promoter.report import CiTargets, targets_from_env, token_secrets, write_ci_outputs

    assert isinstance(result, PromotionResult)
    targets = targets_from_env(dotenv=dotenv, automatic=automatic)
    if targets == CiTargets():
        return  # not in CI and nothing asked for
    secrets = token_secrets(token_env=token_env, token_file=token_file)
    write_ci_outputs(result, targets, secrets=secrets)


def _print_text(result: object) -> None:
    from promoter.promote import PromotionResult

    assert isinstance(result, PromotionResult)
    target = result.branch or result.base
    headline = {
        "changed": f"promoted: pushed {str(result.commit)[:12]} to {target} of {result.repo}",
        "up-to-date": f"up to date: nothing to push to {target} of {result.repo}",
        "dry-run": f"dry run: would commit to {target} of {result.repo}",
        "failed": f"failed: {result.error}",
    }[result.status]
    out = click.echo if result.status != "failed" else _err
    out(headline)
    for edit in result.edits:
        where = f"{edit['file']}:{edit['line']}: {edit['path']}"
        click.echo(f"  {where}: {edit['old']} -> {edit['new']}")
    for finding in result.findings:
        loc = finding.get("file", "")
        if finding.get("line"):
            loc += f":{finding['line']}"
        _err(f"  {finding.get('severity', 'error')}: {loc}: {finding.get('message', '')}")
    if result.status == "dry-run":
        if result.message:
            click.echo("\ncommit message:\n" + result.message)
        if result.diff:
            click.echo(result.diff, nl=False)
    for message in result.messages:
        click.echo(f"note: {message}")
    if result.pr_url:
        click.echo(f"pull request: {result.pr_url}")


def _err(text: str) -> None:
    click.echo(text, err=True)
