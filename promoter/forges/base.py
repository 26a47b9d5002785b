"""The protocol every forge plug-in implements (github.py, gitlab.py, none.py).

``promote.run`` pushes the promotion branch itself (git is the lock); the
forge then finds/creates/updates the one pull request for that branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

MergeMethod = Literal["merge", "squash", "rebase"]


@dataclass(frozen=True, slots=True)
class PullRequestSpec:
    repo_url: str  # the git URL promoted into (forges derive owner/repo or project path)
    base: str
    head: str  # our deterministic promotion branch
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: MergeMethod | None = None
    merge_now: bool = False
    # The commit this run pushed (or found) on ``head``; when the open PR's head differs, a
    # newer run moved the branch and owns the PR text, so title/body are left alone.
    head_sha: str | None = None


@dataclass(frozen=True, slots=True)
class PullRequestResult:
    number: int | None
    url: str | None
    action: Literal["created", "updated", "unchanged", "closed", "merged", "none"]
    auto_merge_enabled: bool = False
    messages: tuple[str, ...] = field(default_factory=tuple)


class Forge(Protocol):
    name: str

    def open_or_update(self, spec: PullRequestSpec) -> PullRequestResult:
        """Create the PR for ``spec.head`` or update the open one in place; never a second one."""
        ...

    def close_if_empty(self, spec: PullRequestSpec, comment: str) -> PullRequestResult:
        """Close the open PR for ``spec.head`` (with ``comment``) when the branch equals base."""
        ...
