"""The only module that runs git: the real ``git`` command line, argument lists, no shell.

Every command gets

* ``GIT_TERMINAL_PROMPT=0`` and no system config (``GIT_CONFIG_NOSYSTEM``); the
  inherited ``GIT_*`` variables that could redirect or trace a command
  (``GIT_DIR``, ``GIT_TRACE*``, ``GIT_CONFIG_*``...) are dropped;
* settings that make the result independent of the user's global config
  (no hooks, no signing, no CRLF conversion, no auto gc), passed through git's
  environment config (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``),
  plus stall protection for http(s) (``http.lowSpeedLimit``/``lowSpeedTime``, see
  :func:`stall_config`);
* the credential, when there is one, as ``http.<origin>/.extraHeader:
  Authorization: Basic ...`` in that same environment config: never in argv,
  ``.git/config``, a remote URL, a log line or an exception.

Errors are :class:`GitError`: the failed git sub-command (URLs without
credentials) and git's own message, scrubbed of every spelling of the token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from promoter.credentials import Credential, is_http_url, scrub

ErrorKind = Literal["auth", "not-found", "missing-branch", "rejected", "other"]

# Inherited GIT_* variables that are about reaching the server, kept; all others dropped.
_KEEP_GIT_VARS = ("GIT_SSH", "GIT_SSL_", "GIT_PROXY_", "GIT_ASKPASS", "GIT_EXEC_PATH", "GIT_HTTP_")

# Settings that must not come from the user's global config.
_BASE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", os.devnull),
    ("core.autocrlf", "false"),
    ("core.safecrlf", "false"),
    ("core.fsmonitor", "false"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("fetch.writeCommitGraph", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("protocol.version", "2"),
)


# Stall protection for http(s) remotes: abort a transfer slower than LIMIT bytes/s for
# TIME seconds (curl's low-speed check), so a stalled server fails the CI job instead of
# hanging it until the job timeout. PROMOTER_GIT_LOW_SPEED_TIME/_LIMIT override them
# (0 turns the check off); git's own GIT_HTTP_LOW_SPEED_* variables still win over both.
LOW_SPEED_LIMIT = 1000
LOW_SPEED_TIME = 60


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(
            f"{name}={raw!r} is not a whole number >= 0: set it to e.g. {default}, "
            "or 0 to turn git's stall detection off"
        )
    return value


def stall_config() -> list[tuple[str, str]]:
    """``http.lowSpeedLimit``/``http.lowSpeedTime`` from the defaults and the environment."""
    limit = _env_int("PROMOTER_GIT_LOW_SPEED_LIMIT", LOW_SPEED_LIMIT)
    seconds = _env_int("PROMOTER_GIT_LOW_SPEED_TIME", LOW_SPEED_TIME)
    if limit == 0 or seconds == 0:
        return []
    return [("http.lowSpeedLimit", str(limit)), ("http.lowSpeedTime", str(seconds))]


class GitError(RuntimeError):
    """A git command failed. ``str()`` is safe to print: no token, no credentials in URLs."""

    def __init__(
        self,
        command: str,
        returncode: int,
        stderr: str,
        kind: ErrorKind = "other",
        credential_source: str | None = None,
    ):
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        self.kind = kind
        self.credential_source = credential_source
        super().__init__(self._render())

    def _render(self) -> str:
        detail = self.stderr.strip() or "(no message)"
        hint = _HINTS.get(self.kind, "")
        if self.kind == "auth":
            used = self.credential_source or "no token (none of the variables is set)"
            hint = f"\nauthentication failed; credentials used: {used}" + hint
        return f"`{self.command}` failed (exit {self.returncode}): {detail}{hint}"


_HINTS: dict[str, str] = {
    "auth": (
        "\ncheck that the token is set (PROMOTER_TOKEN, "
        "GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN, --token-env or --token-file), valid, and "
        "allowed to read/write this repository"
    ),
    "not-found": "\ncheck the repository URL (and that the token can see the repository)",
}


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """``"Name <email>"``; raises ValueError saying what is expected."""
        text = text.strip()
        if not (text.endswith(">") and "<" in text):
            raise ValueError(f"invalid --author {text!r}: expected 'Name <email>'")
        name, _, email = text[:-1].rpartition("<")
        name, email = name.strip(), email.strip()
        if not name or not email or "<" in email:
            raise ValueError(f"invalid --author {text!r}: expected 'Name <email>'")
        return cls(name, email)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def classify(stderr: str) -> ErrorKind:
    low = stderr.lower()
    if any(
        s in low
        for s in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "returned error: 401",
            "returned error: 403",
            "permission denied",
            "http basic: access denied",
        )
    ):
        return "auth"
    if "remote branch" in low and "not found" in low:
        return "missing-branch"
    if any(
        s in low
        for s in (
            "returned error: 404",
            "repository not found",
            "does not appear to be a git repository",
            "not found",
        )
    ):
        return "not-found"
    return "other"


@dataclass(slots=True)
class Git:
    """Runs git with a controlled environment; ``cwd`` is the work tree (or None)."""

    cwd: Path | None = None
    credential: Credential | None = None
    remote_url: str | None = None  # the credential is only sent to this URL's origin
    identity: Identity | None = None

    def secrets(self) -> tuple[str, ...]:
        return self.credential.secrets() if self.credential else ()

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GIT_") or k.startswith(_KEEP_GIT_VARS)
        }
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        # Trace2 targets in the user's global config could log config values (our header):
        # the environment wins over them.
        env["GIT_TRACE2"] = env["GIT_TRACE2_EVENT"] = env["GIT_TRACE2_PERF"] = "0"
        if self.credential is not None:
            env.pop("GIT_ASKPASS", None)  # our header is the answer; never prompt a helper
        config = list(_BASE_CONFIG) + stall_config()
        if self.credential is not None and self.remote_url and is_http_url(self.remote_url):
            parts = urllib.parse.urlsplit(self.remote_url)
            origin = f"{parts.scheme}://{parts.netloc}/"
            # Reset helpers: none of them may store or be asked for our token.
            config.append(("credential.helper", ""))
            config.append((f"http.{origin}.extraHeader", self.credential.basic_header()))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        if self.identity is not None:
            env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = self.identity.name
            env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = self.identity.email
        return env

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = self.env()
        env.update(extra_env or {})
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd or self.cwd,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        if check and proc.returncode != 0:
            raise self.error(args, proc)
        return proc

    def error(self, args: Sequence[str], proc: subprocess.CompletedProcess[str]) -> GitError:
        secrets = self.secrets()
        command = scrub("git " + " ".join(args), secrets)
        stderr = scrub(proc.stderr or proc.stdout or "", secrets)
        source = f"token from {self.credential.source}" if self.credential else None
        return GitError(command, proc.returncode, stderr, classify(stderr), source)

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()


# ------------------------------------------------------------------ checkout


@dataclass(slots=True)
class Workspace:
    """A partial, sparse, shallow, single-branch checkout of ``base`` at ``path``."""

    git: Git
    path: Path
    url: str
    base: str
    paths: tuple[str, ...]
    # What the clone managed to use ("filter", "depth", "sparse"), for reports/benchmarks.
    features: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    # Branch tips looked up while cloning (None = absent); each is used once, then re-read.
    prefetched: dict[str, str | None] = field(default_factory=dict)

    @property
    def shallow(self) -> bool:
        return "depth" in self.features

    # ---------------------------------------------------------- reading
    def head(self) -> str:
        return self.git.out("rev-parse", "HEAD")

    def remote_ref(self, branch: str) -> str | None:
        """The remote's current sha of ``refs/heads/<branch>`` (ls-remote), or None."""
        if branch in self.prefetched:
            return self.prefetched.pop(branch)
        out = self.git.out("ls-remote", "--heads", "origin", f"refs/heads/{branch}")
        return _ls_remote_sha(out, branch)

    def fetch_base(self) -> str:
        """Fetch the latest base tip into ``refs/remotes/origin/<base>``; return its sha."""
        args = ["fetch", "-q", "--no-tags"]
        if self.shallow:
            args.append("--depth=1")
        ref = f"refs/remotes/origin/{self.base}"
        self.git.run(*args, "origin", f"+refs/heads/{self.base}:{ref}")
        return self.git.out("rev-parse", ref)

    def fetch_branch(self, branch: str) -> tuple[str, list[str]] | None:
        """Fetch ``branch`` with the commits it has that base has not.

        Returns (tip sha, [commits not on base, oldest first]) or None when the
        branch does not exist. Only the branch's own commits are downloaded
        (``--shallow-exclude=<base>``), plus one parent so they can be cherry-picked.
        """
        tip = self.remote_ref(branch)
        if tip is None:
            return None
        ref = f"refs/remotes/origin/{branch}"
        spec = f"+refs/heads/{branch}:{ref}"
        base_ref = f"refs/remotes/origin/{self.base}"
        if self.shallow:
            proc = self.git.run(
                "fetch", "-q", "--no-tags", f"--shallow-exclude={self.base}", "origin", spec,
                check=False,
            )
            if proc.returncode != 0:
                if "no commits selected" in proc.stderr:
                    # The whole branch is reachable from base: nothing of its own.
                    self.git.run("fetch", "-q", "--no-tags", "--depth=1", "origin", spec)
                    return self.git.out("rev-parse", ref), []
                self.notes.append("server refused --shallow-exclude; fetched full history")
                self._unshallow()
                self.git.run("fetch", "-q", "--no-tags", "origin", spec)
        else:
            self.git.run("fetch", "-q", "--no-tags", "origin", spec)
        tip = self.git.out("rev-parse", ref)
        listed = self.git.out("rev-list", "--reverse", ref, f"^{base_ref}")
        return tip, listed.split()

    def fetch_parents(self, branch: str) -> None:
        """One more commit of ``branch``'s history, so its oldest own commit can be picked."""
        if self.shallow:
            spec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
            self.git.run("fetch", "-q", "--no-tags", "--deepen=1", "origin", spec, check=False)

    def _unshallow(self) -> None:
        if self.shallow and self.git.ok("rev-parse", "--is-shallow-repository"):
            self.git.run("fetch", "-q", "--no-tags", "--unshallow", "origin",
                         f"+refs/heads/{self.base}:refs/remotes/origin/{self.base}", check=False)
            self.features = tuple(f for f in self.features if f != "depth")

    def trailers(self, sha: str, key: str) -> list[str]:
        out = self.git.out("log", "-1", f"--format=%(trailers:key={key},valueonly)", sha)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def subject(self, sha: str) -> str:
        return self.git.out("log", "-1", "--format=%s", sha)

    def tree(self, ref: str) -> str:
        return self.git.out("rev-parse", f"{ref}^{{tree}}")

    # ---------------------------------------------------------- writing
    def reset(self, ref: str) -> None:
        """Point the work branch at ``ref`` and make the sparse work tree match it."""
        self.git.run("checkout", "-q", "--force", "-B", "promoter-work", ref)
        self.git.run("clean", "-q", "-fd", "--", *self.paths)

    def cherry_pick(self, sha: str) -> Literal["applied", "empty", "conflict"]:
        proc = self.git.run("cherry-pick", "--allow-empty-message", sha, check=False)
        if proc.returncode == 0:
            return "applied"
        if self.git.ok("diff", "--cached", "--quiet") and self.git.ok("diff", "--quiet"):
            self.git.run("cherry-pick", "--skip", check=False)
            return "empty"
        self.git.run("cherry-pick", "--abort", check=False)
        return "conflict"

    def commit(self, message: str) -> str | None:
        """Commit every change under the promotion's paths; None when nothing changed."""
        self.git.run("add", "-A", "--", *self.paths)
        if self.git.ok("diff", "--cached", "--quiet"):
            return None
        self.git.run("commit", "-q", "--no-verify", "--allow-empty-message", "-F", "-",
                     input=message)
        return self.head()

    def push(self, branch: str, *, lease: str | Literal[False] | None = False) -> PushResult:
        """Push HEAD to ``refs/heads/<branch>``.

        ``lease=False``: a plain (fast-forward only) push. ``lease="<sha>"``: force, but
        only if the remote branch is still at that sha; ``lease=None``: only if it does
        not exist yet.
        """
        ref = f"refs/heads/{branch}"
        args = ["push", "--porcelain", "--no-verify"]
        if lease is not False:
            args.append(f"--force-with-lease={ref}:{lease or ''}")
        args += ["origin", f"HEAD:{ref}"]
        proc = self.git.run(*args, check=False)
        result = parse_push(proc.stdout, ref)
        if proc.returncode == 0 and result.ok:
            return result
        if result.retryable:
            return result
        raise self.git.error(args, proc)


