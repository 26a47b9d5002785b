"""CI outputs of ``promoter promote`` (promoter/report.py): real CLI processes, real sandbox.

GitHub Actions step outputs and job summary, annotations on a failed validation,
GitLab dotenv; every file written is scanned for every spelling of a canary token.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RepoFactory, make_git_env

from promoter.forges.render import escape_markdown
from promoter.promote import PromotionResult
from promoter.report import (
    CiTargets,
    format_dotenv,
    format_github_output,
    summary_markdown,
    targets_from_env,
    token_secrets,
    write_ci_outputs,
)
from promoter.sandbox.app import ForgeSandbox, build_sandbox

CANARY = "canary-5d1e77b0-report-DO-NOT-LEAK"
GH_REPO = "acme/manifests"
GL_PROJECT = "group/manifests"
VALUES = "envs/prod/web/values.yaml"
# The old tag is HTML, the new one markdown emphasis: both must render literally.
FILES = {
    VALUES: 'image:\n  repository: ghcr.io/acme/web\n  tag: "<img src=x onerror=alert(1)>"\n',
    "README.md": "manifests\n",
}
NEW_IMAGE = "ghcr.io/acme/web:__v1__"
CLI = (sys.executable, "-c", "import sys; from promoter.cli import main; sys.exit(main())")


def parse_github_output(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file the way the Actions runner does."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq != -1 and (heredoc == -1 or eq < heredoc):
            out[line[:eq]] = line[eq + 1:]
            continue
        name, delim = line[:heredoc], line[heredoc + 2:]
        value: list[str] = []
        while lines[i] != delim:
            value.append(lines[i])
            i += 1
        i += 1
        out[name] = "\n".join(value)
    return out


def needles(token: str = CANARY) -> list[bytes]:
    out = [token.encode(), urllib.parse.quote(token, safe="").encode()]
    out += [base64.b64encode(f"{u}:{token}".encode())
            for u in ("x-access-token", "oauth2", "gitlab-ci-token")]
    return out


def assert_clean(*paths: Path, extra: tuple[bytes, ...] = ()) -> None:
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        for needle in (*needles(), *extra):
            assert needle not in data, f"token spelling found in {path}"


@dataclass
class Env:
    sb: ForgeSandbox
    repos: RepoFactory
    tmp: Path

    def run(self, *args: str, env: dict[str, str] | None = None,
            repo: str = GH_REPO, image: str = NEW_IMAGE) -> subprocess.CompletedProcess[str]:
        cmd = [*CLI, "promote", "--repo", self.sb.repo_url(repo), "--image", image,
               "--path", "envs/prod/web", "--env", "prod", "--app", "web", "--no-validate",
               *args]
        environ = make_git_env({"PROMOTER_TOKEN": CANARY, **(env or {})})
        for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY",
                     "PROMOTER_DOTENV"):
            if name not in (env or {}):
                environ.pop(name, None)
        return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120,
                              cwd=self.tmp)


@pytest.fixture
def env(repos: RepoFactory, tmp_path: Path) -> Iterator[Env]:
    repos.create(GH_REPO, FILES)
    repos.create(GL_PROJECT, FILES)
    work = tmp_path / "job"
    work.mkdir()
    with build_sandbox(repos.root, tokens=[CANARY]) as sb:
        yield Env(sb, repos, work)


def github_env(tmp: Path) -> dict[str, str]:
    return {"GITHUB_OUTPUT": str(tmp / "output"), "GITHUB_STEP_SUMMARY": str(tmp / "summary"),
            "GITHUB_ACTIONS": "true"}


def test_github_outputs_and_summary_from_a_real_promotion(env: Env) -> None:
    ci = github_env(env.tmp)
    proc = env.run("--forge", "github", "--output", "json", env=ci)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout stays pure JSON
    out = parse_github_output((env.tmp / "output").read_text())
    assert out["status"] == "changed"
    assert out["branch"] == "promoter/main/prod/web" == result["branch"]
    assert out["commit"] == env.repos.rev(GH_REPO, out["branch"])
    assert out["pr-number"] == "1"
    assert out["pr-url"] == f"{env.sb.base_url}/{GH_REPO}/pull/1"
    assert json.loads(out["changed-files"]) == [VALUES]
    [edit] = json.loads(out["edits"])
    assert edit == {"file": VALUES, "line": 3, "path": "image.tag",
                    "old": "<img src=x onerror=alert(1)>", "new": "__v1__"}

    summary = (env.tmp / "summary").read_text()
    assert "### promoter: promoted" in summary
    assert f"[\\#1]({env.sb.base_url}/{GH_REPO}/pull/1)" in summary
    assert "| File | Old → New |" in summary
    # tag text is escaped: no raw HTML, no markdown emphasis
    assert "<img" not in summary and "&lt;img src\\=x onerror\\=alert\\(1\\)&gt;" in summary
    assert "\\_\\_v1\\_\\_" in summary and " __v1__" not in summary
    assert_clean(env.tmp / "output", env.tmp / "summary")
    assert CANARY not in proc.stdout + proc.stderr

    # A rerun appends (the runner gives each step its own files; appending is the contract).
    again = env.run("--forge", "github", env=ci)
    assert again.returncode == 0, again.stderr
    rerun = parse_github_output((env.tmp / "output").read_text())  # later entries win
    assert rerun["status"] == "up-to-date" and rerun["pr-number"] == "1"
    # the promotion's change against the base, though nothing was pushed this time
    assert json.loads(rerun["changed-files"]) == [VALUES]
    assert (env.tmp / "summary").read_text().count("### promoter:") == 2


def test_gitlab_dotenv_from_a_real_promotion(env: Env) -> None:
    proc = env.run("--forge", "gitlab", "--dotenv", "promoter.env", repo=GL_PROJECT,
                   env={"GITLAB_TOKEN": CANARY})
    assert proc.returncode == 0, proc.stderr
    lines = (env.tmp / "promoter.env").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines)
    assert list(values) == ["PROMOTER_STATUS", "PROMOTER_BRANCH", "PROMOTER_COMMIT",
                            "PROMOTER_PR_URL", "PROMOTER_PR_NUMBER"]
    assert values["PROMOTER_STATUS"] == "changed"
    assert values["PROMOTER_BRANCH"] == "promoter/main/prod/web"
    assert values["PROMOTER_COMMIT"] == env.repos.rev(GL_PROJECT, "promoter/main/prod/web")
    assert values["PROMOTER_PR_URL"] == f"{env.sb.base_url}/{GL_PROJECT}/-/merge_requests/1"
    assert values["PROMOTER_PR_NUMBER"] == "1"
    # GitLab's dotenv rules: one line each, no blank lines, no quotes
    assert all(line and '"' not in line and "'" not in line for line in lines)
    assert_clean(env.tmp / "promoter.env")
    # PROMOTER_DOTENV names the file when --dotenv is not given; a rerun replaces it.
    again = env.run("--forge", "gitlab", repo=GL_PROJECT,
                    env={"PROMOTER_DOTENV": str(env.tmp / "other.env")})
    assert again.returncode == 0, again.stderr
    assert (env.tmp / "other.env").read_text().startswith("PROMOTER_STATUS=up-to-date\n")


def test_no_ci_outputs_and_nothing_without_the_variables(env: Env) -> None:
    ci = {**github_env(env.tmp), "PROMOTER_DOTENV": str(env.tmp / "auto.env")}
    proc = env.run("--no-ci-outputs", "--dotenv", "asked.env", env=ci)
    assert proc.returncode == 0, proc.stderr
    assert not (env.tmp / "output").exists() and not (env.tmp / "summary").exists()
    assert not (env.tmp / "auto.env").exists()
    assert (env.tmp / "asked.env").read_text().startswith("PROMOTER_STATUS=changed\n")
    plain = env.run(image="ghcr.io/acme/web:2.0.0")
    assert plain.returncode == 0, plain.stderr
    assert sorted(p.name for p in env.tmp.iterdir()) == ["asked.env"]


def test_validation_failure_annotates_and_reports_failed(env: Env) -> None:
    pytest.importorskip("promoter.validate.api")
    bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n" \
          "  replicas: two\n  selector: {matchLabels: {app: web}}\n  template:\n" \
          "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n" \
          "        - name: web\n          image: ghcr.io/acme/web:1.0.0\n"
    env.repos.commit(GH_REPO, {"envs/prod/web/deployment.yaml": bad}, "bad replicas")
    ci = github_env(env.tmp)
    cmd = [*CLI, "promote", "--repo", env.sb.repo_url(GH_REPO), "--image",
           "ghcr.io/acme/web:1.1.0", "--path", "envs/prod/web/deployment.yaml", "--output",
           "json", "--dotenv", "promoter.env"]
    proc = subprocess.run(cmd, env=make_git_env({"PROMOTER_TOKEN": CANARY, **ci}),
                          capture_output=True, text=True, timeout=120, cwd=env.tmp)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["status"] == "failed"
    annotations = [line for line in proc.stderr.splitlines() if line.startswith("::error ")]
    assert annotations, proc.stderr
    assert annotations[0].startswith("::error file=envs/prod/web/deployment.yaml,line=6,")
    out = parse_github_output((env.tmp / "output").read_text())
    assert out["status"] == "failed" and out["commit"] == "" and out["pr-url"] == ""
    summary = (env.tmp / "summary").read_text()
    assert "| Severity | Where | Finding |" in summary
    assert escape_markdown("envs/prod/web/deployment.yaml:6") in summary
    assert "**Error**: validation failed" in summary
    assert (env.tmp / "promoter.env").read_text().startswith("PROMOTER_STATUS=failed\n")
    assert_clean(env.tmp / "output", env.tmp / "summary", env.tmp / "promoter.env")


# ------------------------------------------------------------------ units


def _result(**kw: object) -> PromotionResult:
    base: dict[str, object] = {"status": "changed", "mode": "pr", "repo": "https://x/y.git",
                               "base": "main", "branch": "promoter/main/prod/web"}
    base.update(kw)
    return PromotionResult(**base)  # type: ignore[arg-type]


def test_github_output_values_cannot_inject_other_outputs() -> None:
    sneaky = "line one\nstatus=hacked\nghadelimiter_x"
    text = format_github_output({"edits": sneaky, "status": "changed"})
    parsed = parse_github_output(text)
    assert parsed == {"edits": sneaky, "status": "changed"}
    assert text.startswith("edits<<ghadelimiter_")
    assert "status=changed\n" in text


def test_summary_escapes_everything_from_outside() -> None:
    res = _result(
        edits=[{"file": "a/<b>x</b>.yaml", "line": 1, "path": "image", "old": "[x](http://e)",
                "new": "@team <script>"}],
        findings=[{"severity": "error", "file": "a|b.yaml", "line": 2, "message": "`x` | y"}],
        pr_url="https://forge/x/pull/1) [evil](http://e", pr_number=1,
        messages=["#1 @someone"],
    )
    md = summary_markdown(res)
    assert "<b>" not in md and "<script>" not in md and "@team" not in md
    assert "[x](http" not in md and "](http://e)" not in md
    assert "(https://forge/x/pull/1%29%20%5Bevil%5D%28http://e)" in md
    # a table cell's pipe is escaped, so each row keeps its columns
    finding_row = next(line for line in md.splitlines() if "a\\|b" in line)
    assert finding_row.count(" | ") == 2


def test_summary_dry_run_diff_fence_survives_backticks() -> None:
    res = _result(status="dry-run", diff="+ x: ```` y\n")
    md = summary_markdown(res)
    assert "`````diff\n+ x: ```` y\n`````" in md


def test_defensive_scrub_with_the_environment_tokens(tmp_path: Path) -> None:
    environ = {"GITHUB_TOKEN": CANARY}
    leaky = _result(status="failed", error=f"boom {CANARY} https://u:{CANARY}@h/x",
                    pr_url=f"https://x-access-token:{CANARY}@forge/pull/1", exit_code=1,
                    messages=[base64.b64encode(f"oauth2:{CANARY}".encode()).decode()])
    targets = CiTargets(tmp_path / "o", tmp_path / "s", tmp_path / "e")
    warnings = write_ci_outputs(leaky, targets, secrets=token_secrets(environ))
    assert warnings == []
    assert_clean(tmp_path / "o", tmp_path / "s", tmp_path / "e")
    assert "***" in (tmp_path / "s").read_text()


def test_dotenv_values_are_single_line() -> None:
    text = format_dotenv({"PROMOTER_BRANCH": " a\nB=c\r\n", "PROMOTER_STATUS": "ok"})
    assert text == "PROMOTER_BRANCH=a B=c\nPROMOTER_STATUS=ok\n"


def test_targets_from_env() -> None:
    env = {"GITHUB_OUTPUT": "/o", "GITHUB_STEP_SUMMARY": "/s", "GITHUB_ACTIONS": "true",
           "PROMOTER_DOTENV": "/d"}
    assert targets_from_env(env) == CiTargets(Path("/o"), Path("/s"), Path("/d"), True)
    assert targets_from_env(env, automatic=False) == CiTargets()
    assert targets_from_env(env, dotenv="x.env", automatic=False) == CiTargets(dotenv=Path("x.env"))
    assert targets_from_env({}) == CiTargets()


def test_unwritable_output_is_a_warning(tmp_path: Path) -> None:
    import io

    err = io.StringIO()
    missing = tmp_path / "no" / "such" / "dir" / "output"
    warnings = write_ci_outputs(_result(), CiTargets(github_output=missing), err=err)
    assert len(warnings) == 1 and "GITHUB_OUTPUT" in warnings[0]
    assert "warning: could not write GITHUB_OUTPUT" in err.getvalue()
