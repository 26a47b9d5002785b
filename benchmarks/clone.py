"""Benchmark: what a promotion costs on a big manifest repository, over local smart HTTP.

A repository of 20,000 files and 2,000 commits is generated with ``git fast-import``
(deterministic) and served by the sandbox (``git http-backend``, token auth) on
127.0.0.1. Three ways of making the same one-line promotion are timed in the same
run, alternating, each against the same server:

* ``promoter``: ``promoter promote`` (the CLI, a fresh process, pr mode, validation on);
* ``floor``:    ``git clone --depth 1 --filter=blob:none --sparse`` + ``sparse-checkout
  set <dir>`` + edit + ``git commit`` + ``git push`` (the least git can do);
* ``full``:     ``git clone`` + edit + ``git commit`` + ``git push`` (what naive tools do).

Bytes are the response bytes the server sent to the client (what the client
received) and the request bytes it uploaded, counted by the sandbox. Goals:
promoter <= 1.5x the floor's wall time, and >= 5x faster than the full clone.

    .venv/bin/python benchmarks/clone.py [--files 20000] [--commits 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promoter.sandbox.server import Sandbox  # noqa: E402

TOKEN = "bench-token"
ENVS = ("dev", "staging", "prod", "qa")
KINDS = (
    "deployment", "service", "configmap", "hpa", "pdb",
    "ingress", "serviceaccount", "networkpolicy", "role", "rolebinding",
)


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    })
    env.update(extra or {})
    return env


def auth_env() -> dict[str, str]:
    import base64

    header = "Authorization: Basic " + base64.b64encode(f"x:{TOKEN}".encode()).decode()
    return git_env({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": header})


def manifest(kind: str, app: str, env: str, version: str, salt: int) -> str:
    if kind == "deployment":
        return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {env}
  labels:
    app: {app}
    revision: "{salt}"
spec:
  replicas: {1 + salt % 5}
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
        - name: {app}
          image: ghcr.io/acme/{app}:{version}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: {100 + salt % 400}m
              memory: {128 + salt % 256}Mi
"""
    lines = [f"# {kind} for {app} in {env}", "apiVersion: v1", "kind: ConfigMap",
             "metadata:", f"  name: {app}-{kind}", f"  namespace: {env}", "data:"]
    lines += [f"  key{i}: \"{app}-{env}-{kind}-{(salt * 7919 + i) % 100003}\"" for i in range(12)]
    return "\n".join(lines) + "\n"


def generate(bare: Path, n_files: int, n_commits: int) -> None:
    """A bare repo of ``n_files`` files and ``n_commits`` commits, via git fast-import."""
    rng = random.Random(42)
    per_app = len(KINDS)
    n_apps = max(1, n_files // (per_app * len(ENVS)))
    apps = [f"app{i:04d}" for i in range(n_apps)]
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True,
                   env=git_env())
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE,
                            env=git_env())
    assert proc.stdin is not None
    out = proc.stdin
    ts = 1_700_000_000

    def commit(msg: str, files: dict[str, str]) -> None:
        nonlocal ts
        ts += 60
        data = msg.encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"committer bench <bench@example.com> {ts} +0000\n".encode())
        out.write(b"data %d\n%s\n" % (len(data), data))
        # Later commits continue the branch: fast-import keeps its tip, no `from` needed.
        for path, text in files.items():
            blob = text.encode()
            out.write(f"M 100644 inline {path}\n".encode())
            out.write(b"data %d\n%s\n" % (len(blob), blob))

    initial = {
        f"envs/{env}/{app}/{kind}.yaml": manifest(kind, app, env, "1.0.0", i)
        for i, (env, app, kind) in enumerate(
            (e, a, k) for e in ENVS for a in apps for k in KINDS
        )
    }
    initial["README.md"] = "# fleet manifests\n"
    commit("initial import", initial)
    version = {(e, a): 0 for e in ENVS for a in apps}
    for c in range(1, n_commits):
        env, app = rng.choice(ENVS), rng.choice(apps)
        version[(env, app)] += 1
        v = f"1.0.{version[(env, app)]}"
        changed = {f"envs/{env}/{app}/deployment.yaml": manifest("deployment", app, env, v, c)}
        other = rng.choice(KINDS[1:])
        changed[f"envs/{env}/{app}/{other}.yaml"] = manifest(other, app, env, v, c)
        commit(f"promote {app} to {v} in {env}", changed)
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "repack", "-adq"], cwd=bare, check=True, env=git_env())