@dataclass(frozen=True, slots=True)
class PushResult:
    ok: bool
    flag: str  # git push --porcelain flag: ' ', '+', '-', '*', '=', '!'
    summary: str

    @property
    def retryable(self) -> bool:
        """Lost a race (someone pushed first): fetch, re-apply and try again."""
        s = self.summary.lower()
        return not self.ok and any(
            w in s
            for w in (
                "fetch first",
                "non-fast-forward",
                "stale info",
                "cannot lock ref",
                "failed to update ref",
                "failed to lock",
                "already exists",
                "incorrect old value",
            )
        )


def parse_push(stdout: str, ref: str) -> PushResult:
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(":" + ref):
            flag = parts[0][:1]
            return PushResult(ok=flag != "!", flag=flag, summary=parts[2])
    return PushResult(ok=False, flag="!", summary=stdout.strip() or "no push status")


def _ls_remote_sha(out: str, branch: str) -> str | None:
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def _clean_path(p: str) -> str:
    rel = p.strip().replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    rel = rel.strip("/")
    if not rel or rel == ".":
        return ""
    if Path(p).is_absolute() or ".." in rel.split("/"):
        raise ValueError(
            f"invalid --path {p!r}: give a path relative to the repository root, "
            "without '..'"
        )
    return rel


