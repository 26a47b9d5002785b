"""JSON representations of GitHub REST objects, shaped like api.github.com's.

Every URL is built on the sandbox's own ``base_url`` (scheme://host:port as
the client reached it): API URLs under ``/api/v3`` (the GitHub Enterprise
layout), web URLs at the root, clone URLs at ``/<owner>/<repo>.git``. Field
sets follow the OpenAPI description in ``shared/contracts/github`` (the
contract test validates every response against it).
"""

from __future__ import annotations

import base64
import time
from typing import Any

DOCS = "https://docs.github.com/rest"
EPOCH_CREATED = "2024-01-01T00:00:00Z"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_id(kind: str, ident: int | str) -> str:
    """Legacy global node id, as in recorded responses: base64("<len>:<Type><id>")."""
    raw = f"{kind}{ident}"
    return base64.b64encode(f"{len(kind):03d}:{raw}".encode()).decode()


def user_id(login: str) -> int:
    # Stable small ids per login so responses are reproducible across restarts.
    return 1000 + (sum((i + 1) * ord(c) for i, c in enumerate(login)) % 900000)


def api(base: str) -> str:
    return f"{base}/api/v3"


def simple_user(base: str, login: str) -> dict[str, Any]:
    uid = user_id(login)
    u = f"{api(base)}/users/{login}"
    is_bot = login.endswith("[bot]")
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("Bot" if is_bot else "User", uid),
        "avatar_url": f"{base}/avatars/u/{uid}?v=4",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{base}/{'apps/' + login[:-5] if is_bot else login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": "Bot" if is_bot else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def private_user(base: str, login: str) -> dict[str, Any]:
    out = simple_user(base, login)
    out.update(
        {
            "name": login, "company": None, "blog": "", "location": None, "email": None,
            "hireable": None, "bio": None, "twitter_username": None, "public_repos": 0,
            "public_gists": 0, "followers": 0, "following": 0, "created_at": EPOCH_CREATED,
            "updated_at": EPOCH_CREATED, "private_gists": 0, "total_private_repos": 0,
            "owned_private_repos": 0, "disk_usage": 0, "collaborators": 0,
            "two_factor_authentication": False,
        }
    )
    return out


def repository(
    base: str, owner: str, name: str, rid: int, default_branch: str, pushed_at: str, full: bool
) -> dict[str, Any]:
    r = f"{api(base)}/repos/{owner}/{name}"
    host = base.split("://", 1)[-1]
    out: dict[str, Any] = {
        "id": rid,
        "node_id": node_id("Repository", rid),
        "name": name,
        "full_name": f"{owner}/{name}",
        "private": True,
        "owner": simple_user(base, owner),
        "html_url": f"{base}/{owner}/{name}",
        "description": None,
        "fork": False,
        "url": r,
        "forks_url": f"{r}/forks",
        "keys_url": f"{r}/keys{{/key_id}}",
        "collaborators_url": f"{r}/collaborators{{/collaborator}}",
        "teams_url": f"{r}/teams",
        "hooks_url": f"{r}/hooks",
        "issue_events_url": f"{r}/issues/events{{/number}}",
        "events_url": f"{r}/events",
        "assignees_url": f"{r}/assignees{{/user}}",
        "branches_url": f"{r}/branches{{/branch}}",
        "tags_url": f"{r}/tags",
        "blobs_url": f"{r}/git/blobs{{/sha}}",
        "git_tags_url": f"{r}/git/tags{{/sha}}",
        "git_refs_url": f"{r}/git/refs{{/sha}}",
        "trees_url": f"{r}/git/trees{{/sha}}",
        "statuses_url": f"{r}/statuses/{{sha}}",
        "languages_url": f"{r}/languages",
        "stargazers_url": f"{r}/stargazers",
        "contributors_url": f"{r}/contributors",
        "subscribers_url": f"{r}/subscribers",
        "subscription_url": f"{r}/subscription",
        "commits_url": f"{r}/commits{{/sha}}",
        "git_commits_url": f"{r}/git/commits{{/sha}}",
        "comments_url": f"{r}/comments{{/number}}",
        "issue_comment_url": f"{r}/issues/comments{{/number}}",
        "contents_url": f"{r}/contents/{{+path}}",
        "compare_url": f"{r}/compare/{{base}}...{{head}}",
        "merges_url": f"{r}/merges",
        "archive_url": f"{r}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{r}/downloads",
        "issues_url": f"{r}/issues{{/number}}",
        "pulls_url": f"{r}/pulls{{/number}}",
        "milestones_url": f"{r}/milestones{{/number}}",
        "notifications_url": f"{r}/notifications{{?since,all,participating}}",
        "labels_url": f"{r}/labels{{/name}}",
        "releases_url": f"{r}/releases{{/id}}",
        "deployments_url": f"{r}/deployments",
        "created_at": EPOCH_CREATED,
        "updated_at": pushed_at,
        "pushed_at": pushed_at,
        "git_url": f"git://{host}/{owner}/{name}.git",
        "ssh_url": f"git@{host.split(':')[0]}:{owner}/{name}.git",
        "clone_url": f"{base}/{owner}/{name}.git",
        "svn_url": f"{base}/{owner}/{name}",
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 0,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private",
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": default_branch,
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True,
                        "pull": True},
    }
    if full:
        out.update(
            {
                "allow_squash_merge": True, "allow_merge_commit": True,
                "allow_rebase_merge": True, "allow_auto_merge": True,
                "delete_branch_on_merge": False, "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "merge_commit_message": "PR_TITLE", "merge_commit_title": "MERGE_MESSAGE",
                "network_count": 0, "subscribers_count": 0,
            }
        )
    return out


def label(base: str, owner: str, repo: str, lab: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": lab["id"],
        "node_id": node_id("Label", lab["id"]),
        "url": f"{api(base)}/repos/{owner}/{repo}/labels/{lab['name']}",
        "name": lab["name"],
        "color": lab.get("color", "ededed"),
        "default": False,
        "description": lab.get("description"),
    }


def error(
    status: int, message: str, doc: str = DOCS, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    body["documentation_url"] = doc
    body["status"] = str(status)
    return body
