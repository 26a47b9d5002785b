"""``set_image``: find every pin of the requested images under some paths and change it.

The library API behind ``promoter set-image``::

    from promoter import set_image
    result = set_image(["deploy/"], ["ghcr.io/acme/web:1.5.0"], diff=True)

Files: each PATH is a file or a directory walked recursively for ``*.yaml``,
``*.yml`` and ``Kustomization``; ``.git`` is skipped and symlinked directories are
not entered. A symlinked file is edited (at its target, through
:func:`promoter.yamledit.engine.write_atomic`) only when its target lies inside the
PATH it was found under (the file's own directory for a PATH that is a file);
otherwise it is skipped with a warning. A file that fails to parse or to prove
becomes a :class:`~promoter.yamledit.model.FileError`; the other files are still
processed and nothing is written to the failed one.

Speed: trees of 300 files or more are first narrowed by ``grep -l -F`` at C speed
(:mod:`promoter.prefilter`; the same files end up parsed). When the console script
started ``grep -r`` over the directory PATHs at entry (:func:`promoter.prefilter.start_tree`,
for exactly these PATHs and needles), its answer is used instead for the plain files it
read, and Python reads the rest (symlinks, file PATHs); see :func:`_tree_filtered`.
A file is parsed only when its bytes contain the short name of a requested image (``web`` for
``ghcr.io/acme/web``), a marker (``$imagepolicy``, ``promoter:``) or the last
segment of a ``--key`` (with ``--add``: also every kustomization). Every pin
spells the image's last path component, so the pre-filter skips no pin (barring escapes like
``"w\\x65b"``). ``--key`` therefore makes every file containing that key name parse.

:func:`edit_texts` does the same on ``(name, text)`` pairs without touching disk.
"""

from __future__ import annotations

import operator
import os
import sys
from collections import namedtuple

