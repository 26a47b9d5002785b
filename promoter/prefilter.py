"""A C-speed first pass of ``set-image``'s pre-filter: ``grep -l -F`` over the candidate files.

Reading 10,000 small files in Python costs ~15 us each; ``grep`` reads them at C
speed, and several ``grep`` processes (started in batches while the walk is still
listing files) use the other cores while Python walks and imports the engine.
``grep`` only answers "which of these files contain one of these byte strings", run
on exactly the paths Python would open (the same symlink, ``.git`` and file-name
rules, because the list comes from :func:`promoter.setimage.discover`). Its answer is
a superset of what Python's :func:`~promoter.setimage.worth_parsing` accepts (UTF-16
byte-order marks are extra needles; a needle containing a line break splits into
more needles), and Python re-checks every hit, so the files parsed are exactly those
of the pure-Python scan. Files grep cannot vouch for (an error in their batch, a
name with a line break) are read by Python as before.

Only POSIX options are used (``-l -F -e``, ``--``), under ``LC_ALL=C`` so bytes are
compared as bytes. ``PROMOTER_NO_GREP=1`` turns it off; so does a missing ``grep`` or
``os.posix_spawn``.

**Tree mode** (:class:`TreeGrep`): the ``promoter`` console script starts recursive
GNU ``grep -r`` processes over the directory PATHs at process entry (:func:`start_tree`),
before the engine is imported, so grep reads the tree while Python imports and walks.
``grep -r`` visits exactly the plain files Python's walk lists
(``--include`` the YAML names, ``--exclude-dir=.git``, symlinks met while recursing are
not followed, devices skipped); the files it cannot vouch for are read by Python: those
reached through a symlink, file PATHs, and every file when grep reports an error (exit
2: an unreadable file, or a grep without these GNU options, for which the batches above
run instead). Names come back NUL-terminated (``-Z``), so any file name is fine.
:func:`take_tree` hands the run to :func:`promoter.setimage.set_image` only when it was
started for exactly the same PATHs and needles.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MIN_FILES = 300  # below this, reading in Python is cheaper than starting grep
_BATCH_BYTES = 100_000  # argv bytes per grep run, far below any ARG_MAX
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MARKER_NEEDLES = (b"$imagepolicy", b"promoter:")
# The names the walk keeps (promoter.setimage.discover), as grep --include globs.
_INCLUDE = ("--include=*.yaml", "--include=*.yml", "--include=Kustomization")


def needles(short_names: Iterable[str], key_names: Iterable[str], add: bool) -> tuple[bytes, ...]:
    """The byte strings a file must contain to be worth parsing (besides a UTF-16 BOM).

    The images' short names, the markers, the last name of every ``--key`` and, with
    ``--add``, the kustomization kinds. Shared by :func:`promoter.setimage.needles` and
    the console script's early start, so the two cannot drift apart."""
    out = {name.encode() for name in short_names}
    out.update(MARKER_NEEDLES)
    out.update(name.encode() for name in key_names)
    if add:  # --add may append to a kustomization that does not name the image yet
        out.update((b"Kustomization", b"Component"))
    return tuple(sorted(out))


def _grep_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # bytes are compared as bytes
    env.pop("GREP_OPTIONS", None)  # older GNU greps read options from it
    return env


def grep_program() -> str | None:
    """The ``grep`` on PATH, or None (no grep, no posix_spawn, or PROMOTER_NO_GREP set)."""
    if os.environ.get("PROMOTER_NO_GREP") or not hasattr(os, "posix_spawn"):
        return None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", "grep")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _stop(children: Iterable[tuple[int, int]]) -> None:
    """Close each grep's pipe, stop it and reap it: no process or descriptor outlives us."""
    import signal

    for pid, r in children:
        os.close(r)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


