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
        self.args: list[str | bytes] = [program, "-l", "-F"]
        for needle in (*needles, *_UTF16_BOMS):
            self.args += ("-e", needle)
        self.args.append("--")
        self.env = dict(os.environ)
        self.env["LC_ALL"] = "C"
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
        import signal

        for pid, r, _ in self.children:
            os.close(r)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        self.children = []

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