from promoter import prefilter
from promoter.imageref import ImageRef, InvalidReference, parse
from promoter.targets.base import Request
from promoter.yamledit.model import (
    Change,
    DeletePair,
    Edit,
    FileError,
    ParsedFile,
    Result,
    SetScalar,
    format_path,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import NamedTuple

    from promoter.prefilter import Run, TreeGrep

YAML_SUFFIXES = (".yaml", ".yml")
YAML_NAMES = frozenset({"Kustomization"})
MARKER_NEEDLES = prefilter.MARKER_NEEDLES
KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


class UsageError(ValueError):
    """Arguments that cannot work (no PATH, a --key with several images, a missing PATH)."""


class SetImageResult(Result):
    """:class:`Result` plus what people want to hear when nothing changed.

    A plain slotted class, not a dataclass: importing ``dataclasses`` (it imports
    ``inspect``) and generating the class cost every ``set-image`` run ~5-8 ms."""

    __slots__ = ("files_parsed", "files_scanned", "up_to_date", "warnings")

    def __init__(
        self,
        edits: list[Edit] | None = None,
        errors: list[FileError] | None = None,
        changed_files: list[str] | None = None,
        diff: str = "",
        up_to_date: list[Edit] | None = None,
        warnings: list[str] | None = None,
        files_scanned: int = 0,
        files_parsed: int = 0,
    ) -> None:
        super().__init__(edits, errors, changed_files, diff)
        self.up_to_date: list[Edit] = [] if up_to_date is None else up_to_date  # pins at the value
        self.warnings: list[str] = [] if warnings is None else warnings
        self.files_scanned = files_scanned
        self.files_parsed = files_parsed

    _NAMES = (*Result._NAMES, "up_to_date", "warnings", "files_scanned", "files_parsed")


# ---------------------------------------------------------------- request


def build_request(
    images: Iterable[str | ImageRef], keys: Iterable[str] = (), add: bool = False
) -> Request:
    """Parse and check the arguments; raise InvalidReference / UsageError."""
    from promoter.targets.keypath import parse_key

    refs: list[ImageRef] = []
    for image in images:
        ref = parse(image) if isinstance(image, str) else image
        if ref.tag is None and ref.digest is None:
            raise InvalidReference(
                f"invalid image reference {str(ref)!r}: give the new version as a tag "
                f"({ref.name}:1.2.3) or a digest ({ref.name}@sha256:...)"
            )
        if any(r.repository == ref.repository for r in refs):
            raise UsageError(f"image {ref.repository} given twice: give each repository once")
        refs.append(ref)
    if not refs:
        raise UsageError("no image given: pass --image REPOSITORY:TAG")
    key_list = tuple(keys)
    for key in key_list:
        parse_key(key)  # raises KeyPathError (a ValueError) with the reason
    if key_list and len(refs) != 1:
        raise UsageError("--key needs exactly one --image (which image's tag would it get?)")
    return Request(images=tuple(refs), keys=key_list, add=add)


def needles(request: Request) -> tuple[bytes, ...]:
    from promoter.targets.keypath import last_segment

    return prefilter.needles(
        (image.short_name for image in request.images),
        (last_segment(key) for key in request.keys),
        request.add,
    )


def worth_parsing(data: bytes, wanted: tuple[bytes, ...]) -> bool:
    for needle in wanted:
        if needle in data:
            return True
    return data[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16: byte needles do not apply


# ---------------------------------------------------------------- planning


def _change_key(change: Change) -> tuple[int, str]:
    if isinstance(change, SetScalar):
        return id(change.node), ""
    return id(change.mapping), change.key


def _up_to_date(pf: ParsedFile, change: SetScalar, document: int) -> Edit:
    node = change.node
    return Edit(
        pf.name, node.span.line, node.span.column, change.target, format_path(node.path),
        node.value, node.value, document,
    )


def plan(pf: ParsedFile, request: Request) -> tuple[list[Change], list[Edit]]:
    """The changes all targets want in ``pf`` (deduplicated) and the pins already up to date.

    The first target (registry order) to claim a scalar wins; two targets asking
    for different values for one scalar is an error, not a guess.
    """
    from promoter.targets import TARGETS
    from promoter.yamledit.parse import YamlError

    claimed: dict[tuple[int, str], Change] = {}
    current: list[Edit] = []
    order: list[Change] = []
    deleted: set[int] = set()
    for doc in pf.documents:
        for target in TARGETS:
            for change in target.changes(pf, doc, request):
                key = _change_key(change)
                previous = claimed.get(key)
                if previous is not None:
                    if (
                        isinstance(change, SetScalar)
                        and isinstance(previous, SetScalar)
                        and change.new_value != previous.new_value
                    ):
                        node = change.node
                        raise YamlError(
                            pf.name, node.span.line, node.span.column,
                            f"targets {previous.target} and {change.target} disagree about "
                            f"{format_path(node.path)}: {previous.new_value!r} or "
                            f"{change.new_value!r}; mark the field (# promoter: ...) or use --key",
                        )
                    continue
                claimed[key] = change
                if isinstance(change, SetScalar) and change.node.value == change.new_value:
                    current.append(_up_to_date(pf, change, doc.index))
                    continue
                if isinstance(change, DeletePair):
                    value = change.mapping.get(change.key)
                    if value is not None:
                        deleted.add(id(value))
                order.append(change)
    changes = [
        c for c in order if not (isinstance(c, SetScalar) and id(c.node) in deleted)
    ]
    return changes, current


def _error(exc: Exception, name: str) -> FileError:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    message = getattr(exc, "message", None) or str(exc)
    return FileError(getattr(exc, "file", name) or name, line, column, message)


def edit_text(name: str, text: str, request: Request) -> tuple[str, list[Edit], list[Edit]]:
    """``(new text, edits, up-to-date pins)`` for one decoded text; raises YamlError/ProofError."""
    from promoter.yamledit.parse import parse_text

    pf = parse_text(text, name)
    changes, current = plan(pf, request)
    if not changes:
        return text, [], current
    new_text, edits = apply_changes(pf, changes)
    return new_text, edits, current


def apply_changes(pf: ParsedFile, changes: list[Change]) -> tuple[str, list[Edit]]:
    """The engine's splices, then key insertions (:mod:`promoter.targets.addkey`)."""
    from promoter.targets.addkey import AddKey, apply_add_keys
    from promoter.yamledit.engine import apply

    adds = [c for c in changes if isinstance(c, AddKey)]
    rest = [c for c in changes if not isinstance(c, AddKey)]
    text, edits = apply(pf, rest) if rest else (pf.text, [])
    if adds:
        text, added = apply_add_keys(pf, text, adds)
        edits = sorted([*edits, *added], key=lambda e: (e.line, e.column))
    return text, edits


def edit_texts(
    files: Iterable[tuple[str, str]],
    images: Iterable[str | ImageRef],
    *,
    keys: Iterable[str] = (),
    add: bool = False,
) -> tuple[dict[str, str], SetImageResult]:
    """Edit ``(name, text)`` pairs in memory: ``({name: new text} for changed files, result)``."""
    request = build_request(images, keys, add)
    result = SetImageResult()
    out: dict[str, str] = {}
    for name, text in files:
        result.files_scanned += 1
        result.files_parsed += 1
        try:
            new_text, edits, current = edit_text(name, text, request)
        except Exception as exc:  # YamlError, ProofError: one file's failure, not the run's
            if not _is_file_error(exc):
                raise
            result.errors.append(_error(exc, name))
            continue
        result.up_to_date.extend(current)
        if edits:
            out[name] = new_text
            result.edits.extend(edits)
            result.changed_files.append(name)
    return out, result


def _is_file_error(exc: Exception) -> bool:
    from promoter.yamledit.engine import ProofError
    from promoter.yamledit.parse import YamlError

    return isinstance(exc, (YamlError, ProofError))


# ---------------------------------------------------------------- files


if TYPE_CHECKING:

    class Candidate(NamedTuple):
        path: str  # what to open
        name: str  # how messages spell it

else:  # collections.namedtuple, not typing.NamedTuple: no typing import at run time
    Candidate = namedtuple("Candidate", ("path", "name"))


_entry_name = operator.attrgetter("name")  # the walk's sort key; in C, ~1 ms less per 10k files


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def discover(
    paths: Sequence[str | os.PathLike[str]],
    on_found: Callable[[str], None] | None = None,
    indirect: list[int] | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Files to look at, in a stable order, and warnings about skipped symlinks.

    ``on_found`` is called with each file's path as soon as it is listed (the grep
    pre-filter starts on the first ones while the walk goes on). ``indirect`` receives
    the indexes of the files not met as plain files while walking a directory PATH
    (symlinks, file PATHs): those a ``grep -r`` over the directories does not read."""
    found: list[Candidate] = []
    warnings: list[str] = []
    seen: set[str] = set()

    def add(path: str, name: str, root: str, real: str | None) -> None:
        # real: the file's real path when known without a syscall (no symlink on the way)
        if real is None:
            real = os.path.realpath(path)
            if not _inside(real, root):
                warnings.append(f"{name}: skipped: symlink to {real}, outside {root}")
                return
        if real not in seen:
            seen.add(real)
            if indirect is not None:
                indirect.append(len(found))
            found.append(Candidate(path, name))
            if on_found is not None:
                on_found(path)

    new = tuple.__new__  # Candidate(path, name) without NamedTuple's Python-level __new__

    def walk(directory: str, shown: str, real_dir: str, root: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=_entry_name)
        except OSError as exc:
            warnings.append(f"{shown}: skipped: {exc.strerror}")
            return
        prefix = "" if shown == "." else f"{shown}/"
        for entry in entries:  # hot: once per file of the tree, so the common case is inline
            base = entry.name
            if entry.is_dir(follow_symlinks=False):
                if base != ".git":
                    walk(entry.path, prefix + base, f"{real_dir}/{base}", root)
            elif base.endswith(YAML_SUFFIXES) or base in YAML_NAMES:
                if entry.is_symlink():
                    if entry.is_file():
                        add(entry.path, prefix + base, root, None)
                elif entry.is_file():
                    real = f"{real_dir}/{base}"
                    if real not in seen:
                        seen.add(real)
                        path = entry.path
                        found.append(new(Candidate, (path, prefix + base)))
                        if on_found is not None:
                            on_found(path)

    for raw in paths:
        path = os.fspath(raw)
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such file or directory")
        shown = os.path.normpath(path)
        if os.path.isdir(path):
            real = os.path.realpath(path)
            walk(path, shown, real.rstrip(os.sep), real)
        elif os.path.isfile(path):
            root = os.path.realpath(os.path.dirname(os.path.abspath(path)))
            real_file = None if os.path.islink(path) else os.path.realpath(path)
            add(path, shown, root, real_file)
        else:
            warnings.append(f"{shown}: skipped: not a regular file (or a broken symlink)")
    return found, warnings


def unified_diff(name: str, old: str, new: str) -> str:
    import difflib

    def lines(text: str) -> list[str]:
        out = text.splitlines(keepends=True)
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    shown = name.lstrip("/")
    return "".join(
        difflib.unified_diff(lines(old), lines(new), f"a/{shown}", f"b/{shown}", n=3)
    )


if TYPE_CHECKING:

    class _Planned(NamedTuple):
        cand: Candidate
        edits: list[Edit]
        data: bytes
        diff: str

else:
    _Planned = namedtuple("_Planned", ("cand", "edits", "data", "diff"))


def _read(path: str) -> bytes:
    """The file's bytes: os.open/os.read is ~40 % cheaper than open() for small files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 65536)
        if len(data) < 65536:
            return data
        chunks = [data]
        while more := os.read(fd, 1 << 20):
            chunks.append(more)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _process(
    cand: Candidate, request: Request, wanted: tuple[bytes, ...], diff: bool,
    result: SetImageResult,
) -> _Planned | None:
    """Read, pre-filter, parse, plan and splice one file; the write is the caller's."""
    from promoter.yamledit.engine import encode
    from promoter.yamledit.parse import decode, parse_text

    try:
        data = _read(cand.path)
    except OSError as exc:
        result.errors.append(FileError(cand.name, 1, 1, f"cannot read: {exc.strerror}"))
        return None
    result.files_scanned += 1
    if not worth_parsing(data, wanted) and not (
        request.add and os.path.basename(cand.path) in KUSTOMIZATION_NAMES
    ):
        return None
    result.files_parsed += 1
    try:
        text, bom, encoding = decode(data, cand.name)
        pf = parse_text(text, cand.name)
        pf.bom, pf.encoding = bom, encoding
        changes, current = plan(pf, request)
        result.up_to_date.extend(current)
        if not changes:
            return None
        new_text, edits = apply_changes(pf, changes)
        if new_text == text:
            return None
        new_data = encode(pf, new_text)
    except Exception as exc:
        if not _is_file_error(exc):
            raise
        result.errors.append(_error(exc, cand.name))
        return None
    return _Planned(cand, edits, new_data, unified_diff(cand.name, text, new_text) if diff else "")


def _write_all(planned: list[_Planned], durable: bool) -> list[OSError | None]:
    """Write files atomically. Durable writes run several at once (fsync waits on the
    disk, not the CPU); plain ones take ~0.1 ms each, less than starting threads."""
    from promoter.yamledit.engine import write_atomic

    def write(p: _Planned) -> OSError | None:
        try:
            write_atomic(p.cand.path, p.data, durable=durable)
        except OSError as exc:
            return exc
        return None

    if len(planned) < 4 or not durable:
        return [write(p) for p in planned]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(write, planned))


PARALLEL_MIN_FILES = 1000  # below this a fork costs more than it saves
PARSE_WEIGHT = 60  # a file grep picked is parsed (~1 ms): it weighs as much as 60 reads


def _preload() -> None:
    """Import everything planning a file needs (PyYAML's C parser included, ~12 ms).

    Done while grep runs, and always before forking workers, so that no worker
    imports anything on its own."""
    import yaml._yaml  # noqa: F401

    import promoter.targets
    import promoter.targets.addkey
    import promoter.yamledit.engine
    import promoter.yamledit.parse  # noqa: F401
    from promoter.targets import preload

    preload()  # the target modules load lazily otherwise, in each process


def _start_prefilter(
    request: Request, wanted: tuple[bytes, ...]
) -> tuple[Run | None, Callable[[str], None] | None]:
    """``(grep run, on_found)`` for :func:`discover`, or ``(None, None)`` without grep.

    Files grep need not look at (every kustomization with ``--add``) are not given to it.
    """
    from promoter import prefilter

    program = prefilter.grep_program()
    if program is None:
        return None, None
    run = prefilter.Run(program, wanted)
    add = run.add
    if not request.add:
        return run, add

    def on_found(path: str) -> None:
        if os.path.basename(path) not in KUSTOMIZATION_NAMES:
            add(path)

    return run, on_found


def _prefiltered(
    cands: list[Candidate], run: Run | None, result: SetImageResult
) -> tuple[list[Candidate], int]:
    """The candidates Python must read, and their weight in reads (for :func:`_workers`).

    Large trees go through ``grep`` first (:mod:`promoter.prefilter`); the files it
    rules out count as scanned. Python still applies :func:`worth_parsing` to every
    file it reads, so the files parsed are the same with or without grep.
    """
    if run is None:
        return cands, len(cands)
    run.finish()
    if not run.children:  # too few files for grep: Python reads them all
        return cands, len(cands)
    _preload()  # while grep reads (it runs on other cores, or while we wait anyway)
    given = run.paths
    hits = run.hits()
    result.files_scanned += len(given) - len(hits)
    keep = {given[i] for i in hits}
    if len(given) != len(cands):  # --add: kustomizations were not given to grep
        keep.update(c.path for c in cands if os.path.basename(c.path) in KUSTOMIZATION_NAMES)
    chosen = [c for c in cands if c.path in keep]
    return chosen, len(chosen) * PARSE_WEIGHT


def _tree_filtered(
    cands: list[Candidate],
    tree: TreeGrep,
    indirect: list[int],
    request: Request,
    wanted: tuple[bytes, ...],
    result: SetImageResult,
) -> tuple[list[Candidate], int]:
    """:func:`_prefiltered` for a ``grep -r`` started at entry (:class:`prefilter.TreeGrep`).

    Python reads grep's hits, the files grep did not read (``indirect``: symlinks and
    file PATHs) and, with ``--add``, every kustomization. When grep failed (an unreadable
    file, a grep without GNU's options) the batch mode runs over the walk's list instead.
    """
    _preload()  # while grep finishes
    hits = tree.hits()
    if hits is None:
        run, on_found = _start_prefilter(request, wanted)
        if on_found is not None:
            for cand in cands:
                on_found(cand.path)
        return _prefiltered(cands, run, result)
    keep = set(indirect)
    if request.add:
        keep.update(
            i for i, c in enumerate(cands) if os.path.basename(c.path) in KUSTOMIZATION_NAMES
        )
    if keep:
        chosen = [c for i, c in enumerate(cands) if c.path in hits or i in keep]
    else:
        chosen = [c for c in cands if c.path in hits]
    result.files_scanned += len(cands) - len(chosen)
    return chosen, len(chosen) * PARSE_WEIGHT


Outcome = list[tuple[_Planned, OSError | None]]  # planned files and how their write went


def _plan_chunk(
    cands: list[Candidate],
    request: Request,
    wanted: tuple[bytes, ...],
    diff: bool,
) -> tuple[list[_Planned], SetImageResult]:
    """Plan a share of the files (nothing written yet)."""
    part = SetImageResult()
    planned = [p for p in (_process(c, request, wanted, diff, part) for c in cands) if p]
    return planned, part


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _unframe(data: bytes) -> list[bytes]:
    """The complete frames of ``data`` (a worker killed mid-write leaves a partial one)."""
    frames, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 8], "big")
        if at + 8 + size > len(data):
            break
        frames.append(data[at + 8 : at + 8 + size])
        at += 8 + size
    return frames