def _children_cpu() -> float:
    """CPU seconds of finished child processes: the CLI, git, and the server's http-backends."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def bump(path: Path, new: str) -> None:
    text = path.read_text()
    head, sep, tail = text.partition("image: ")
    line_end = tail.index("\n")
    path.write_text(head + sep + new + tail[line_end:])


def way_promoter(url: str, work: Path, app: str, version: str) -> None:
    image = f"ghcr.io/acme/{app}:{version}"
    run([sys.executable, "-c", "from promoter.cli import main; main()", "promote",
         "--repo", url, "--image", image, "--path", f"envs/prod/{app}", "--output", "json"],
        cwd=work, env=git_env({"PROMOTER_TOKEN": TOKEN}))


def way_floor(url: str, work: Path, app: str, version: str) -> None:
    env = auth_env()
    co = work / "floor"
    run(["git", "clone", "-q", "--depth", "1", "--filter=blob:none", "--sparse", url, str(co)],
        env=env)
    run(["git", "sparse-checkout", "set", f"envs/prod/{app}"], cwd=co, env=env)
    bump(co / "envs" / "prod" / app / "deployment.yaml", f"ghcr.io/acme/{app}:{version}")
    run(["git", "commit", "-qam", f"promote {app} to {version}"], cwd=co, env=env)
    run(["git", "push", "-q", "origin", f"HEAD:refs/heads/floor/{app}-{version}"], cwd=co, env=env)


def way_full(url: str, work: Path, app: str, version: str) -> None:
    env = auth_env()
    co = work / "full"
    run(["git", "clone", "-q", url, str(co)], env=env)
    bump(co / "envs" / "prod" / app / "deployment.yaml", f"ghcr.io/acme/{app}:{version}")
    run(["git", "commit", "-qam", f"promote {app} to {version}"], cwd=co, env=env)
    run(["git", "push", "-q", "origin", f"HEAD:refs/heads/full/{app}-{version}"], cwd=co, env=env)


WAYS: dict[str, Callable[[str, Path, str, str], None]] = {
    "promoter": way_promoter, "floor": way_floor, "full": way_full,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--commits", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        root = Path(tmp) / "srv"
        bare = root / "acme" / "fleet.git"
        bare.parent.mkdir(parents=True)
        t0 = time.perf_counter()
        generate(bare, args.files, args.commits)
        n_files = len(subprocess.run(["git", "ls-tree", "-r", "--name-only", "main"], cwd=bare,
                                     capture_output=True, text=True, check=True).stdout.split())
        n_commits = int(subprocess.run(["git", "rev-list", "--count", "main"], cwd=bare,
                                       capture_output=True, text=True, check=True).stdout)
        print(f"generated {n_files} files, {n_commits} commits in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
        samples: dict[str, list[tuple[float, int, int, float]]] = {w: [] for w in WAYS}
        with Sandbox(root, tokens=[TOKEN]) as server:
            url = server.repo_url("acme/fleet")
            for r in range(args.runs):
                order = list(WAYS) if r % 2 == 0 else list(reversed(WAYS))
                for name in order:
                    work = Path(tmp) / f"work-{name}-{r}"
                    work.mkdir()
                    app = f"app{(r * 7 + 3) % 100:04d}"
                    sent0, recv0 = server.bytes_sent(), server.bytes_received()
                    cpu0 = _children_cpu()
                    start = time.perf_counter()
                    WAYS[name](url, work, app, f"9.{r}.{len(name)}")
                    wall = time.perf_counter() - start
                    cpu = _children_cpu() - cpu0
                    sent = server.bytes_sent() - sent0
                    recv = server.bytes_received() - recv0
                    samples[name].append((wall, sent, recv, cpu))
                    print(f"run {r} {name:9s} {wall:7.2f}s  cpu {cpu:6.2f}s  received "
                          f"{sent / 1e6:8.2f} MB  uploaded {recv / 1e3:8.1f} kB", flush=True)
                    subprocess.run(["rm", "-rf", str(work)], check=False)
        med = {n: tuple(statistics.median(s[i] for s in v) for i in range(4))
               for n, v in samples.items()}
        print("\nmedian of", args.runs, "runs (cpu: client and server processes):")
        print(f"{'way':9s} {'wall s':>8s} {'cpu s':>8s} {'received MB':>12s} {'uploaded kB':>12s}")
        for n, (w, s, u, c) in med.items():
            print(f"{n:9s} {w:8.2f} {c:8.2f} {s / 1e6:12.2f} {u / 1e3:12.1f}")
        ratio_floor = med["promoter"][0] / med["floor"][0]
        speedup_full = med["full"][0] / med["promoter"][0]
        fastest = {n: min(s[0] for s in v) for n, v in samples.items()}
        print("fastest wall s: " + ", ".join(f"{n} {w:.2f}" for n, w in fastest.items())
              + f"; full / promoter {fastest['full'] / fastest['promoter']:.1f}x, "
              f"floor / promoter {fastest['floor'] / fastest['promoter']:.2f}x")
        print(f"\npromoter / floor wall time: {ratio_floor:.2f}x (goal <= 1.5x) "
              f"{'OK' if ratio_floor <= 1.5 else 'MISSED'}")
        print(f"full clone / promoter wall time: {speedup_full:.1f}x (goal >= 5x) "
              f"{'OK' if speedup_full >= 5 else 'MISSED'}")
        print(f"promoter / floor cpu: {med['promoter'][3] / med['floor'][3]:.2f}x; "
              f"full / promoter cpu: {med['full'][3] / med['promoter'][3]:.1f}x")
        print(f"promoter / floor bytes received: {med['promoter'][1] / med['floor'][1]:.2f}x; "
              f"full / promoter: {med['full'][1] / med['promoter'][1]:.1f}x")
        if args.json:
            print(json.dumps({"files": n_files, "commits": n_commits, "median": med,
                              "samples": samples}, indent=2))


if __name__ == "__main__":
    main()
