"""A C-speed first pass of ``set-image``'s pre-filter: ``grep -l -F`` over the candidate files.

Reading 10,000 small files in Python costs ~15 us each; ``grep`` reads them at C
speed, and several ``grep`` processes use every core while Python imports the
engine. ``grep`` only answers "which of these files contain one of these byte
strings", run on exactly the paths Python would open (the same symlink, ``.git``
and file-name rules, because the list comes from :func:`promoter.setimage.discover`).
Its answer is a superset of what Python's :func:`~promoter.setimage.worth_parsing`
accepts (UTF-16 byte-order marks are extra needles; a needle containing a line break
splits into more needles), and Python re-checks every hit, so the files parsed are
exactly those of the pure-Python scan. Files grep cannot vouch for (an error in their
batch, a name with a line break) are read by Python as before.

Only POSIX options are used (``-l -F -e``, ``--``), under ``LC_ALL=C`` so bytes are
compared as bytes. ``PROMOTER_NO_GREP=1`` turns it off; so does a missing ``grep`` or
``os.posix_spawn``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

MIN_FILES = 300  # below this, reading in Python is cheaper than starting grep
_BATCH_BYTES = 100_000  # argv bytes per grep run, far below any ARG_MAX
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def grep_program() -> str | None:
    """The ``grep`` on PATH, or None (no grep, no posix_spawn, or PROMOTER_NO_GREP set)."""
    if os.environ.get("PROMOTER_NO_GREP") or not hasattr(os, "posix_spawn"):
        return None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", "grep")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Run:
    """grep processes started on batches of paths; :meth:`hits` collects their answers."""

    def __init__(self, program: str, paths: Sequence[str], needles: Sequence[bytes]) -> None:
        self.unsure: list[int] = []  # indexes of paths grep does not look at
        self.children: list[tuple[int, int, list[int]]] = []  # (pid, stdout fd, path indexes)
        args = [program.encode(), b"-l", b"-F"]
        for needle in (*needles, *_UTF16_BOMS):
            args += (b"-e", needle)
        env = dict(os.environ)
        env["LC_ALL"] = "C"
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:
            cpus = os.cpu_count() or 1
        batches = _batches(paths, max(1, min(cpus, 4)), self.unsure)
        for batch in batches:
            argv = [*args, b"--", *(os.fsencode(paths[i]) for i in batch)]
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
            except OSError:
                os.close(r)
                self.unsure.extend(batch)
                continue
            finally:
                os.close(w)
            self.children.append((pid, r, batch))

    def hits(self, paths: Sequence[str]) -> list[int]:
        """Indexes of the paths Python must read: grep's hits and the ones it could not vouch
        for, in the original order."""
        out = list(self.unsure)
        for pid, r, batch in self.children:
            chunks = []
            with os.fdopen(r, "rb") as fh:
                while data := fh.read(1 << 16):
                    chunks.append(data)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, 1):  # an error (unreadable file...): Python reads the batch
                out.extend(batch)
                continue
            found = set(b"".join(chunks).split(b"\n"))
            out.extend(i for i in batch if os.fsencode(paths[i]) in found)
        out.sort()
        return out


def _batches(paths: Sequence[str], parts: int, unsure: list[int]) -> list[list[int]]:
    """Split path indexes into about ``parts`` batches of at most ``_BATCH_BYTES`` argv each.

    Names with a line break cannot be told apart in grep's output: they go to ``unsure``.
    """
    fit: list[int] = []
    for i, path in enumerate(paths):
        if "\n" in path:
            unsure.append(i)
        else:
            fit.append(i)
    total = sum(len(paths[i]) + 1 for i in fit)
    limit = min(_BATCH_BYTES, max(1, -(-total // parts)))
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in fit:
        current.append(i)
        size += len(paths[i]) + 1
        if size >= limit:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches
