"""The console script's click-free set-image path and click's path behave identically.

Every argv runs twice on identical copies of a tree: through ``promoter.entry.main`` (the
console script: fast path, falling back to click) and through the click group alone.
stdout, stderr, exit status and every file's bytes afterwards must be equal.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from promoter import entry
from promoter.cli import group

POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}  # keep\n"
KUST = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "images:\n- name: ghcr.io/acme/web\n  newTag: '1'\n"
)


def make_tree(root: Path) -> None:
    files = {
        "tree/a.yaml": POD.format(v="ghcr.io/acme/web:1"),
        "tree/b.yml": POD.format(v="app:1@sha256:" + "a" * 64),
        "tree/sub/c.yaml": POD.format(v="ghcr.io/acme/other:1"),
        "tree/sub/kustomization.yaml": KUST,
        "tree/values.yaml": "image:\n  repository: ghcr.io/acme/web\n  tag: '1'\n",
        "tree/.git/x.yaml": POD.format(v="ghcr.io/acme/web:1"),
        "broken/bad.yaml": "image: ghcr.io/acme/web:1\nx: [\n",
        "broken/ok.yaml": POD.format(v="ghcr.io/acme/web:1"),
        "-dash/d.yaml": POD.format(v="ghcr.io/acme/web:1"),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def invoke(argv: list[str], fast: bool) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["promoter", *argv]
    code: object = None
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                if fast:
                    entry.main()
                else:
                    group().main(args=argv, prog_name="promoter")
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


def both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    results = []
    for fast in (True, False):
        root = tmp_path / ("fast" if fast else "click")
        make_tree(root)
        monkeypatch.chdir(root)
        results.append((*invoke(argv, fast), snapshot(root)))
    assert results[0] == results[1], argv


PATHS = [["tree"], ["tree/a.yaml"], ["tree", "tree/sub"], ["broken"], ["missing"], [],
         ["tree/"], ["./tree"]]  # fmt: skip
IMAGES = [
    ["--image", "ghcr.io/acme/web:2"],
    ["--image=ghcr.io/acme/web:2", "--image", "app:3"],
    ["--image", "ghcr.io/acme/web@sha256:" + "b" * 64],
    ["--image", "Bad:1"],
    ["--image", "app"],
    ["--image", "ghcr.io/acme/web:1"],  # already up to date
    [],
]
EXTRAS = [
    [], ["--dry-run"], ["--diff"], ["--add"], ["--output", "json"], ["--output=json", "--diff"],
    ["--output", "xml"], ["--key", "image.tag"], ["--key=x..y"], ["--dry-run", "--dry-run"],
    ["--add=1"], ["-h"], ["--help"], ["--bogus"], ["--image"], ["--ima", "x:1"],
    ["--key", "image.tag", "--image", "app:9"], ["--diff", "--dry-run", "--add"],
]  # fmt: skip


def cases() -> list[list[str]]:
    rng = random.Random(20240215)
    out: list[list[str]] = [
        ["set-image", "tree", "--image", "ghcr.io/acme/web:2"],
        ["set-image", "--image", "ghcr.io/acme/web:2", "tree", "--diff"],
        ["set-image", "tree", "--image", "ghcr.io/acme/web:2", "--", "-dash"],
        ["set-image", "--", "-dash", "--image", "ghcr.io/acme/web:2"],
        ["set-image", "-dash", "--image", "ghcr.io/acme/web:2"],
        ["--help"],
        ["set-image"],
        ["set-image", "--help"],
    ]
    for _ in range(60):
        parts = [rng.choice(PATHS), rng.choice(IMAGES), rng.choice(EXTRAS)]
        rng.shuffle(parts)
        out.append(["set-image", *(a for part in parts for a in part)])
    return out


@pytest.mark.parametrize("argv", cases(), ids=lambda argv: " ".join(argv)[:60])
def test_fast_and_click_paths_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    both(tmp_path, monkeypatch, argv)


def test_the_fast_path_is_taken_for_the_common_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("promoter.cli._build_group", lambda: pytest.fail("click was asked"))
    monkeypatch.setattr("promoter.cli._group", None)
    code, out, err = invoke(["set-image", "tree", "--image=ghcr.io/acme/web:2", "--output",
                             "json", "--dry-run"], fast=True)  # fmt: skip
    assert code == 0 and err == ""
    files = [e["file"] for e in json.loads(out)]
    assert files == ["tree/a.yaml", "tree/sub/kustomization.yaml", "tree/values.yaml"]


def test_the_cases_exercise_both_paths() -> None:
    fast = [argv for argv in cases() if entry.parse_set_image(argv) is not None]
    assert 20 <= len(fast) <= len(cases()) - 20


PROBE = """\
import atexit, os, sys
def report():
    names = ("click", "dataclasses", "inspect", "typing")
    sys.stderr.write("LOADED " + " ".join(n for n in names if n in sys.modules) + "\\n")
    sys.stderr.flush()
