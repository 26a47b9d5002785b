"""Assemble the sandbox: git smart HTTP + the GitHub and GitLab API emulations.

``build_sandbox`` is what ``promoter sandbox serve``, ``promoter demo`` and the
tests use. Each API plug-in is wrapped by one shared :class:`FaultInjector`
(an empty one injects nothing), so a test can add faults to a running server
(``sandbox.faults.add("status=502,p=0.3")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promoter.sandbox.faults import FaultInjector
from promoter.sandbox.github_api import GitHubApi
from promoter.sandbox.gitlab_api import GitLabApi
from promoter.sandbox.server import Sandbox
from promoter.sandbox.state import StateStore


class ForgeSandbox(Sandbox):
    """A :class:`Sandbox` with handles on its API plug-ins."""

    github: GitHubApi
    gitlab: GitLabApi
    faults: FaultInjector
    state: StateStore

    def token_valid(self, token: str | None) -> bool:
        # Installation tokens issued to GitHub Apps are valid for git over HTTP too.
        if token is not None and self.github.installation_token_valid(token):
            return True
        return super().token_valid(token)

    def urls(self) -> dict[str, str]:
        base = self.base_url
        return {
            "git": base,
            "github_api": f"{base}/api/v3",
            "github_graphql": f"{base}/api/graphql",
            "gitlab_api": f"{base}/api/v4",
        }


def build_sandbox(
    root: Path,
    tokens: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    faults: FaultInjector | None = None,
) -> ForgeSandbox:
    """A (not yet started) sandbox with every API plug-in registered."""
    root = Path(root)
    sandbox = ForgeSandbox(root, tokens=tokens, host=host, port=port)
    sandbox.state = StateStore(root)
    sandbox.faults = faults or FaultInjector()
    sandbox.github = GitHubApi(root, sandbox.state, tokens=tokens)
    gh_handler = sandbox.faults.wrap(sandbox.github)
    sandbox.add_handler("/api/v3", gh_handler)
    sandbox.add_handler("/api/graphql", gh_handler)
    sandbox.gitlab = GitLabApi(root, token_valid=sandbox.token_valid, store=sandbox.state)
    sandbox.add_handler("/api/v4", sandbox.faults.wrap(sandbox.gitlab))
    return sandbox
