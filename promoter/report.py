"""CI-native outputs of a promotion: GitHub step outputs and job summary, GitLab dotenv.

What the run tells machines and people besides ``--output text|json``
(DESIGN.md "Data flow", ``report.*``):

* **GitHub Actions** -- when ``GITHUB_OUTPUT`` is set, the step outputs ``status``,
  ``branch``, ``commit``, ``pr-url``, ``pr-number``, ``changed-files`` (JSON list)
  and ``edits`` (JSON list of ``{file, line, path, old, new}``; both describe the
  promotion's change against the base, so a rerun that finds the promotion branch
  already up to date still lists them) are appended, each
  in the ``name<<DELIMITER`` form with a random delimiter that does not occur in the
  value, so no value can end its own entry and smuggle in another output. When
  ``GITHUB_STEP_SUMMARY`` is set, a markdown summary is appended: status, pull
  request link, a table ``file | old → new`` and the findings; everything that
  comes from outside (tags, paths, messages) is escaped with
  :func:`promoter.forges.render.escape_markdown`, so a tag cannot inject markdown,
  HTML, links or @mentions. When validation failed inside Actions
  (``GITHUB_ACTIONS=true``), the findings are also printed as workflow commands
  (``::error file=…,line=…::``) with :func:`promoter.validate.output.github`; they go
  to stderr so that ``--output json`` keeps stdout parseable (the runner reads
  workflow commands from both streams). Their paths are relative to the manifest
  repository, so they annotate the run, not a diff of the repository running it.
* **GitLab CI** -- :func:`write_dotenv` writes ``PROMOTER_STATUS``, ``PROMOTER_BRANCH``,
  ``PROMOTER_COMMIT``, ``PROMOTER_PR_URL`` and ``PROMOTER_PR_NUMBER`` as
  ``KEY=value`` lines for ``artifacts:reports:dotenv``. GitLab's dotenv reader takes
  one line per variable, keeps quotes as they are and strips surrounding blanks,
  so values are written unquoted with control characters and line breaks replaced
  by spaces. Only written when asked (``--dotenv PATH`` or ``PROMOTER_DOTENV``);
  the file is replaced, not appended to.

Every text written goes through :func:`promoter.credentials.scrub` with the
secrets of every token variable in the environment (the result objects are
already scrubbed by :func:`promoter.promote.promote`; this is a second net).
A CI output that cannot be written is a warning, not a failed promotion: the
push already happened.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _random
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from promoter.credentials import Credential, scrub

if TYPE_CHECKING:
    from promoter.promote import PromotionResult

# Variables that may hold a token (credentials.discover's list) and the Basic user names.
TOKEN_VARS = ("PROMOTER_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")
_TOKEN_USERS = ("x-access-token", "oauth2", "gitlab-ci-token")

OUTPUT_NAMES = ("status", "branch", "commit", "pr-url", "pr-number", "changed-files", "edits")
DOTENV_NAMES = (
    "PROMOTER_STATUS", "PROMOTER_BRANCH", "PROMOTER_COMMIT", "PROMOTER_PR_URL",
    "PROMOTER_PR_NUMBER",
)
# Values made only of these characters are written as ``name=value``; all others
# use the delimiter form.
_PLAIN_VALUE = re.compile(r"\A[A-Za-z0-9._/:@+#=-]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# A job summary is at most 1 MiB per step on GitHub; keep ours well below.
SUMMARY_DIFF_LIMIT = 64 * 1024
_EDIT_KEYS = ("file", "line", "path", "old", "new")


@dataclass(frozen=True, slots=True)
class CiTargets:
    """Where the CI outputs of one run go (None = not written)."""

    github_output: Path | None = None
    github_step_summary: Path | None = None
    dotenv: Path | None = None
    annotations: bool = False


def targets_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    dotenv: str | None = None,
    automatic: bool = True,
) -> CiTargets:
    """The outputs to write: ``--dotenv`` always; the rest only when ``automatic``.

    Automatic ones: ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, annotations when
    ``GITHUB_ACTIONS=true``, and ``PROMOTER_DOTENV`` when no ``--dotenv`` is given.
    """
    env = os.environ if environ is None else environ

    def path(name: str) -> Path | None:
        value = env.get(name, "").strip()
        return Path(value) if value and automatic else None

    chosen = Path(dotenv) if dotenv else path("PROMOTER_DOTENV")
    return CiTargets(
        github_output=path("GITHUB_OUTPUT"),
        github_step_summary=path("GITHUB_STEP_SUMMARY"),
        dotenv=chosen,
        annotations=automatic and env.get("GITHUB_ACTIONS") == "true",
    )


def token_secrets(
    environ: Mapping[str, str] | None = None,
    *,
    token_env: str | None = None,
    token_file: str | None = None,
) -> tuple[str, ...]:
    """Every spelling (raw, URL-quoted, Basic) of every token the environment offers."""
    env = os.environ if environ is None else environ
    tokens = {env.get(name, "").strip() for name in (*TOKEN_VARS, token_env or "")}
    if token_file:
        try:
            tokens.add(Path(token_file).read_text(encoding="utf-8").strip())
        except OSError:
            pass  # discover() already reported an unreadable token file
    users = {*_TOKEN_USERS, env.get("PROMOTER_TOKEN_USER", "") or "x-access-token"}
    out: set[str] = set()
    for token in tokens:
        if token:
            for user in users:
                out.update(Credential(user, token, "").secrets())
    return tuple(sorted(out))


# ------------------------------------------------------------------ values


def changed_files(result: PromotionResult) -> list[str]:
    """Files the edits touched, in first-edit order, without repeats."""
    out: list[str] = []
    for edit in result.edits:
        name = str(edit.get("file", ""))
        if name and name not in out:
            out.append(name)
    return out


def edit_rows(result: PromotionResult) -> list[dict[str, Any]]:
    return [{k: edit.get(k) for k in _EDIT_KEYS} for edit in result.edits]


def github_outputs(result: PromotionResult) -> dict[str, str]:
    """The step outputs, by name (empty strings for what the run did not produce)."""
    return {
        "status": result.status,
        "branch": result.branch or "",
        "commit": result.commit or "",
        "pr-url": result.pr_url or "",
        "pr-number": "" if result.pr_number is None else str(result.pr_number),
        "changed-files": json.dumps(changed_files(result)),
        "edits": json.dumps(edit_rows(result), sort_keys=True),
    }


def dotenv_values(result: PromotionResult) -> dict[str, str]:
    return {
        "PROMOTER_STATUS": result.status,
        "PROMOTER_BRANCH": result.branch or "",
        "PROMOTER_COMMIT": result.commit or "",
        "PROMOTER_PR_URL": result.pr_url or "",
        "PROMOTER_PR_NUMBER": "" if result.pr_number is None else str(result.pr_number),
    }


# ------------------------------------------------------------------ formats


def _delimiter(value: str) -> str:
    while True:
        delim = f"ghadelimiter_{_random.token_hex(16)}"
        if delim not in value:
            return delim


def format_github_output(outputs: Mapping[str, str], secrets: Sequence[str] = ()) -> str:
    """``GITHUB_OUTPUT`` text: ``name=value`` for plain values, else ``name<<DELIM``."""
    lines: list[str] = []
    for name, raw in outputs.items():
        value = scrub(raw, secrets)
        if _PLAIN_VALUE.match(value):
            lines.append(f"{name}={value}")
        else:
            delim = _delimiter(value)
            lines += [f"{name}<<{delim}", value, delim]
    return "\n".join(lines) + "\n"


def dotenv_value(value: str) -> str:
    """One safe dotenv line value: no line breaks or control characters, no edge blanks."""
    return _CONTROL.sub(" ", value).strip()


def format_dotenv(values: Mapping[str, str], secrets: Sequence[str] = ()) -> str:
    return "".join(f"{k}={dotenv_value(scrub(v, secrets))}\n" for k, v in values.items())


def _md(text: object) -> str:
    from promoter.forges.render import escape_markdown

    return escape_markdown(str(text))


def _safe_url(url: str) -> str | None:
    """An http(s) URL safe inside ``[text](url)``: no blanks, brackets or quotes."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urllib.parse.quote(url.strip(), safe=":/?#@!$&*+,;=%~.-_")


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


