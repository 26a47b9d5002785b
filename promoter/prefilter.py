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
    """grep processes over the paths :meth:`add` is given, started while the walk goes on.

    A batch starts as soon as it holds ``_BATCH_BYTES`` of paths and at least
    ``MIN_FILES`` paths were offered in all; :meth:`finish` starts the last one (or, for
    fewer than ``MIN_FILES`` paths, leaves them all to Python). :meth:`hits` collects.
    """

    def __init__(self, program: str, needles: Sequence[bytes]) -> None:
        self.program = program
        self.args = [program.encode(), b"-l", b"-F"]
        for needle in (*needles, *_UTF16_BOMS):
            self.args += (b"-e", needle)
        self.env = dict(os.environ)
        self.env["LC_ALL"] = "C"
        self.min_files = MIN_FILES
        self.batch_bytes = _BATCH_BYTES
        self.paths: list[str] = []  # every path offered, in order
        self.pending: list[int] = []
        self.pending_bytes = 0
        self.unsure: list[int] = []  # indexes of paths grep does not look at
        self.children: list[tuple[int, int, list[int]]] = []  # (pid, stdout fd, path indexes)

    def add(self, path: str) -> None:
        index = len(self.paths)
        self.paths.append(path)
        if "\n" in path:  # cannot be told apart in grep's output: Python reads it
            self.unsure.append(index)
            return
        self.pending.append(index)
        self.pending_bytes += len(path) + 1
        if self.pending_bytes >= self.batch_bytes and len(self.paths) >= self.min_files:
            self._spawn()

    def finish(self) -> None:
        if self.pending and len(self.paths) >= self.min_files:
            self._spawn()
        self.unsure.extend(self.pending)
        self.pending = []

    def _spawn(self) -> None:
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        argv = [*self.args, b"--", *(os.fsencode(self.paths[i]) for i in batch)]
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

    def hits(self) -> list[int]:
        """Indexes of the paths Python must read: grep's hits and the ones it could not vouch
        for, in the original order."""
        self.finish()
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
            out.extend(i for i in batch if os.fsencode(self.paths[i]) in found)
        self.children = []
        out.sort()
        return out