def _workers(n_files: int) -> int:
    if n_files < PARALLEL_MIN_FILES or not hasattr(os, "fork"):
        return 1
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return 1  # forking a threaded process can copy a held lock into the child
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _plan_all(
    cands: list[Candidate],
    request: Request,
    wanted: tuple[bytes, ...],
    diff: bool,
    result: SetImageResult,
    weight: int,
    write: bool,
    durable: bool,
) -> Outcome:
    """Plan and write every file; big trees are split over forked workers (reading and
    parsing are CPU-bound Python). The parent does one share itself; each process writes
    the files it planned.

    A worker sends its plan through its pipe *before* writing anything, then how its
    writes went. So the files and the report never depend on forking: a worker that
    died before its plan arrived wrote nothing, and its share is redone in the parent;
    one that died while writing (killed) had its plan received, and the parent writes
    that plan again (the same bytes, atomically) and reports it as planned, as changes
    (a redo would have read the files it had already written and called them up to date).
    """
    n = _workers(weight)
    size = max(1, -(-len(cands) // n))
    chunks = [cands[i : i + size] for i in range(0, len(cands), size)] or [[]]
    children: list[tuple[int, int, list[Candidate]]] = []
    if len(chunks) > 1:
        import pickle

        _preload()  # before forking, so that no child imports anything

        for chunk in chunks[1:]:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: plan its share, send it back, leave without cleanup
                code = 0
                try:
                    os.close(r)
                    planned, part = _plan_chunk(chunk, request, wanted, diff)
                    with os.fdopen(w, "wb") as sink:
                        sink.write(_frame(pickle.dumps((planned, part))))
                        sink.flush()  # the plan is in the pipe before any file is written
                        failures = _write_all(planned, durable) if write else []
                        sink.write(_frame(pickle.dumps(failures)))
                except BaseException:
                    code = 1
                os._exit(code)
            os.close(w)
            children.append((pid, r, chunk))
    planned, part = _plan_chunk(chunks[0], request, wanted, diff)
    failures = _write_all(planned, durable) if write else [None] * len(planned)
    parts = [(planned, failures, part)]
    for pid, r, chunk in children:
        with os.fdopen(r, "rb") as fh:
            frames = _unframe(fh.read())
        os.waitpid(pid, 0)
        # our own child's bytes, never untrusted input
        if not frames:  # it died before sending its plan, so before writing: redo it
            planned, part = _plan_chunk(chunk, request, wanted, diff)
        else:
            planned, part = pickle.loads(frames[0])
        if len(frames) == 2 and write:
            failures = pickle.loads(frames[1])
        elif write:  # not written, or killed while writing: (re)write the plan
            failures = _write_all(planned, durable)
        else:
            failures = [None] * len(planned)
        parts.append((planned, failures, part))
    out: Outcome = []
    for planned, failures, partial in parts:
        out.extend(zip(planned, failures, strict=True))
        result.errors.extend(partial.errors)
        result.up_to_date.extend(partial.up_to_date)
        result.files_scanned += partial.files_scanned
        result.files_parsed += partial.files_parsed
    return out


def set_image(
    paths: Sequence[str | os.PathLike[str]],
    images: Iterable[str | ImageRef],
    *,
    keys: Iterable[str] = (),
    add: bool = False,
    dry_run: bool = False,
    diff: bool = False,
    durable: bool | None = None,
) -> SetImageResult:
    """Set ``images`` (``repo:tag``, ``repo@digest``) wherever files under ``paths`` pin them.

    Raises :class:`~promoter.imageref.InvalidReference` for a bad reference and
    :class:`UsageError` (a ``ValueError``) for arguments that cannot work; problems
    with single files are in ``result.errors``. Writes are atomic; ``durable=True``
    also fsyncs them (default: ``PROMOTER_FSYNC=1`` in the environment, else off --
    see :func:`promoter.yamledit.engine.write_atomic` for why).
    """
    if durable is None:
        durable = os.environ.get("PROMOTER_FSYNC", "") not in ("", "0")
    from promoter.yamledit.parse import no_gc

    with no_gc():  # a run allocates many small objects and no cycles worth collecting
        return _set_image(paths, images, keys, add, dry_run, diff, durable)


def _set_image(
    paths: Sequence[str | os.PathLike[str]],
    images: Iterable[str | ImageRef],
    keys: Iterable[str],
    add: bool,
    dry_run: bool,
    diff: bool,
    durable: bool,
) -> SetImageResult:
    if not paths:
        raise UsageError("no PATH given: name the files or directories to edit")
    request = build_request(images, keys, add)
    wanted = needles(request)
    # A grep -r the console script started at entry, if it was for these PATHs and needles.
    tree = prefilter.take_tree([os.fspath(p) for p in paths], wanted)
    indirect: list[int] | None = None
    run: Run | None = None
    on_found: Callable[[str], None] | None = None
    if tree is not None:
        indirect = []
    else:
        run, on_found = _start_prefilter(request, wanted)
    try:
        candidates, warnings = discover(paths, on_found, indirect)
    except BaseException:  # no grep is left behind (library users run long processes)
        if run is not None:
            run.close()
        if tree is not None:
            tree.close()
        raise
    result = SetImageResult(warnings=warnings)
    if tree is not None and indirect is not None:
        to_read, weight = _tree_filtered(candidates, tree, indirect, request, wanted, result)
    else:
        to_read, weight = _prefiltered(candidates, run, result)
    outcomes = _plan_all(to_read, request, wanted, diff, result, weight, not dry_run, durable)
    for p, failure in outcomes:
        if failure is not None:
            result.errors.append(FileError(p.cand.name, 1, 1, f"cannot write: {failure}"))
            continue
        result.edits.extend(p.edits)
        result.changed_files.append(p.cand.name)
        result.diff += p.diff
    if request.keys and not any(
        e.target == "keypath" for e in (*result.edits, *result.up_to_date)
    ):
        result.warnings.append(f"no file under the PATHs has the key {', '.join(request.keys)}")
    if not result.edits and not result.up_to_date and not result.errors:
        names = ", ".join(image.name for image in request.images)
        where = " ".join(os.fspath(p) for p in paths)
        result.warnings.append(f"nothing under {where} pins {names}")
    return result
