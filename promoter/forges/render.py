"""Pull/merge request titles and bodies: change table, validation summary, provenance.

Everything that comes from outside (image tags, file names, CI variables such as
branch names or commit titles) goes through :func:`escape_markdown` before it
lands in a body, so an image tag like ``v1<img src=x>`` or ``@org/team`` cannot
inject HTML, markdown structure, links or @mentions into a PR that reviewers read.
Titles are plain text on both forges; :func:`clean_title` only removes
control characters and newlines and bounds the length.

Templates use ``str.format``-style fields (``{app}``, ``{environment}``,
``{image}``, ``{new}``, ``{old}``, ``{base}``, ``{branch}``, ``{files}``); an
unknown field is an error that names the known ones.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Characters with markdown meaning in GitHub/GitLab flavoured markdown.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$%^=/])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
MARKER_PREFIX = "<!-- promoter:"
DEFAULT_TITLE = "Promote {image} to {new} in {environment}"
TITLE_MAX = 256


def escape_markdown(text: str) -> str:
    """Make ``text`` render literally inside a markdown paragraph or table cell."""
    text = _CONTROL.sub(" ", text).replace("\r\n", " ").replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Entities last (they contain '#'): no @mention, no #123 / GH-1 / !1 references.
    return text.replace("@", "&#64;")


def clean_title(text: str) -> str:
    text = _CONTROL.sub(" ", text).replace("\r", " ").replace("\n", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return text[:TITLE_MAX]


@dataclass(frozen=True, slots=True)
class ChangeRow:
    file: str
    old: str
    new: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    source_repository: str | None = None
    source_commit: str | None = None
    pipeline_url: str | None = None
    actor: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Provenance:
        """From GitHub Actions or GitLab CI variables (whichever is present)."""
        e = os.environ if env is None else env
        if e.get("GITHUB_ACTIONS") == "true" or e.get("GITHUB_RUN_ID"):
            server = e.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
            repo = e.get("GITHUB_REPOSITORY")
            run = e.get("GITHUB_RUN_ID")
            return cls(
                source_repository=f"{server}/{repo}" if repo else None,
                source_commit=e.get("GITHUB_SHA"),
                pipeline_url=f"{server}/{repo}/actions/runs/{run}" if repo and run else None,
                actor=e.get("GITHUB_ACTOR"),
            )
        if e.get("GITLAB_CI") == "true" or e.get("CI_PIPELINE_URL"):
            return cls(
                source_repository=e.get("CI_PROJECT_URL"),
                source_commit=e.get("CI_COMMIT_SHA"),
                pipeline_url=e.get("CI_PIPELINE_URL"),
                actor=e.get("GITLAB_USER_LOGIN"),
            )
        return cls()


@dataclass(frozen=True, slots=True)
class RenderInput:
    app: str
    environment: str
    image: str
    new: str
    branch: str
    base: str
    changes: Sequence[ChangeRow] = ()
    validation_ok: bool | None = None  # None: validation not run
    validation_lines: Sequence[str] = ()
    provenance: Provenance = field(default_factory=Provenance)
    tool_version: str = ""

    def fields(self) -> dict[str, str]:
        olds = sorted({c.old for c in self.changes})
        return {
            "app": self.app,
            "environment": self.environment,
            "env": self.environment,
            "image": self.image,
            "new": self.new,
            "old": ", ".join(olds),
            "base": self.base,
            "branch": self.branch,
            "files": ", ".join(sorted({c.file for c in self.changes})),
        }


def render_template(template: str, data: RenderInput, *, escape: bool) -> str:
    values = data.fields()
    known = ", ".join("{" + k + "}" for k in values)
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None and name not in values:
            raise ValueError(
                f"unknown field {{{name}}} in the PR template {template!r}; known fields: {known}"
            )
    if escape:
        values = {k: escape_markdown(v) for k, v in values.items()}
    return template.format(**values)


def render_title(data: RenderInput, template: str | None = None) -> str:
    return clean_title(render_template(template or DEFAULT_TITLE, data, escape=False))


def _link(label: str, url: str | None) -> str:
    if not url:
        return escape_markdown(label)
    if not re.match(r"^https?://[^\s<>()\[\]]+$", url):
        return escape_markdown(f"{label} ({url})")
    return f"[{escape_markdown(label)}](<{url}>)"


def render_body(data: RenderInput, template: str | None = None) -> str:
    """The PR body: ``template`` (fields escaped) or the default layout, plus a marker."""
    if template is not None:
        text = render_template(template, data, escape=True)
        return text.rstrip("\n") + "\n\n" + marker(data.branch) + "\n"
    e = escape_markdown
    out = [
        f"Promotes **{e(data.image)}** to **{e(data.new)}** in **{e(data.environment)}** "
        f"(app {e(data.app)}).",
        "",
        "| File | Old | New |",
        "| --- | --- | --- |",
    ]
    for c in data.changes:
        where = e(c.file) + (f" (line {c.line})" if c.line else "")
        out.append(f"| {where} | {e(c.old)} | {e(c.new)} |")
    if not data.changes:
        out.append("| (no file changes) | | |")
    out.append("")
    if data.validation_ok is None:
        out.append("**Validation:** not run.")
    else:
        verdict = "passed" if data.validation_ok else "FAILED"
        out.append(f"**Validation:** {verdict}.")
        for line in data.validation_lines[:50]:
            out.append(f"- {e(line)}")
        if len(data.validation_lines) > 50:
            out.append(f"- … {len(data.validation_lines) - 50} more")
    p = data.provenance
    prov = []
    if p.source_repository:
        prov.append(f"- Source repository: {_link(p.source_repository, p.source_repository)}")
    if p.source_commit:
        prov.append(f"- Source commit: {e(p.source_commit)}")
    if p.pipeline_url:
        prov.append(f"- Pipeline: {_link('run', p.pipeline_url)}")
    if p.actor:
        prov.append(f"- Triggered by: {e(p.actor)}")
    if prov:
        out += ["", "**Provenance**", "", *prov]
    out += ["", f"Branch {e(data.branch)} → {e(data.base)}"
            + (f", promoter {e(data.tool_version)}" if data.tool_version else "") + ".",
            "", marker(data.branch)]
    return "\n".join(out) + "\n"


def marker(branch: str) -> str:
    """Hidden marker identifying the promotion branch (HTML comment, never rendered)."""
    safe = re.sub(r"[^A-Za-z0-9._/\-]", "_", branch)
    return f"{MARKER_PREFIX}branch={safe} -->"