atexit.register(report)  # click's way out
real_exit = os._exit
def hard_exit(code):  # the fast path's way out (no atexit)
    report()
    real_exit(code)
os._exit = hard_exit
from promoter.cli import main
sys.exit(main())
"""
MINE = {"promoter", "promoter.cli", "promoter.entry", "promoter.commands.set_image",
        "promoter.setimage", "promoter.prefilter"}  # fmt: skip


def importers(stderr: str) -> dict[str, str]:
    """module -> the module that imported it first, from ``python -X importtime``."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            name = line.rsplit("|", 1)[1]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    parent: dict[str, str] = {}
    for i, (depth, name) in enumerate(rows):  # children are printed before their parent
        for d, candidate in rows[i + 1 :]:
            if d < depth:
                parent[name] = candidate
                break
        else:
            parent[name] = "<main>"
    return parent


def test_fast_path_imports_no_click(tmp_path: Path) -> None:
    make_tree(tmp_path)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-X", "importtime", "-c", PROBE, "set-image", "tree",
            "--image", "ghcr.io/acme/web:2", "--diff"]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "tree/a.yaml:6: ghcr.io/acme/web:1 -> ghcr.io/acme/web:2" in proc.stdout
    [loaded] = [line for line in proc.stderr.splitlines() if line.startswith("LOADED")]
    parent = importers(proc.stderr)
    assert "promoter.setimage" in parent and "yaml" in parent  # the whole set-image path ran
    for name in ("click", "dataclasses", "inspect"):  # ~15-25 ms, ~5-8 ms: nobody imports them
        assert name not in loaded.split(), (name, parent.get(name))
    assert parent.get("typing") not in MINE  # ideally nobody; never one of these modules
    # and click is still there for everything else
    bad = subprocess.run([*argv[:5], "set-image", "tree", "--image", "Bad:1"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert bad.returncode == 2 and "Error: invalid image reference 'Bad:1'" in bad.stderr
    assert "LOADED click" in bad.stderr


def test_console_script_matches_click_as_subprocesses(tmp_path: Path) -> None:
    fast = "from promoter.cli import main; main()"
    slow = "from promoter.cli import group; group()()"
    for argv in (["set-image", "tree", "--image", "ghcr.io/acme/web:2", "--diff"],
                 ["set-image", "broken", "--image", "ghcr.io/acme/web:2"],
                 ["set-image", "tree", "--image", "app"],
                 ["set-image", "missing", "--image", "app:1"]):  # fmt: skip
        seen = []
        for code in (fast, slow):
            root = tmp_path / str(len(seen))
            shutil.rmtree(root, ignore_errors=True)
            make_tree(root)
            proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=root,
                                  capture_output=True, text=True)  # fmt: skip
            seen.append((proc.returncode, proc.stdout, proc.stderr, snapshot(root)))
        assert seen[0] == seen[1], argv


def test_closed_stdout_is_not_an_error(tmp_path: Path) -> None:
    """Started with stdout closed (``>&-``): both paths edit and exit 0, as click.echo did."""
    for code in ("from promoter.cli import main; main()",
                 "from promoter.cli import group; group()()"):  # fmt: skip
        root = tmp_path / str(len(code))
        make_tree(root)
        script = f'"{sys.executable}" -c "{code}" set-image tree --image ghcr.io/acme/web:2 >&-'
        proc = subprocess.run(["sh", "-c", script], cwd=root, capture_output=True, text=True)
        assert (proc.returncode, proc.stderr) == (0, ""), code
        assert "ghcr.io/acme/web:2" in (root / "tree" / "a.yaml").read_text()
