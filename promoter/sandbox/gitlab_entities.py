"""JSON entities of the GitLab v4 API, shaped like GitLab's Grape entities.

Field sets follow ``lib/api/entities/merge_request_basic.rb`` /
``merge_request.rb`` and the recorded bodies in
``shared/contracts/gitlab/`` (go-gitlab testdata from gitlab.com, GitLab doc
examples). Every URL is built from the request's own ``base_url`` so a client
never leaves the sandbox.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from promoter.sandbox.bare import CommitInfo
from promoter.sandbox.gitlab_model import (
    GitLabState,
    MergeRequest,
    Note,
    Pipeline,
    User,
    is_draft_title,
)

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MrFacts:
    """What git says about a merge request right now (computed by the API module)."""

    head_sha: str | None  # None: source branch missing
    target_sha: str | None
    merge_base: str | None
    has_commits: bool
    conflicts: bool
    changed_files: int
    pipeline: Pipeline | None

    @property
    def cannot_be_merged(self) -> bool:
        # GitLab's cannot_be_merged? covers conflicts, no commits and a missing branch.
        return self.conflicts or not self.has_commits or self.head_sha is None


def quote_path(path: str) -> str:
    return urllib.parse.quote(path, safe="")


def user_basic(base: str, user: User) -> JsonDict:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": f"{base}/uploads/-/system/user/avatar/{user.id}/avatar.png",
        "web_url": f"{base}/{user.username}",
    }


def user_detail(base: str, user: User) -> JsonDict:
    """``GET /user``: the basic fields plus the profile fields clients read."""
    data = user_basic(base, user)
    data.update(
        {
            "created_at": user.created_at,
            "bio": "",
            "location": "",
            "public_email": None,
            "skype": "",
            "linkedin": "",
            "twitter": "",
            "discord": "",
            "website_url": "",
            "organization": "",
            "job_title": "",
            "pronouns": None,
            "bot": False,
            "work_information": None,
            "local_time": None,
            "last_sign_in_at": user.created_at,
            "confirmed_at": user.created_at,
            "last_activity_on": user.created_at[:10],
            "email": f"{user.username}@sandbox.invalid",
            "theme_id": 1,
            "color_scheme_id": 1,
            "projects_limit": 100000,
            "current_sign_in_at": user.created_at,
            "identities": [],
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
            "private_profile": False,
            "is_admin": user.username == "root",
        }
    )
    return data


def project_entity(
    base: str,
    state: GitLabState,
    path: str,
    project_id: int,
    default_branch: str | None,
    user: User,
) -> JsonDict:
    """``GET /projects/:id`` (fields of the doc example that matter, URLs on our host)."""
    namespace, _, name = path.rpartition("/")
    ns_name = namespace.rpartition("/")[2]
    api = f"{base}/api/v4/projects/{project_id}"
    return {
        "id": project_id,
        "description": "",
        "name": name,
        "name_with_namespace": " / ".join(path.split("/")),
        "path": name,
        "path_with_namespace": path,
        "created_at": "2024-01-01T00:00:00.000Z",
        "default_branch": default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"ssh://git@{base.split('://', 1)[1]}/{path}.git",
        "http_url_to_repo": f"{base}/{path}.git",
        "web_url": f"{base}/{path}",
        "readme_url": None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": "2024-01-01T00:00:00.000Z",
        "namespace": {
            "id": state.namespaces.get(namespace, 0),
            "name": ns_name,
            "path": ns_name,
            "kind": "group",
            "full_path": namespace,
            "parent_id": None,
            "avatar_url": None,
            "web_url": f"{base}/groups/{namespace}",
        },
        "visibility": "private",
        "_links": {
            "self": api,
            "issues": f"{api}/issues",
            "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches",
            "labels": f"{api}/labels",
            "events": f"{api}/events",
            "members": f"{api}/members",
            "cluster_agents": f"{api}/cluster_agents",
        },
        "empty_repo": default_branch is None,
        "archived": False,
        "issues_enabled": True,
        "merge_requests_enabled": True,
        "jobs_enabled": True,
        "wiki_enabled": True,
        "snippets_enabled": True,
        "can_create_merge_request_in": True,
        "resolve_outdated_diff_discussions": False,
        "container_registry_enabled": False,
        "creator_id": 1,
        "import_status": "none",
        "open_issues_count": 0,
        "shared_runners_enabled": True,
        "public_jobs": True,
        "shared_with_groups": [],
        "only_allow_merge_if_pipeline_succeeds": False,
        "allow_merge_on_skipped_pipeline": False,
        "only_allow_merge_if_all_discussions_are_resolved": False,
        "remove_source_branch_after_merge": True,
        "request_access_enabled": True,
        "merge_method": "merge",
        "squash_option": "default_off",
        "autoclose_referenced_issues": True,
        "permissions": {
            "project_access": {"access_level": user.access_level, "notification_level": 3},
            "group_access": None,
        },
    }


def commit_entity(base: str, project_path: str, info: CommitInfo) -> JsonDict:
    """``Entities::Commit`` (schema commit/basic.json)."""
    title = info.message.split("\n", 1)[0]
    return {
        "id": info.sha,
        "short_id": info.sha[:8],
        "created_at": info.committer_date,
        "parent_ids": list(info.parents),
        "title": title,
        "message": info.message,
        "author_name": info.author_name,
        "author_email": info.author_email,
        "authored_date": info.author_date,
        "committer_name": info.committer_name,
        "committer_email": info.committer_email,
        "committed_date": info.committer_date,
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{base}/{project_path}/-/commit/{info.sha}",
    }


def branch_entity(
    base: str,
    project_path: str,
    name: str,
    info: CommitInfo,
    *,
    default: bool,
    merged: bool,
) -> JsonDict:
    """``Entities::Branch`` (schema branch.json; the default branch is protected)."""
    return {
        "name": name,
        "commit": commit_entity(base, project_path, info),
        "merged": merged,
        "protected": default,
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": True,
        "default": default,
        "web_url": f"{base}/{project_path}/-/tree/{name}",
    }


def pipeline_basic(base: str, project_path: str, p: Pipeline) -> JsonDict:
    return {
        "id": p.id,
        "iid": p.id,
        "project_id": p.project_id,
        "sha": p.sha,
        "ref": p.ref,
        "status": p.status,
        "source": "push",
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "web_url": f"{base}/{project_path}/-/pipelines/{p.id}",
    }


def pipeline_detail(base: str, project_path: str, p: Pipeline, user: User) -> JsonDict:
    data = pipeline_basic(base, project_path, p)
    finished = p.status in ("success", "failed", "canceled", "skipped")
    data.update(
        {
            "before_sha": "0" * 40,
            "tag": False,
            "yaml_errors": None,
            "user": user_basic(base, user),
            "started_at": p.created_at,
            "finished_at": p.updated_at if finished else None,
            "committed_at": None,
            "duration": None,
            "queued_duration": None,
            "coverage": None,
            "detailed_status": {
                "icon": f"status_{p.status}",
                "text": p.status,
                "label": "passed" if p.status == "success" else p.status,
                "group": p.status,
                "tooltip": p.status,
                "has_details": True,
                "details_path": f"/{project_path}/-/pipelines/{p.id}",
                "illustration": None,
                "favicon": f"{base}/assets/ci_favicons/favicon_status_{p.status}.png",
            },
        }
    )
    return data


def _merge_status(mr: MergeRequest, facts: MrFacts) -> tuple[str, str]:
    """(merge_status, detailed_merge_status) in GitLab's check order."""
    if mr.state == "opened" and mr.unchecked:
        return "checking", "checking"
    public = "cannot_be_merged" if facts.cannot_be_merged else "can_be_merged"
    if mr.state != "opened":
        return public, "not_open"
    if is_draft_title(mr.title):
        return public, "draft_status"
    if not facts.has_commits or facts.head_sha is None:
        return public, "commits_status"
    if facts.conflicts:
        return public, "conflict"
    return public, "mergeable"