_HEADLINE = {
    "changed": "promoted",
    "up-to-date": "up to date, nothing pushed",
    "dry-run": "dry run, nothing pushed",
    "failed": "failed",
}


def summary_markdown(result: PromotionResult, secrets: Sequence[str] = ()) -> str:
    """The job summary: status, pull request, changes table, findings, error."""
    out = [f"### promoter: {_md(_HEADLINE.get(result.status, result.status))}", ""]
    facts = [("Status", f"`{result.status}`"), ("Repository", _md(result.repo))]
    if result.branch:
        facts.append(("Branch", _md(result.branch)))
    if result.commit:
        facts.append(("Commit", _md(result.commit)))
    if result.pr_url or result.pr_number is not None:
        label = f"#{result.pr_number}" if result.pr_number is not None else "pull request"
        url = _safe_url(result.pr_url or "")
        facts.append(("Pull request", f"[{_md(label)}]({url})" if url else _md(label)))
    out += [f"- **{k}**: {v}" for k, v in facts]
    if result.edits:
        out += ["", "| File | Old → New |", "| --- | --- |"]
        for edit in result.edits:
            where = f"{edit.get('file', '')}:{edit.get('line', '')}"
            old, new = edit.get("old") or "(none)", edit.get("new") or "(none)"
            out.append(f"| {_md(where)} | {_md(old)} → {_md(new)} |")
    if result.findings:
        out += ["", "| Severity | Where | Finding |", "| --- | --- | --- |"]
        for f in result.findings:
            where = str(f.get("file", ""))
            if f.get("line"):
                where += f":{f['line']}"
            out.append(
                f"| {_md(f.get('severity', 'error'))} | {_md(where)} | "
                f"{_md(f.get('message', ''))} |"
            )
    if result.error:
        out += ["", f"**Error**: {_md(result.error)}"]
    notes = [m for m in result.messages if m]
    if notes:
        out += [""] + [f"- {_md(m)}" for m in notes]
    if result.status == "dry-run" and result.diff:
        diff = result.diff[:SUMMARY_DIFF_LIMIT]
        fence = _fence(diff)
        out += ["", "<details><summary>diff</summary>", "", f"{fence}diff", diff.rstrip("\n"),
                fence, "", "</details>"]
    return scrub("\n".join(out) + "\n\n", secrets)