class Run:
    """grep processes over the paths :meth:`add` is given, started while the walk goes on.

    A batch starts as soon as it holds ``_BATCH_BYTES`` of paths and at least
    ``MIN_FILES`` paths were offered in all; :meth:`finish` starts the last one (or, for
    fewer than ``MIN_FILES`` paths, leaves them all to Python). :meth:`hits` collects.
    """

    def __init__(self, program: str, needles: Sequence[bytes]) -> None:
        self.program = program
        self.args: list[str | bytes] = [program, "-l", "-F"]
        for needle in (*needles, *_UTF16_BOMS):
            self.args += ("-e", needle)
        self.args.append("--")
        self.env = _grep_env()
        self.min_files = MIN_FILES
        self.batch_bytes = _BATCH_BYTES
        self.paths: list[str] = []  # every path offered, in order
        self.start = 0  # paths[start:] wait for the next batch
        self.pending_bytes = 0
        self.unsure: list[int] = []  # indexes of paths grep does not look at
        self.children: list[tuple[int, int, range]] = []  # (pid, stdout fd, path indexes)

    def add(self, path: str) -> None:  # the walk calls this for every file: keep it lean
        self.paths.append(path)
        self.pending_bytes += len(path) + 1
        if self.pending_bytes >= self.batch_bytes and len(self.paths) >= self.min_files:
            self._spawn()

    def finish(self) -> None:
        if len(self.paths) > self.start:
            if len(self.paths) >= self.min_files:
                self._spawn()
            else:
                self.unsure.extend(range(self.start, len(self.paths)))
                self.start = len(self.paths)

    def _spawn(self) -> None:
        batch = range(self.start, len(self.paths))
        self.start, self.pending_bytes = len(self.paths), 0
        paths = self.paths
        # A name with a line break cannot be told apart in grep's output: Python reads it.
        odd = [i for i in batch if "\n" in paths[i]]
        if odd:
            self.unsure.extend(odd)
        argv = [*self.args, *(paths[i] for i in batch if "\n" not in paths[i])]
        r, w = os.pipe()
        try:
            pid = os.posix_spawn(
                self.program,
                argv,
                self.env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
        except OSError:
            os.close(r)
            self.unsure.extend(batch)
            return
        finally:
            os.close(w)
        self.children.append((pid, r, batch))

    def close(self) -> None:
        """Stop and reap every grep still running (when the walk failed half-way)."""
        children, self.children = self.children, []
        _stop((pid, r) for pid, r, _ in children)

    def hits(self) -> list[int]:
        """Indexes of the paths Python must read: grep's hits and the ones it could not vouch
        for, in the original order."""
        self.finish()
        out = set(self.unsure)
        for pid, r, batch in self.children:
            chunks = []
            with os.fdopen(r, "rb") as fh:
                while data := fh.read(1 << 16):
                    chunks.append(data)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, 1):  # an error (unreadable file...): Python reads the batch
                out.update(batch)
                continue
            found = {os.fsdecode(name) for name in b"".join(chunks).split(b"\n") if name}
            out.update(i for i in batch if self.paths[i] in found)
        self.children = []
        return sorted(out)