def _user(state: GitLabState, base: str, user_id: int | None) -> JsonDict | None:
    if user_id is None:
        return None
    user = state.user_by_id(user_id)
    return user_basic(base, user) if user is not None else None


def mr_basic(
    base: str, state: GitLabState, project_path: str, mr: MergeRequest, facts: MrFacts
) -> JsonDict:
    """``Entities::MergeRequestBasic`` (list endpoints)."""
    merge_status, detailed = _merge_status(mr, facts)
    assignees = [u for u in (_user(state, base, i) for i in mr.assignee_ids) if u]
    reviewers = [u for u in (_user(state, base, i) for i in mr.reviewer_ids) if u]
    sha = (facts.head_sha if mr.state == "opened" else None) or mr.final_sha
    merged_by = _user(state, base, mr.merged_by_id)
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": merged_by,
        "merge_user": _user(state, base, mr.merge_user_id) or merged_by,
        "merged_at": mr.merged_at,
        "closed_by": _user(state, base, mr.closed_by_id),
        "closed_at": mr.closed_at,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": sum(1 for n in mr.notes if not n.system),
        "upvotes": 0,
        "downvotes": 0,
        "author": _user(state, base, mr.author_id),
        "assignees": assignees,
        "assignee": assignees[0] if assignees else None,
        "reviewers": reviewers,
        "source_project_id": mr.project_id,
        "target_project_id": mr.project_id,
        "labels": sorted(mr.labels),
        "draft": mr.draft,
        "imported": False,
        "imported_from": "none",
        "work_in_progress": mr.draft,
        "milestone": None,
        "merge_when_pipeline_succeeds": mr.merge_when_pipeline_succeeds,
        "merge_status": merge_status,
        "detailed_merge_status": detailed,
        "merge_after": None,
        "sha": sha or "",
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": mr.squash_commit_sha,
        "discussion_locked": None,
        "should_remove_source_branch": mr.should_remove_source_branch,
        "force_remove_source_branch": mr.force_remove_source_branch,
        "prepared_at": mr.created_at,
        "reference": f"!{mr.iid}",
        "references": {
            "short": f"!{mr.iid}",
            "relative": f"!{mr.iid}",
            "full": f"{project_path}!{mr.iid}",
        },
        "web_url": f"{base}/{project_path}/-/merge_requests/{mr.iid}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "squash": mr.squash,
        "squash_on_merge": mr.squash,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": facts.cannot_be_merged if mr.state == "opened" else False,
        "blocking_discussions_resolved": True,
        "approvals_before_merge": None,
    }


