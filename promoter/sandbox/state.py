"""Forge state (pull requests, merge requests, comments, tokens) persisted beside the repos.

One JSON file per namespace (``github``, ``gitlab``) under ``<root>/.sandbox/``,
read-modify-written inside :meth:`StateStore.transaction` under a thread lock
*and* an ``flock`` on a lock file, so several server threads or even several
``promoter sandbox serve`` processes on one root never lose an update. The
directory name starts with a dot, so git http-backend never mistakes it for
a repository, and ``git`` operations never see it.

Convention for plug-ins (GitHub here, GitLab in ``gitlab_api.py``): keep
everything in the namespace dict, JSON types only, and derive live git facts
(head sha, mergeability) from the bare repo on each read rather than caching.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_DIR = ".sandbox"


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / STATE_DIR
        self._lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None

    def _path(self, namespace: str) -> Path:
        if not namespace.isidentifier():
            raise ValueError(f"state namespace must be an identifier, got {namespace!r}")
        return self.dir / f"{namespace}.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    def _load(self, namespace: str) -> dict[str, Any]:
        path = self._path(namespace)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"sandbox state {path} is not a JSON object; delete it to reset")
        return data

    def _save(self, namespace: str, data: dict[str, Any]) -> None:
        path = self._path(namespace)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    @contextlib.contextmanager
    def transaction(self, namespace: str) -> Iterator[dict[str, Any]]:
        """Yield the namespace's state for modification; saved when the block exits cleanly."""
        with self._locked():
            data = self._load(namespace)
            yield data
            self._save(namespace, data)

    def read(self, namespace: str) -> dict[str, Any]:
        """A consistent snapshot (a fresh copy: mutating it changes nothing)."""
        with self._locked():
            return self._load(namespace)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state lock across several steps (e.g. a merge and its state update)."""
        with self._locked():
            yield