def _split_operands(dirs: Sequence[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """What the grep processes search: each PATH's subdirectories and its YAML-named plain
    files (so several processes share a tree), or the PATH itself when it has fewer than
    two subdirectories or many files of its own; and each PATH's listing, to check later
    that nothing appeared or vanished at the top in between (the walk would trust grep
    about a subdirectory grep never saw)."""
    operands: list[str] = []
    listings: list[tuple[str, ...]] = []
    for d in dirs:
        subdirs, files = _top_level(d)
        listings.append((*subdirs, "", *files))
        if len(subdirs) < 2 or len(files) > _MAX_TOP_FILES:
            operands.append(d)
        else:
            operands += subdirs
            operands += files
    return operands, listings


def _top_level(d: str) -> tuple[list[str], list[str]]:
    """``d``'s subdirectories Python's walk enters and its plain YAML-named files, as paths
    spelled the way the walk spells them (``os.path.join(d, name)``)."""
    subdirs: list[str] = []
    files: list[str] = []
    with os.scandir(d) as it:
        for entry in it:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name != ".git":
                    subdirs.append(entry.path)
            elif name.endswith((".yaml", ".yml")) or name == "Kustomization":
                if entry.is_file(follow_symlinks=False):
                    files.append(entry.path)
    subdirs.sort()
    files.sort()
    return subdirs, files


_MAX_TOP_FILES = 1000  # more files of its own than this: grep the PATH in one process
_PROCESSES_PER_CPU = 2  # more processes than CPUs: a fair scheduler under load gives us more


def _processes() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, cpus * _PROCESSES_PER_CPU)


class TreeGrep:
    """``grep -r -l -F -Z`` over directory PATHs, started at process entry.

    The PATHs' subdirectories (and top-level files) are shared among a few processes,
    so grep uses every CPU the imports and the walk leave free, and a fair share of a
    loaded machine. ``key`` is what it was started for (the PATHs as given and the
    needles); :meth:`hits` waits for every process and returns the files found, or None
    when any failed.
    """

    def __init__(
        self, program: str, paths: Sequence[str], dirs: Sequence[str], wanted: Sequence[bytes]
    ) -> None:
        self.key = (tuple(paths), tuple(wanted))
        self.dirs = tuple(dirs)
        self.children: list[tuple[int, int]] = []  # (pid, stdout fd)
        operands, self.listings = _split_operands(self.dirs)
        argv: list[str | bytes] = [
            program, "-r", "-l", "-F", "-Z", "-s", "--devices=skip", *_INCLUDE,
            "--exclude-dir=.git",
            "--no-ignore-case",  # GNU grep >= 3.3 only: any other grep stops at once (exit 2)
        ]  # fmt: skip
        for needle in (*wanted, *_UTF16_BOMS):
            argv += ("-e", needle)
        argv.append("--")
        n = min(len(operands), _processes())
        env = _grep_env()
        try:
            for i in range(n):
                self._spawn(program, [*argv, *operands[i::n]], env)
        except BaseException:
            self.close()
            raise

    def _spawn(self, program: str, argv: list[str | bytes], env: dict[str, str]) -> None:
        r, w = os.pipe()
        try:
            pid = os.posix_spawn(
                program,
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        self.children.append((pid, r))

    def unchanged(self) -> bool:
        """True when the PATHs' top levels are still what the processes were given."""
        try:
            return _split_operands(self.dirs)[1] == self.listings
        except OSError:
            return False

    def hits(self) -> set[str] | None:
        """The files grep found (as Python's walk spells them), or None if grep failed."""
        failed = False
        chunks = []
        children, self.children = self.children, []
        for pid, r in children:
            with os.fdopen(r, "rb") as fh:
                while data := fh.read(1 << 16):
                    chunks.append(data)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) not in (0, 1):
                failed = True  # an unreadable file or directory, or not a GNU grep
        if failed:
            return None
        names = b"".join(chunks).split(b"\0")
        names.pop()  # after the last NUL
        return {os.fsdecode(name) for name in names}

    def close(self) -> None:
        """Stop and reap every grep (their verdict is not wanted)."""
        children, self.children = self.children, []
        _stop(children)


_tree: TreeGrep | None = None  # started by start_tree, consumed by take_tree


def tree_roots(paths: Sequence[str]) -> list[str] | None:
    """The directory PATHs grep -r would search, or None when tree mode cannot vouch for them.

    grep prints ``d//`` as ``d/`` (Python's walk keeps ``d//``), and
    ``--exclude-dir=.git`` also skips a root named ``.git``: with such a root (or ``/``)
    the batch mode runs instead.
    """
    dirs = [p for p in paths if os.path.isdir(p)]
    for d in dirs:
        if d.endswith("//") or not d.strip("/") or ".git" in os.path.normpath(d).split("/"):
            return None
        if ".git" in d.split("/"):
            return None
    return dirs


def start_tree(paths: Sequence[str], wanted: Sequence[bytes]) -> bool:
    """Start grep -r over the directories among ``paths`` (for :func:`take_tree`)."""
    global _tree
    cancel_tree()
    program = grep_program()
    dirs = tree_roots(paths) if program is not None else None
    if program is None or not dirs:
        return False
    try:
        _tree = TreeGrep(program, paths, dirs, wanted)
    except (OSError, ValueError):  # no spawn, or a NUL in a needle or PATH
        return False
    return True


def take_tree(paths: Sequence[str], wanted: Sequence[bytes]) -> TreeGrep | None:
    """The grep :func:`start_tree` started for exactly these PATHs and needles, else None."""
    global _tree
    run, _tree = _tree, None
    if run is None:
        return None
    if (
        run.key != (tuple(paths), tuple(wanted))
        or tree_roots(paths) != list(run.dirs)
        or not run.unchanged()
    ):
        run.close()
        return None
    return run


def cancel_tree() -> None:
    """Stop a grep started by :func:`start_tree` that nobody took."""
    global _tree
    run, _tree = _tree, None
    if run is not None:
        run.close()