def normalise_paths(paths: Sequence[str]) -> tuple[str, ...]:
    """Repository-relative paths, sorted and unique; '' (the whole repo) absorbs the rest."""
    cleaned = sorted({_clean_path(p) for p in paths})
    return ("",) if "" in cleaned else tuple(cleaned)


# Clone option sets, richest first: each step drops the feature a server might refuse.
_CLONE_STEPS: tuple[tuple[str, ...], ...] = (
    ("filter", "depth", "sparse"),
    ("depth", "sparse"),
    ("sparse",),
    (),
)


def checkout(
    url: str,
    dest: Path,
    *,
    base: str,
    paths: Sequence[str],
    credential: Credential | None = None,
    identity: Identity | None = None,
    depth: int = 1,
    lookup: Sequence[str] = (),
) -> Workspace:
    """Clone only what a promotion touching ``paths`` needs, falling back step by step.

    ``url`` may be ``file://``, a local path, ``http(s)://`` (smart HTTP) or ssh.
    Raises :class:`GitError` for authentication, missing repository or base branch
    at once (no fallback can fix those). The tips of the ``lookup`` branches are
    read (``ls-remote``) while the clone runs, saving a round trip later.
    """
    norm = normalise_paths(paths)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        # Never delete what we did not create: the fallbacks below remove failed clones.
        raise ValueError(f"cannot check out into {dest}: it exists and is not an empty directory")
    git = Git(credential=credential, remote_url=url, identity=identity)
    lookup_proc: subprocess.Popen[str] | None = None
    if lookup:
        lookup_proc = subprocess.Popen(
            ["git", "ls-remote", "--heads", "--", url, *(f"refs/heads/{b}" for b in lookup)],
            env=git.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
    try:
        ws = _clone(git, url, dest, base, norm, credential, identity, depth)
    finally:
        looked = lookup_proc.communicate()[0] if lookup_proc is not None else ""
    if lookup_proc is not None and lookup_proc.returncode == 0:
        ws.prefetched = {b: _ls_remote_sha(looked, b) for b in lookup}
    return ws


def _clone(
    git: Git,
    url: str,
    dest: Path,
    base: str,
    norm: tuple[str, ...],
    credential: Credential | None,
    identity: Identity | None,
    depth: int,
) -> Workspace:
    last: GitError | None = None
    notes: list[str] = []
    for features in _CLONE_STEPS:
        if dest.exists():
            shutil.rmtree(dest)  # an empty directory or a failed clone of ours (checked above)
        args = ["clone", "-q", "--no-checkout", "--single-branch", "--no-tags", "-b", base]
        if "filter" in features:
            args.append("--filter=blob:none")
        if "depth" in features:
            args.append(f"--depth={depth}")
        if "sparse" in features and norm != ("",):
            args.append("--sparse")
        proc = git.run(*args, "--", url, str(dest), check=False)
        if proc.returncode != 0:
            last = git.error([*args, "--", url, str(dest)], proc)
            if last.kind in ("auth", "not-found", "missing-branch"):
                if last.kind == "missing-branch":
                    last.stderr += f"\nthe base branch {base!r} does not exist in {url}"
                raise GitError(
                    last.command, last.returncode, last.stderr, last.kind, last.credential_source
                )
            notes.append(f"clone with {'+'.join(features) or 'no options'} failed; falling back")
            continue
        if "filter" in features and "filtering not recognized" in proc.stderr:
            features = tuple(f for f in features if f != "filter")
            notes.append("server does not support partial clone; blobs were downloaded")
        wgit = Git(cwd=dest, credential=credential, remote_url=url, identity=identity)
        if "sparse" in features and norm != ("",):
            patterns = [f"/{p}" for p in norm]
            sparse = wgit.run("sparse-checkout", "set", "--no-cone", "--", *patterns, check=False)
            if sparse.returncode != 0:
                notes.append("sparse checkout unavailable; checking out everything")
                wgit.run("sparse-checkout", "disable", check=False)
                features = tuple(f for f in features if f != "sparse")
        elif "sparse" in features:
            features = tuple(f for f in features if f != "sparse")
        wgit.run("checkout", "-q", "-B", "promoter-work", f"refs/remotes/origin/{base}")
        return Workspace(
            git=wgit,
            path=dest,
            url=url,
            base=base,
            paths=norm if norm != ("",) else (".",),
            features=features,
            notes=notes,
        )
    assert last is not None
    raise last
