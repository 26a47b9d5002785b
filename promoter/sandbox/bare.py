"""Git operations the sandbox's forge emulations run on bare repositories.

Everything is the ``git`` command line with argument lists (never a shell),
so a merge in the sandbox is a real merge: ``git merge-tree --write-tree``
decides mergeability (git >= 2.38; an older git gets the same verdict from a
three-way ``git read-tree`` in a private index, see ``_index_merge``),
``git commit-tree`` makes merge / squash / rebase commits and
``git update-ref <ref> <new> <old>`` moves the base branch only if nobody
moved it meanwhile (compare-and-swap, like the real services).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree (SHA-1)
SANDBOX_IDENTITY = ("Promoter Sandbox", "sandbox@promoter.invalid")


class GitError(RuntimeError):
    """A git command failed; the message carries the command and its stderr."""


@dataclass(frozen=True, slots=True)
class MergeCheck:
    clean: bool
    tree: str | None  # the merged tree when clean
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiffStat:
    files: tuple[str, ...]
    additions: int
    deletions: int


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str  # ISO 8601 strict
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def run(
    repo: Path,
    *args: str,
    check: bool = True,
    input_bytes: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    cmd = ["git", "--git-dir", str(repo), *args]
    proc = subprocess.run(cmd, input=input_bytes, capture_output=True, env=_env(env), check=False)
    if check and proc.returncode != 0:
        raise GitError(
            f"git {' '.join(args)} failed in {repo} (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return proc


def out(repo: Path, *args: str) -> str:
    return run(repo, *args).stdout.decode().strip()


def init_bare(path: Path, default_branch: str = "main") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", default_branch, str(path)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    return path


def resolve(repo: Path, ref: str) -> str | None:
    """The commit sha ``ref`` (branch name, full ref or sha) points at, or None."""
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", ref]
    for cand in candidates:
        proc = run(repo, "rev-parse", "--verify", "--quiet", f"{cand}^{{commit}}", check=False)
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
    return None


def default_branch(repo: Path) -> str:
    proc = run(repo, "symbolic-ref", "--short", "HEAD", check=False)
    name = proc.stdout.decode().strip()
    return name or "main"


def branches(repo: Path) -> dict[str, str]:
    text = out(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
    result: dict[str, str] = {}
    for line in text.splitlines():
        name, _, sha = line.rpartition(" ")
        result[name] = sha
    return result


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    proc = run(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    return proc.returncode == 0


def merge_base(repo: Path, a: str, b: str) -> str | None:
    proc = run(repo, "merge-base", a, b, check=False)
    return proc.stdout.decode().strip() or None


def commits_between(repo: Path, base: str, head: str) -> list[str]:
    """Commits reachable from head but not from base, oldest first (``git rev-list``)."""
    text = out(repo, "rev-list", "--reverse", "--topo-order", f"{base}..{head}")
    return text.split()


def commit_info(repo: Path, sha: str) -> CommitInfo:
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    fields = out(repo, "show", "-s", f"--format={fmt}", sha).split("\x00")
    return CommitInfo(
        sha=fields[0],
        tree=fields[1],
        parents=tuple(fields[2].split()),
        author_name=fields[3],
        author_email=fields[4],
        author_date=fields[5],
        committer_name=fields[6],
        committer_email=fields[7],
        committer_date=fields[8],
        message=fields[9],
    )


def diff_stat(repo: Path, base: str, head: str) -> DiffStat:
    """Files changed between the merge base of (base, head) and head, like a PR's diff."""
    mb = merge_base(repo, base, head) or base
    text = out(repo, "diff", "--numstat", "-z", mb, head)
    files: list[str] = []
    adds = dels = 0
    parts = text.split("\x00")
    i = 0
    while i < len(parts):
        item = parts[i]
        if not item:
            i += 1
            continue
        a, d, name = [*item.split("\t", 2), "", "", ""][:3]
        if name == "" and i + 2 < len(parts):  # rename: name follows as two NUL fields
            name = parts[i + 2]
            i += 2
        files.append(name)
        adds += int(a) if a.isdigit() else 0
        dels += int(d) if d.isdigit() else 0
        i += 1
    return DiffStat(tuple(files), adds, dels)


MERGE_TREE_GIT = (2, 38)  # first git with ``git merge-tree --write-tree``
# None: probe the installed git; tests set False to run the older-git path with real git.
USE_MERGE_TREE: bool | None = None


