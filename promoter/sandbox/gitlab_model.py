"""The GitLab emulation's records: users, projects, merge requests, notes, pipelines.

Everything is kept as JSON in the ``gitlab`` namespace of the sandbox's
:class:`~promoter.sandbox.state.StateStore` (``<root>/.sandbox/gitlab.json``).
These dataclasses are the typed view of that JSON; live git facts (head sha,
mergeability) are *not* stored while a merge request is open: they are read
from the bare repository whenever a response is built, as GitLab would after
its asynchronous mergeability check.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# GitLab access levels (Gitlab::Access).
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50

ROOT_USER = "root"


def now_iso() -> str:
    """GitLab's timestamp format: UTC, millisecond precision, ``Z`` suffix."""
    stamp = datetime.now(timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class User:
    id: int
    username: str
    name: str
    access_level: int = DEVELOPER
    tokens: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)


@dataclass(slots=True)
class Note:
    id: int
    body: str
    author_id: int
    created_at: str
    system: bool = False


@dataclass(slots=True)
class MergeRequest:
    id: int  # instance-wide id
    iid: int  # per-project number (!iid)
    project_id: int
    title: str
    description: str
    source_branch: str
    target_branch: str
    author_id: int
    created_at: str
    updated_at: str
    state: str = "opened"  # opened | closed | merged | locked
    labels: list[str] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    reviewer_ids: list[int] = field(default_factory=list)
    squash: bool = False
    force_remove_source_branch: bool = False
    should_remove_source_branch: bool | None = None
    merge_when_pipeline_succeeds: bool = False
    merge_user_id: int | None = None
    merged_by_id: int | None = None
    merged_at: str | None = None
    closed_by_id: int | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    merge_error: str | None = None
    # Last head sha seen (kept when the source branch is deleted, frozen once the MR is
    # merged or closed) and the target sha frozen then.
    final_sha: str | None = None
    final_base_sha: str | None = None
    # True until the first read after create: GitLab checks mergeability asynchronously.
    unchecked: bool = True
    # Options of a pending auto-merge (commit messages, branch removal), used when it fires.
    merge_options: dict[str, Any] | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def draft(self) -> bool:
        return is_draft_title(self.title)


@dataclass(slots=True)
class Pipeline:
    id: int
    project_id: int
    sha: str
    ref: str
    status: str  # created | pending | running | success | failed | canceled | skipped
    created_at: str
    updated_at: str


def is_draft_title(title: str) -> bool:
    """GitLab's draft rule: a title starting with ``Draft:``, ``[Draft]`` or ``(Draft)``."""
    head = title.lstrip().lower()
    return head.startswith(("draft:", "[draft]", "(draft)"))


def strip_draft(title: str) -> str:
    text = title.lstrip()
    for prefix in ("draft:", "[draft]", "(draft)"):
        if text.lower().startswith(prefix):
            return text[len(prefix) :].lstrip()
    return title


def _load_mr(raw: dict[str, Any]) -> MergeRequest:
    data = dict(raw)
    data["notes"] = [Note(**n) for n in data.get("notes", [])]
    return MergeRequest(**data)


@dataclass(slots=True)
class GitLabState:
    """The typed view of the ``gitlab`` state namespace."""

    users: list[User] = field(default_factory=list)
    projects: dict[str, int] = field(default_factory=dict)  # path -> id
    namespaces: dict[str, int] = field(default_factory=dict)  # full path -> id
    merge_requests: list[MergeRequest] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    project_labels: dict[str, list[str]] = field(default_factory=dict)  # project id -> names
    counters: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------- (de)serialisation
    @classmethod
    def load(cls, raw: dict[str, Any]) -> GitLabState:
        return cls(
            users=[User(**u) for u in raw.get("users", [])],
            projects=dict(raw.get("projects", {})),
            namespaces=dict(raw.get("namespaces", {})),
            merge_requests=[_load_mr(m) for m in raw.get("merge_requests", [])],
            pipelines=[Pipeline(**p) for p in raw.get("pipelines", [])],
            project_labels={k: list(v) for k, v in raw.get("project_labels", {}).items()},
            counters=dict(raw.get("counters", {})),
        )

    def dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # ------------------------------------------------------------- ids
    def next_id(self, kind: str) -> int:
        value = self.counters.get(kind, 0) + 1
        self.counters[kind] = value
        return value

    # ------------------------------------------------------------- users
    def user_by_id(self, user_id: int) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def user_by_name(self, username: str) -> User | None:
        low = username.lower()
        return next((u for u in self.users if u.username.lower() == low), None)

    def user_by_token(self, token: str) -> User | None:
        return next((u for u in self.users if token in u.tokens), None)

    def add_user(
        self, username: str, name: str | None = None, access_level: int = DEVELOPER
    ) -> User:
        existing = self.user_by_name(username)
        if existing is not None:
            return existing
        user = User(self.next_id("user"), username, name or username.title(), access_level)
        self.users.append(user)
        return user

    # ------------------------------------------------------------- projects
    def project_id(self, path: str) -> int:
        """The numeric id of the project at ``path`` (assigned on first sight)."""
        if path not in self.projects:
            self.projects[path] = self.next_id("project")
        namespace = path.rpartition("/")[0]
        if namespace and namespace not in self.namespaces:
            self.namespaces[namespace] = self.next_id("namespace")
        return self.projects[path]

    def project_path(self, project_id: int) -> str | None:
        return next((p for p, i in self.projects.items() if i == project_id), None)

    def register_repos(self, root: Path) -> None:
        """Give ids to every bare repository under ``root`` (sorted, so ids are stable)."""
        found = sorted(
            str(p.relative_to(root))[: -len(".git")]
            for p in root.rglob("*.git")
            if p.is_dir() and (p / "HEAD").is_file() and ".sandbox" not in p.parts
        )
        for path in found:
            self.project_id(path)

    # ------------------------------------------------------------- merge requests
    def mrs_of(self, project_id: int) -> list[MergeRequest]:
        return [m for m in self.merge_requests if m.project_id == project_id]

    def mr(self, project_id: int, iid: int) -> MergeRequest | None:
        return next(
            (m for m in self.merge_requests if m.project_id == project_id and m.iid == iid), None
        )

    def next_iid(self, project_id: int) -> int:
        return self.next_id(f"iid:{project_id}")

    # ------------------------------------------------------------- pipelines
    def pipeline(self, project_id: int, sha: str) -> Pipeline | None:
        """The latest pipeline for ``sha`` in the project."""
        found = [p for p in self.pipelines if p.project_id == project_id and p.sha == sha]
        return found[-1] if found else None