def workflow_commands(result: PromotionResult) -> str:
    """The findings as GitHub workflow commands (``::error file=…::``), or ""."""
    if not result.findings:
        return ""
    from promoter.validate.api import Report
    from promoter.validate.findings import Finding
    from promoter.validate.output import github

    fields = set(Finding.__dataclass_fields__)
    findings = []
    for item in result.findings:
        data = {k: v for k, v in item.items() if k in fields}
        if {"severity", "file", "message", "backend"} <= data.keys():
            findings.append(Finding(**data))
    if not findings:
        return ""
    files = sorted({f.file for f in findings})
    text = github(Report(findings=findings, files=files))
    # Keep the workflow commands only; the reporter's summary line counts resources,
    # which a promotion does not track.
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("::"))


# ------------------------------------------------------------------ writing


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_dotenv(path: Path, result: PromotionResult, secrets: Sequence[str] = ()) -> None:
    path.write_text(format_dotenv(dotenv_values(result), secrets), encoding="utf-8")


def write_ci_outputs(
    result: PromotionResult,
    targets: CiTargets,
    *,
    secrets: Iterable[str] = (),
    err: TextIO | None = None,
) -> list[str]:
    """Write every output ``targets`` asks for; return warnings (also printed to ``err``)."""
    stream = sys.stderr if err is None else err
    hidden = tuple(secrets)
    warnings: list[str] = []
    jobs: list[tuple[str, Path | None, Callable[[Path], None]]] = [
        ("GITHUB_OUTPUT", targets.github_output,
         lambda p: _append(p, format_github_output(github_outputs(result), hidden))),
        ("GITHUB_STEP_SUMMARY", targets.github_step_summary,
         lambda p: _append(p, summary_markdown(result, hidden))),
        ("the dotenv file", targets.dotenv, lambda p: write_dotenv(p, result, hidden)),
    ]
    for what, path, write in jobs:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            warnings.append(
                f"could not write {what} {path}: {exc.strerror or exc}; the promotion itself "
                "is unaffected, check that the path is writable"
            )
    from promoter.promote import EXIT_INVALID

    if targets.annotations and result.exit_code == EXIT_INVALID:
        text = workflow_commands(result)
        if text:
            stream.write(scrub(text, hidden))
    for message in warnings:
        stream.write(f"warning: {scrub(message, hidden)}\n")
    stream.flush()
    return warnings