@functools.lru_cache(maxsize=1)
def git_version() -> tuple[int, int]:
    """(major, minor) of the ``git`` on PATH; (0, 0) when its answer cannot be read."""
    proc = subprocess.run(["git", "--version"], capture_output=True, env=_env(), check=False)
    found = re.search(rb"(\d+)\.(\d+)", proc.stdout)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def merge_check(repo: Path, base: str, head: str) -> MergeCheck:
    """Would merging head into base conflict? No work tree is touched.

    ``git merge-tree --write-tree`` where git has it (2.38+), else ``_index_merge``.
    """
    if not _use_merge_tree():
        return _index_merge(repo, base, head)
    proc = run(repo, "merge-tree", "--write-tree", "--name-only", base, head, check=False)
    lines = proc.stdout.decode().splitlines()
    if proc.returncode == 0:
        return MergeCheck(True, lines[0].strip() if lines else None)
    if proc.returncode == 1:
        # first line is the tree, then conflicted file names, a blank line, then messages
        conflicts: list[str] = []
        for line in lines[1:]:
            if not line.strip():
                break
            conflicts.append(line.strip())
        return MergeCheck(False, None, tuple(conflicts))
    raise GitError(
        f"git merge-tree failed in {repo} for {base}..{head}: "
        f"{proc.stderr.decode(errors='replace').strip()}"
    )


_REGULAR = ("100644", "100755")


def _index_merge(repo: Path, base: str, head: str) -> MergeCheck:
    """``merge_check`` for git older than 2.38: a three-way merge in a private index.

    ``git read-tree -m --aggressive`` resolves what one side alone changed; each
    path both sides changed gets a content merge (``git merge-file``) as
    ``merge-tree`` would. Differences from ``merge-tree`` (ort): no rename
    detection (a rename on one side and an edit on the other conflicts here), and
    for criss-cross histories the best single merge base instead of a virtual one.
    """
    bases = run(repo, "merge-base", base, head, check=False).stdout.decode().split()
    if not bases:
        raise GitError(
            f"git merge-base found no common commit in {repo} for {base}..{head}: "
            "refusing to merge unrelated histories"
        )
    return _three_way(repo, bases[0], base, head)


def _use_merge_tree() -> bool:
    return USE_MERGE_TREE if USE_MERGE_TREE is not None else git_version() >= MERGE_TREE_GIT


