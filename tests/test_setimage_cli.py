"""`promoter set-image`: text/JSON output and exit codes 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from promoter.cli import main

POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}  # keep\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["set-image", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_output_and_up_to_date(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POD.format(v="app:1"))
    code, out, _ = run(str(tmp_path), "--image", "app:2")
    assert code == 0
    assert out == f"{f}:6: app:1 -> app:2\n1 change in 1 file\n"
    code, out, _ = run(str(tmp_path), "--image", "app:2")
    assert code == 0
    assert out == f"{f}:6: app:2 (up to date)\nalready up to date: 1 pin\n"


def test_json_output(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(POD.format(v="app:1"))
    code, out, _ = run(str(f), "--image", "app:2", "--output", "json", "--dry-run")
    assert code == 0
    assert json.loads(out) == [
        {
            "file": str(f),
            "line": 6,
            "column": 12,
            "target": "kubernetes",
            "path": "spec.containers[0].image",
            "old": "app:1",
            "new": "app:2",
            "document": 0,
            "note": None,
        }
    ]
    assert f.read_text() == POD.format(v="app:1")


def test_diff_and_note(tmp_path: Path) -> None:
    d = "sha256:" + "a" * 64
    (tmp_path / "p.yaml").write_text(POD.format(v=f"app:1@{d}"))
    code, out, _ = run(str(tmp_path), "--image", "app:2", "--diff")
    assert code == 0
    assert "  note: digest removed" in out
    assert f"-    image: app:1@{d}  # keep\n+    image: app:2  # keep\n" in out


def test_exit_1_on_bad_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("image: app:1\nx: [\n")
    (tmp_path / "good.yaml").write_text(POD.format(v="app:1"))
    code, out, err = run(str(tmp_path), "--image", "app:2")
    assert code == 1
    assert "good.yaml:6: app:1 -> app:2" in out
    assert err.startswith(f"{tmp_path / 'bad.yaml'}:")


def test_exit_2_on_usage_errors(tmp_path: Path) -> None:
    assert run(str(tmp_path), "--image", "Bad:1")[0] == 2
    assert "lower-case" in run(str(tmp_path), "--image", "Bad:1")[2]
    assert run(str(tmp_path), "--image", "app")[0] == 2
    assert run(str(tmp_path))[0] == 2
    assert run(str(tmp_path / "nope"), "--image", "app:1")[0] == 2
    assert run(str(tmp_path), "--image", "a:1", "--image", "b:1", "--key", "x.tag")[0] == 2
    assert run(str(tmp_path), "--image", "a:1", "--key", "x..tag")[0] == 2


def test_real_console_entry_point(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POD.format(v="app:1"))
    entry = "from promoter.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", entry, "set-image", str(tmp_path), "--image", "app:2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "app:1 -> app:2" in proc.stdout