def mr_full(
    base: str,
    state: GitLabState,
    project_path: str,
    mr: MergeRequest,
    facts: MrFacts,
    viewer: User,
    can_merge: bool,
) -> JsonDict:
    """``Entities::MergeRequest`` (single MR: GET, create, update, merge)."""
    data = mr_basic(base, state, project_path, mr, facts)
    pipeline = facts.pipeline
    author = state.user_by_id(mr.author_id) or viewer
    head = data["sha"] or None
    data.update(
        {
            "subscribed": True,
            # GitLab serialises the diff's real_size, a string; observed "" for an empty MR.
            "changes_count": str(facts.changed_files) if facts.has_commits else "",
            "latest_build_started_at": pipeline.created_at if pipeline else None,
            "latest_build_finished_at": (
                pipeline.updated_at
                if pipeline and pipeline.status in ("success", "failed", "canceled")
                else None
            ),
            "first_deployed_to_production_at": None,
            "pipeline": pipeline_basic(base, project_path, pipeline) if pipeline else None,
            "head_pipeline": (
                pipeline_detail(base, project_path, pipeline, author) if pipeline else None
            ),
            "diff_refs": {
                "base_sha": facts.merge_base if mr.state == "opened" else mr.final_base_sha,
                "head_sha": head,
                "start_sha": facts.target_sha if mr.state == "opened" else mr.final_base_sha,
            },
            "merge_error": mr.merge_error,
            "first_contribution": False,
            "user": {"can_merge": can_merge},
        }
    )
    return data


def note_entity(base: str, state: GitLabState, mr: MergeRequest, note: Note) -> JsonDict:
    return {
        "id": note.id,
        "type": None,
        "body": note.body,
        "author": _user(state, base, note.author_id),
        "created_at": note.created_at,
        "updated_at": note.created_at,
        "system": note.system,
        "noteable_id": mr.id,
        "noteable_type": "MergeRequest",
        "project_id": mr.project_id,
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "imported": False,
        "imported_from": "none",
        "noteable_iid": mr.iid,
        "commands_changes": {},
    }


def commit_status_entity(
    base: str, project_path: str, p: Pipeline, name: str, user: User
) -> JsonDict:
    """``POST /projects/:id/statuses/:sha`` answer (``Entities::CommitStatus``)."""
    return {
        "id": p.id,
        "sha": p.sha,
        "ref": p.ref,
        "status": p.status,
        "name": name,
        "target_url": None,
        "description": None,
        "created_at": p.created_at,
        "started_at": p.created_at,
        "finished_at": p.updated_at if p.status in ("success", "failed", "canceled") else None,
        "allow_failure": False,
        "coverage": None,
        "pipeline_id": p.id,
        "author": user_basic(base, user),
    }