def _three_way(repo: Path, ancestor: str, ours: str, theirs: str) -> MergeCheck:
    """Merge the trees of ``ours`` and ``theirs`` against ``ancestor`` in a private index."""
    with tempfile.TemporaryDirectory(prefix="sandbox-merge-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run(repo, "read-tree", "-i", "-m", "--aggressive", ancestor, ours, theirs, env=env)
        stages: dict[str, dict[int, tuple[str, str]]] = {}
        listing = run(repo, "ls-files", "-u", "-z", env=env).stdout.decode()
        for entry in filter(None, listing.split("\0")):
            info, _, name = entry.partition("\t")
            mode, sha, stage = info.split()
            stages.setdefault(name, {})[int(stage)] = (mode, sha)
        conflicts: list[str] = []
        resolved: list[str] = []
        for name, staged in sorted(stages.items()):
            merged = _merge_entry(repo, Path(tmp), staged)
            if merged is None:
                conflicts.append(name)
            else:
                resolved += [f"0 {ZERO_SHA}\t{name}", f"{merged[0]} {merged[1]}\t{name}"]
        if conflicts:
            return MergeCheck(False, None, tuple(conflicts))
        if resolved:
            text = "".join(line + "\n" for line in resolved)
            run(repo, "update-index", "--index-info", input_bytes=text.encode(), env=env)
        return MergeCheck(True, run(repo, "write-tree", env=env).stdout.decode().strip())


def _merge_entry(
    repo: Path, tmp: Path, entry: dict[int, tuple[str, str]]
) -> tuple[str, str] | None:
    """(mode, blob) of one path both sides changed, or None when it conflicts."""
    ours, theirs, orig = entry.get(2), entry.get(3), entry.get(1)
    if ours is None or theirs is None:
        return None  # modified on one side, deleted on the other
    if ours == theirs:
        return ours
    base_mode, base_sha = orig if orig else (None, None)
    if ours[0] == theirs[0] or theirs[0] == base_mode:
        mode = ours[0]
    elif ours[0] == base_mode:
        mode = theirs[0]
    else:
        return None  # both sides changed the mode differently
    if ours[1] == theirs[1]:
        return mode, ours[1]
    if ours[0] not in _REGULAR or theirs[0] not in _REGULAR:
        return None  # symlinks and submodules merge only when one side kept them
    files = []
    for label, sha in (("ours", ours[1]), ("base", base_sha), ("theirs", theirs[1])):
        file = tmp / label
        file.write_bytes(run(repo, "cat-file", "blob", sha).stdout if sha else b"")
        files.append(str(file))
    proc = run(repo, "merge-file", "-p", *files, check=False)
    if proc.returncode != 0:
        return None  # conflicting hunks (exit = their count) or a binary file (exit 255)
    blob = run(repo, "hash-object", "-w", "--stdin", input_bytes=proc.stdout)
    return mode, blob.stdout.decode().strip()


def commit_tree(
    repo: Path,
    tree: str,
    parents: list[str],
    message: str,
    author: tuple[str, str, str | None] | None = None,
) -> str:
    """Make a commit object; ``author`` is (name, email, date or None for now)."""
    env = {
        "GIT_COMMITTER_NAME": SANDBOX_IDENTITY[0],
        "GIT_COMMITTER_EMAIL": SANDBOX_IDENTITY[1],
    }
    name, email, date = author if author else (SANDBOX_IDENTITY[0], SANDBOX_IDENTITY[1], None)
    env["GIT_AUTHOR_NAME"] = name
    env["GIT_AUTHOR_EMAIL"] = email
    if date:
        env["GIT_AUTHOR_DATE"] = date
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    proc = run(repo, *args, input_bytes=message.encode(), env=env)
    return proc.stdout.decode().strip()


def update_ref(repo: Path, ref: str, new: str, old: str | None) -> bool:
    """Compare-and-swap a ref; ``old`` None means "must not exist". False when it moved."""
    full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    proc = run(repo, "update-ref", full, new, old or ZERO_SHA, check=False)
    return proc.returncode == 0


def delete_ref(repo: Path, ref: str, old: str | None = None) -> bool:
    full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    args = ["update-ref", "-d", full] + ([old] if old else [])
    return run(repo, *args, check=False).returncode == 0


def _cherry_pick_tree(repo: Path, onto: str, commit: str) -> str | None:
    """Tree of ``commit``'s change applied on ``onto`` (temporary index, no work tree).

    git 2.39's merge-tree cannot take an explicit merge base, so the change is
    applied as a patch with ``git apply --cached --3way`` on a private index
    (before git 2.38: ``_three_way`` with the commit's parent as the base).
    """
    info = commit_info(repo, commit)
    parent = info.parents[0] if info.parents else None
    if not _use_merge_tree():
        # ``apply --cached --3way`` is recent too: the same private-index merge as above,
        # with the commit's parent (or the empty tree) as the explicit merge base.
        check = _three_way(repo, parent or EMPTY_TREE, onto, commit)
        return check.tree if check.clean else None
    span = [parent, commit] if parent else ["--root", commit]
    patch = run(repo, "diff-tree", "-p", "--binary", "--full-index", *span).stdout
    with tempfile.TemporaryDirectory(prefix="sandbox-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run(repo, "read-tree", onto, env=env)
        if patch.strip():
            proc = run(repo, "apply", "--cached", "--3way", input_bytes=patch, env=env, check=False)
            if proc.returncode != 0:
                return None
        return run(repo, "write-tree", env=env).stdout.decode().strip()


def merge_commit(
    repo: Path,
    base_ref: str,
    head_sha: str,
    method: str,
    title: str,
    message: str,
) -> str | None:
    """Merge ``head_sha`` into branch ``base_ref`` with GitHub's semantics; returns the new tip.

    merge: a two-parent merge commit; squash: one commit with the merged tree and
    the base as only parent; rebase: each head commit replayed onto the base.
    Returns None when it conflicts or the base moved during the merge.
    """
    base_sha = resolve(repo, base_ref)
    if base_sha is None:
        raise GitError(f"base branch {base_ref!r} does not exist in {repo}")
    check = merge_check(repo, base_sha, head_sha)
    if not check.clean or check.tree is None:
        return None
    full_message = title + ("\n\n" + message if message else "") + "\n"
    if method == "merge":
        new = commit_tree(repo, check.tree, [base_sha, head_sha], full_message)
    elif method == "squash":
        head_info = commit_info(repo, head_sha)
        author: tuple[str, str, str | None] = (head_info.author_name, head_info.author_email, None)
        new = commit_tree(repo, check.tree, [base_sha], full_message, author)
    elif method == "rebase":
        tip = base_sha
        for sha in commits_between(repo, base_sha, head_sha):
            info = commit_info(repo, sha)
            if len(info.parents) > 1:
                continue  # GitHub's rebase drops merge commits too
            tree = _cherry_pick_tree(repo, tip, sha)
            if tree is None:
                return None
            replayed = (info.author_name, info.author_email, info.author_date)
            tip = commit_tree(repo, tree, [tip], info.message, replayed)
        new = tip
    else:
        raise ValueError(f"unknown merge method {method!r}: use merge, squash or rebase")
    if not update_ref(repo, base_ref, new, base_sha):
        return None
    return new


def ls_tree_paths(repo: Path, rev: str) -> list[str]:
    return out(repo, "ls-tree", "-r", "--name-only", rev).splitlines()
