"""Git facts, pipelines and merging for the GitLab emulation (no HTTP in here).

* :func:`facts` reads what git says about a merge request now (head, target,
  merge base, conflicts with ``git merge-tree --write-tree``, changed files)
  and creates the pipeline GitLab would have run for the head commit.
* :func:`immediate_merge` makes the real merge commit (after a squash commit
  when the MR squashes) and moves the target with a compare-and-swap
  ``update-ref``, as ``MergeRequests::MergeService`` does; a refusal is GitLab's
  ``422 Branch cannot be merged``.
* :func:`set_pipeline` / :func:`process_auto_merge` play the pipeline finishing
  and GitLab's "merge when checks pass" reacting to it.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.sandbox import bare
from promoter.sandbox.gitlab_entities import MrFacts
from promoter.sandbox.gitlab_model import (
    DEVELOPER,
    MAINTAINER,
    GitLabState,
    MergeRequest,
    Note,
    Pipeline,
    User,
    now_iso,
)
from promoter.sandbox.gitlab_params import ApiError, error

CI_FILE = ".gitlab-ci.yml"
ACTIVE_PIPELINE = ("created", "waiting_for_resource", "preparing", "pending", "running")


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    path: str  # group/subgroup/project
    repo: Path  # the bare repository

    @property
    def encoded(self) -> str:
        return urllib.parse.quote(self.path, safe="")


@dataclass(frozen=True, slots=True)
class MergeOptions:
    merge_message: str | None = None
    squash_message: str | None = None
    remove_source_branch: bool | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "merge_message": self.merge_message,
            "squash_message": self.squash_message,
            "remove_source_branch": self.remove_source_branch,
        }

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> MergeOptions:
        return cls(**raw) if raw else cls()


def system_note(state: GitLabState, mr: MergeRequest, user: User, text: str) -> None:
    mr.notes.append(Note(state.next_id("note"), text, user.id, now_iso(), system=True))


# ---------------------------------------------------------------------- facts, pipelines
def facts(state: GitLabState, project: Project, mr: MergeRequest) -> MrFacts:
    repo = project.repo
    if mr.state != "opened":
        head = mr.final_sha
        pipeline = state.pipeline(project.id, head) if head else None
        return MrFacts(head, mr.final_base_sha, mr.final_base_sha, True, False, 0, pipeline)
    head = bare.resolve(repo, f"refs/heads/{mr.source_branch}")
    target = bare.resolve(repo, f"refs/heads/{mr.target_branch}")
    if head is not None:
        mr.final_sha = head
    if head is None or target is None:
        return MrFacts(head, target, None, False, False, 0, None)
    base = bare.merge_base(repo, target, head)
    has_commits = not bare.is_ancestor(repo, head, target)
    conflicts = has_commits and not bare.merge_check(repo, target, head).clean
    changed = len(bare.diff_stat(repo, target, head).files) if has_commits else 0
    pipeline = ensure_pipeline(state, project, head, mr.source_branch)
    return MrFacts(head, target, base, has_commits, conflicts, changed, pipeline)


def ensure_pipeline(state: GitLabState, project: Project, sha: str, ref: str) -> Pipeline | None:
    """GitLab runs a pipeline for a pushed commit whose tree has ``.gitlab-ci.yml``."""
    existing = state.pipeline(project.id, sha)
    if existing is not None:
        return existing
    probe = bare.run(project.repo, "cat-file", "-e", f"{sha}:{CI_FILE}", check=False)
    if probe.returncode != 0:
        return None
    stamp = now_iso()
    pipeline = Pipeline(state.next_id("pipeline"), project.id, sha, ref, "running", stamp, stamp)
    state.pipelines.append(pipeline)
    return pipeline


def set_pipeline(
    state: GitLabState, project: Project, sha: str, status: str, ref: str | None
) -> Pipeline:
    """Move the pipeline of ``sha`` to ``status``; auto-merges waiting on it react."""
    pipeline = state.pipeline(project.id, sha)
    stamp = now_iso()
    if pipeline is None:
        branch = ref or next((n for n, s in bare.branches(project.repo).items() if s == sha), "")
        pipeline = Pipeline(
            state.next_id("pipeline"), project.id, sha, branch, status, stamp, stamp
        )
        state.pipelines.append(pipeline)
    pipeline.status = status
    pipeline.updated_at = stamp
    for mr in state.mrs_of(project.id):
        head = bare.resolve(project.repo, f"refs/heads/{mr.source_branch}")
        if mr.state == "opened" and head == sha:
            process_auto_merge(state, project, mr)
    return pipeline


# ---------------------------------------------------------------------- merging
def can_merge(user: User, project: Project, mr: MergeRequest) -> bool:
    # The default branch is protected (Maintainers may merge), others allow Developers.
    protected = mr.target_branch == bare.default_branch(project.repo)
    return user.access_level >= (MAINTAINER if protected else DEVELOPER)


def mergeable(mr: MergeRequest, f: MrFacts) -> bool:
    return mr.state == "opened" and not mr.draft and not f.cannot_be_merged


def auto_merge_strategy(mr: MergeRequest, f: MrFacts) -> bool:
    """Whether "merge when checks pass" can wait here (a running pipeline or a draft)."""
    pipeline = f.pipeline
    waiting = (pipeline is not None and pipeline.status in ACTIVE_PIPELINE) or mr.draft
    return not f.cannot_be_merged and waiting


def pipeline_allows_merge(f: MrFacts) -> bool:
    """GitLab: no pipeline for the head (and none being created), or it succeeded."""
    return f.pipeline is None or f.pipeline.status == "success"


def enable_auto_merge(
    state: GitLabState, mr: MergeRequest, user: User, options: MergeOptions
) -> None:
    mr.merge_when_pipeline_succeeds = True
    mr.merge_user_id = user.id
    mr.merge_options = options.dump()
    mr.updated_at = now_iso()
    system_note(state, mr, user, "enabled an automatic merge when all merge checks pass")


def immediate_merge(
    state: GitLabState,
    project: Project,
    mr: MergeRequest,
    user: User,
    f: MrFacts,
    options: MergeOptions,
) -> None:
    if not mergeable(mr, f) or f.head_sha is None:
        raise error(422, "Branch cannot be merged")
    commit = git_merge(project, mr, f, options)
    if commit is None:
        raise error(422, "Branch cannot be merged")
    merge_sha, squash_sha = commit
    stamp = now_iso()
    mr.state = "merged"
    mr.merged_at = stamp
    mr.updated_at = stamp
    mr.merged_by_id = user.id
    mr.merge_user_id = user.id
    mr.merge_commit_sha = merge_sha
    mr.squash_commit_sha = squash_sha
    mr.final_sha = f.head_sha
    mr.final_base_sha = f.target_sha
    mr.merge_when_pipeline_succeeds = False
    mr.merge_error = None
    remove = options.remove_source_branch
    if remove is None:
        remove = mr.force_remove_source_branch
    if remove:
        bare.delete_ref(project.repo, f"refs/heads/{mr.source_branch}", f.head_sha)


def git_merge(
    project: Project, mr: MergeRequest, f: MrFacts, options: MergeOptions
) -> tuple[str, str | None] | None:
    """A real merge commit (after a squash commit when asked); None if git refuses."""
    repo, head, target = project.repo, f.head_sha, f.target_sha
    assert head is not None and target is not None
    check = bare.merge_check(repo, target, head)
    if not check.clean or check.tree is None:
        return None
    squash_sha: str | None = None
    second = head
    if mr.squash:
        info = bare.commit_info(repo, head)
        message = options.squash_message or mr.title
        author = (info.author_name, info.author_email, None)
        parent = f.merge_base or target
        squash_sha = bare.commit_tree(
            repo, info.tree, [parent], message.rstrip("\n") + "\n", author
        )
        second = squash_sha
    message = options.merge_message or (
        f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}\n\n"
        f"See merge request {project.path}!{mr.iid}"
    )
    merge_sha = bare.commit_tree(repo, check.tree, [target, second], message.rstrip() + "\n")
    if not bare.update_ref(repo, f"refs/heads/{mr.target_branch}", merge_sha, target):
        return None  # the target moved or a server hook refused the update
    return merge_sha, squash_sha


def process_auto_merge(state: GitLabState, project: Project, mr: MergeRequest) -> None:
    """Merge an auto-merge MR once its checks pass (pipeline success, not draft)."""
    if mr.state != "opened" or not mr.merge_when_pipeline_succeeds:
        return
    user = state.user_by_id(mr.merge_user_id or mr.author_id)
    assert user is not None
    current = facts(state, project, mr)
    pipeline = current.pipeline
    if pipeline is not None and pipeline.status in ("failed", "canceled"):
        mr.merge_when_pipeline_succeeds = False
        system_note(state, mr, user, "aborted the automatic merge because the pipeline failed")
        return
    if mr.draft or not pipeline_allows_merge(current):
        return
    try:
        immediate_merge(state, project, mr, user, current, MergeOptions.load(mr.merge_options))
    except ApiError:
        mr.merge_when_pipeline_succeeds = False
        mr.merge_error = "Merge request is not mergeable"
        system_note(state, mr, user, "aborted the automatic merge: the branch cannot be merged")
