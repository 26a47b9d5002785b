"""set_image end to end on real files: bytes preserved, traps quoted, errors isolated."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from promoter.imageref import InvalidReference
from promoter.setimage import UsageError, edit_texts, set_image

D = "sha256:" + "a" * 64


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


POD = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: {v}  # keep\n"


TRAPS = ["1.10", "010", "1e3", "2024.10", "20240215", "2873e41", "true", "null", "y", "0o17"]


@pytest.mark.parametrize("tag", TRAPS)
def test_trap_tags_are_quoted_when_plain(tmp_path: Path, tag: str) -> None:
    f = write(tmp_path / "v.yaml", "image:\n  repository: app\n  tag: v1  # pinned\n")
    result = set_image([tmp_path], [f"app:{tag}"])
    assert not result.errors
    assert f.read_text() == f'image:\n  repository: app\n  tag: "{tag}"  # pinned\n'


@pytest.mark.parametrize(("before", "after"), [("'v1'", "'1.10'"), ('"v1"', '"1.10"')])
def test_quote_style_kept(tmp_path: Path, before: str, after: str) -> None:
    f = write(tmp_path / "v.yaml", f"image:\n  repository: app\n  tag: {before}\n")
    set_image([f], ["app:1.10"])
    assert f.read_text() == f"image:\n  repository: app\n  tag: {after}\n"


def test_every_other_byte_is_kept(tmp_path: Path) -> None:
    original = (
        "\ufeff# top comment\r\n"
        "apiVersion: v1\r\n"
        "kind: Pod\r\n"
        "spec:\r\n"
        "  containers:\r\n"
        "  - {name: a, image: 'app:1'}   \r\n"
        "  - name: b\r\n"
        "    image: app:1\t# tab before comment\r\n"
        "---\r\n"
        "image: app:1\r\n"
        "..."
    )
    f = write(tmp_path / "x.yaml", original.encode("utf-8"))
    result = set_image([tmp_path], ["app:2"])
    assert not result.errors, result.errors
    assert f.read_bytes() == original.replace("app:1", "app:2").encode("utf-8")
    assert [(e.line, e.old, e.new) for e in result.edits] == [
        (6, "app:1", "app:2"),
        (8, "app:1", "app:2"),
        (10, "app:1", "app:2"),
    ]


def test_idempotent_second_run(tmp_path: Path) -> None:
    f = write(tmp_path / "p.yaml", POD.format(v="app:1"))
    first = set_image([tmp_path], ["app:2"])
    assert len(first.edits) == 1 and first.changed_files == [str(f)]
    data = f.read_bytes()
    second = set_image([tmp_path], ["app:2"])
    assert second.edits == [] and len(second.up_to_date) == 1
    assert f.read_bytes() == data


def test_bad_file_reported_others_processed(tmp_path: Path) -> None:
    bad = write(tmp_path / "a-bad.yaml", "image: app:1\nfoo: [unclosed\n")
    dup = write(tmp_path / "b-dup.yaml", "image: app:1\nimage: app:1\n")
    good = write(tmp_path / "c-good.yaml", POD.format(v="app:1"))
    result = set_image([tmp_path], ["app:2"])
    assert good.read_text() == POD.format(v="app:2")
    assert bad.read_text() == "image: app:1\nfoo: [unclosed\n"
    assert dup.read_text() == "image: app:1\nimage: app:1\n"
    assert [e.file for e in result.errors] == [str(bad), str(dup)]
    assert str(result.errors[0]).startswith(f"{bad}:")
    assert "duplicate key 'image'" in result.errors[1].message
    assert result.errors[1].line == 2


def test_dry_run_and_diff(tmp_path: Path) -> None:
    f = write(tmp_path / "p.yaml", POD.format(v="app:1"))
    result = set_image([tmp_path], ["app:2"], dry_run=True, diff=True)
    assert f.read_text() == POD.format(v="app:1")
    assert "-    image: app:1  # keep\n+    image: app:2  # keep\n" in result.diff
    assert result.diff.startswith(f"--- a/{str(f).lstrip('/')}\n")


def test_no_final_newline_diff(tmp_path: Path) -> None:
    write(tmp_path / "v.yaml", "image: app:1")
    result = set_image([tmp_path], ["app:2"], dry_run=True, diff=True)
    no_nl = "\\ No newline at end of file\n"
    assert f"-image: app:1\n{no_nl}+image: app:2\n{no_nl}" in result.diff


def test_git_dir_skipped_and_only_yaml(tmp_path: Path) -> None:
    write(tmp_path / ".git" / "x.yaml", "image: app:1\n")
    write(tmp_path / "notes.txt", "image: app:1\n")
    k = write(tmp_path / "o" / "Kustomization", "images:\n- name: app\n  newTag: 1\n")
    result = set_image([tmp_path], ["app:2"])
    assert result.changed_files == [str(k)]
    assert (tmp_path / ".git" / "x.yaml").read_text() == "image: app:1\n"


def test_symlinks(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "v.yaml", "image: app:1\n")
    tree = tmp_path / "tree"
    inside = write(tree / "real" / "v.yaml", "image: app:1\n")
    (tree / "link-out.yaml").symlink_to(outside)
    (tree / "link-in.yaml").symlink_to(inside)
    (tree / "dirlink").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = set_image([tree], ["app:2"])
    assert outside.read_text() == "image: app:1\n"
    assert inside.read_text() == "image: app:2\n"
    assert (tree / "link-in.yaml").is_symlink()
    assert len(result.edits) == 1  # the link and its target are one file
    assert any("link-out.yaml" in w and "outside" in w for w in result.warnings)


def test_file_mode_kept(tmp_path: Path) -> None:
    f = write(tmp_path / "p.yaml", POD.format(v="app:1"))
    os.chmod(f, 0o640)
    set_image([f], ["app:2"])
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_add_and_missing_new_tag(tmp_path: Path) -> None:
    k = write(
        tmp_path / "kustomization.yaml",
        "resources:\n- a.yaml\nimages:\n- name: other\n  newTag: x\n",
    )
    result = set_image([tmp_path], ["ghcr.io/acme/web:1.10"], add=True)
    assert not result.errors, result.errors
    assert k.read_text().endswith("  newTag: x\n- name: ghcr.io/acme/web\n  newTag: \"1.10\"\n")
    k2 = write(
        tmp_path / "b" / "kustomization.yaml",
        "images:\r\n- name: app  # c\r\n  newName: app\r\n- name: other\r\n",
    )
    result = set_image([tmp_path / "b"], [f"app:2@{D}"])
    assert not result.errors, result.errors
    assert k2.read_bytes() == (
        "images:\r\n- name: app  # c\r\n  newName: app\r\n"
        f"  newTag: \"2\"\r\n  digest: {D}\r\n- name: other\r\n"
    ).encode()
    assert [(e.line, e.path, e.new) for e in result.edits] == [
        (4, "images[0].newTag", "2"),
        (5, "images[0].digest", D),
    ]
    k3 = write(tmp_path / "c" / "kustomization.yaml", "images:\n- {name: app}\n")
    result = set_image([tmp_path / "c"], ["app:2"])
    assert k3.read_text() == "images:\n- {name: app}\n"
    assert result.errors and "add `newTag: 2`" in result.errors[0].message


def test_digest_removed_note(tmp_path: Path) -> None:
    k = write(
        tmp_path / "kustomization.yaml", f"images:\n- name: app\n  newTag: '1'\n  digest: {D}\n"
    )
    result = set_image([tmp_path], ["app:2"])
    assert k.read_text() == "images:\n- name: app\n  newTag: '2'\n"
    assert any(e.note and "digest removed" in e.note for e in result.edits)


def test_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidReference):
        set_image([tmp_path], ["App:1"])
    with pytest.raises(InvalidReference):
        set_image([tmp_path], ["app"])
    with pytest.raises(UsageError):
        set_image([tmp_path / "missing"], ["app:1"])
    with pytest.raises(UsageError):
        set_image([], ["app:1"])
    result = set_image([tmp_path], ["app:1"])
    assert result.warnings and "nothing under" in result.warnings[0]


def test_edit_texts_in_memory() -> None:
    texts, result = edit_texts(
        [("a.yaml", POD.format(v="app:1")), ("b.yaml", "x: [\n"), ("c.yaml", "image: other:1\n")],
        ["app:2"],
    )
    assert texts == {"a.yaml": POD.format(v="app:2")}
    assert [e.file for e in result.errors] == ["b.yaml"]


def test_forked_workers_give_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promoter.setimage as si

    for i in range(30):
        v = "app:1" if i % 3 == 0 else "other:1"
        write(tmp_path / f"d{i % 4}" / f"f{i:02d}.yaml", POD.format(v=v))
    write(tmp_path / "d0" / "zz-bad.yaml", "image: app:1\nx: [\n")
    sequential = set_image([tmp_path], ["app:2"], dry_run=True, diff=True)
    monkeypatch.setattr(si, "_workers", lambda n: 3)
    parallel = set_image([tmp_path], ["app:2"], diff=True)
    assert parallel.edits == sequential.edits and len(parallel.edits) == 10
    assert parallel.diff == sequential.diff
    assert [str(e) for e in parallel.errors] == [str(e) for e in sequential.errors]
    assert parallel.files_scanned == 31
    assert (tmp_path / "d0" / "f00.yaml").read_text() == POD.format(v="app:2")


def test_utf16_and_no_final_newline_kept(tmp_path: Path) -> None:
    text = "# é\nimage: app:1  # c\n"
    u16 = write(tmp_path / "u16.yaml", b"\xff\xfe" + text.encode("utf-16-le"))
    bare = write(tmp_path / "bare.yaml", "a: 1\nimage: 'app:1'")
    result = set_image([tmp_path], ["app:2"])
    assert not result.errors, result.errors
    assert u16.read_bytes() == b"\xff\xfe" + text.replace("app:1", "app:2").encode("utf-16-le")
    assert bare.read_bytes() == b"a: 1\nimage: 'app:2'"


def test_several_images_at_once(tmp_path: Path) -> None:
    f = write(
        tmp_path / "p.yaml",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: a:1\n  - image: b:1\n"
        "  - image: c:1\n",
    )
    result = set_image([f], ["a:2", "docker.io/library/b:3"])
    assert f.read_text().endswith("  - image: a:2\n  - image: b:3\n  - image: c:1\n")
    assert [e.new for e in result.edits] == ["a:2", "b:3"]
    with pytest.raises(UsageError):
        set_image([f], ["a:2", "docker.io/library/a:3"])


def test_big_file_read_whole(tmp_path: Path) -> None:
    filler = "".join(f"k{i}: {'x' * 60}\n" for i in range(3000))  # ~200 KB, pin at the end
    f = write(tmp_path / "big.yaml", filler + "image: app:1\n")
    set_image([f], ["app:2"])
    assert f.read_text() == filler + "image: app:2\n"
