"""Benchmarks for the editing engine and ``promoter set-image`` (whole processes, wall time).

    .venv/bin/python benchmarks/edit.py            # generate (once) and measure, 5 runs each
    .venv/bin/python benchmarks/edit.py --runs 9   # more runs

(a) a tree of 10,000 manifests (~3.5 KB each, 1 % pin the target image, 10 % CRLF):
    ``promoter set-image TREE --image ...`` vs ``grep -rlF REPOSITORY TREE``; goal <= 3x.
(b) one ~5,000-line Helm values file, one edit: ``promoter set-image FILE`` vs a
    ruamel.yaml round trip (load + dump, whole process); goal >= 10x faster.
(c) ``promoter --help`` and a one-file ``set-image``.

Data is generated deterministically (seeded) under benchmarks/work/ (gitignored).
Every set-image run asks for a new tag so that each run really edits and writes.
Medians are printed as a Markdown table (and written to benchmarks/work/results.md).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
TARGET = "ghcr.io/acme/target-app"
SEED = 20240215
N_FILES = 10_000
PIN_EVERY = 100  # 1 %
CRLF_EVERY = 10  # 10 %

BIN = Path(sys.executable).parent
PROMOTER = str(BIN / "promoter")


# ---------------------------------------------------------------- generators


def _deployment(rng: random.Random, name: str, image: str) -> str:
    env = "".join(
        f"            - name: VAR_{i}_{rng.randrange(10**6)}\n"
        f"              value: \"{rng.choice(['on', 'off', '1.10', 'x'])}-{rng.randrange(999)}\"\n"
        for i in range(rng.randrange(34, 44))
    )
    return f"""\
# {name}: generated for the benchmark
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
spec:
  replicas: {rng.randrange(1, 6)}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      containers:
        - name: app
          image: {image}   # pinned
          ports:
            - containerPort: {rng.randrange(1000, 9000)}
          env:
{env}          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: "1", memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - port: 80
      targetPort: http
"""


def generate_tree(root: Path) -> None:
    rng = random.Random(SEED)
    if root.exists():
        shutil.rmtree(root)
    for i in range(N_FILES):
        d = root / f"team-{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        name = f"svc-{i:05d}"
        image = f"{TARGET}:1.0.0" if i % PIN_EVERY == 37 else f"ghcr.io/acme/{name}:2.{i % 7}.1"
        text = _deployment(rng, name, image)
        if i % CRLF_EVERY == 3:
            text = text.replace("\n", "\r\n")
        (d / f"{name}.yaml").write_bytes(text.encode())


def generate_values(path: Path) -> None:
    rng = random.Random(SEED + 1)
    parts = ["## Generated Helm values for the benchmark\nglobal:\n  imageRegistry: \"\"\n\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < 5000:
        repo = TARGET if i == 123 else f"ghcr.io/acme/component-{i:04d}"
        parts.append(
            f"""\
component{i:04d}:
  ## Component {i}
  enabled: {rng.choice(['true', 'false'])}
  image:
    repository: {repo}
    tag: "{rng.randrange(1, 9)}.{rng.randrange(0, 20)}.{rng.randrange(0, 9)}"  # pinned
    pullPolicy: IfNotPresent
  replicaCount: {rng.randrange(1, 5)}
  resources:
    requests:
      cpu: {rng.randrange(50, 500)}m
      memory: {rng.randrange(64, 1024)}Mi
  nodeSelector: {{}}
  tolerations: []

"""
        )
        i += 1
    path.write_text("".join(parts))


# ---------------------------------------------------------------- measuring


CPU: list[float] = []  # user+sys seconds of the last measured child


def wall(cmd: list[str]) -> float:
    """Wall time of one whole process; its CPU time (user+sys) goes to CPU[-1]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]}... failed ({proc.returncode}): {proc.stderr.decode()[:500]}")
    return elapsed


def measure(cmds: list[list[str]]) -> tuple[float, float]:
    """Medians of (wall, cpu) over ``cmds``."""
    walls, cpus = [], []
    for cmd in cmds:
        walls.append(wall(cmd))
        cpus.append(CPU[-1])
    return statistics.median(walls), statistics.median(cpus)


def interleaved(a: list[list[str]], b: list[list[str]]) -> tuple[tuple[float, float], ...]:
    """Run a[i], b[i] alternately so both see the same machine load; medians of each."""
    aw: list[float] = []
    ac: list[float] = []
    bw: list[float] = []
    bc: list[float] = []
    for x, y in zip(a, b, strict=True):
        aw.append(wall(x))
        ac.append(CPU[-1])
        bw.append(wall(y))
        bc.append(CPU[-1])
    med = statistics.median
    return (med(aw), med(ac)), (med(bw), med(bc))


RUAMEL = """\
import sys
from ruamel.yaml import YAML
yaml = YAML()
with open(sys.argv[1]) as fh:
    data = yaml.load(fh)
data["component0123"]["image"]["tag"] = sys.argv[2]
with open(sys.argv[1] + ".out", "w") as fh:
    yaml.dump(data, fh)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args()
    runs = args.runs
    tree = WORK / "tree"
    values = WORK / "values.yaml"
    small = WORK / "one" / "deployment.yaml"
    WORK.mkdir(exist_ok=True)
    if args.regenerate or not (tree / "team-099" / "svc-09999.yaml").exists():
        generate_tree(tree)
    if args.regenerate or not values.exists():
        generate_values(values)
    small.parent.mkdir(exist_ok=True)
    small.write_text(_deployment(random.Random(SEED), "one", f"{TARGET}:1.0.0"))
    size = sum(f.stat().st_size for f in tree.rglob("*.yaml"))
    lines = values.read_text().count("\n")

    def set_image(path: Path, n: int, offset: int) -> list[list[str]]:
        return [
            [PROMOTER, "set-image", str(path), "--image", f"{TARGET}:3.{offset}.{k}"]
            for k in range(n)
        ]

    # warm the page cache and the interpreter's .pyc files
    wall(["grep", "-rlF", TARGET, str(tree)])
    wall(set_image(tree, 1, 99)[0])

    grep = [["grep", "-rlF", TARGET, str(tree)]] * runs
    (a_grep, a_grep_cpu), (a_ours, a_ours_cpu) = interleaved(grep, set_image(tree, runs, 0))
    ruamel = [[sys.executable, "-c", RUAMEL, str(values), f"9.9.{k}"] for k in range(runs)]
    (b_ruamel, b_ruamel_cpu), (b_ours, b_ours_cpu) = interleaved(
        ruamel, set_image(values, runs, 1)
    )
    (c_python, c_python_cpu), (c_help, c_help_cpu) = interleaved(
        [[sys.executable, "-c", "pass"]] * runs, [[PROMOTER, "--help"]] * runs
    )
    c_one, c_one_cpu = measure(set_image(small, runs, 2))

    load = os.getloadavg()
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    rows = [
        "| benchmark | promoter wall (cpu) | reference wall (cpu) | ratio wall (cpu) | goal |",
        "| --- | --- | --- | --- | --- |",
        f"| (a) set-image on {N_FILES:,} files ({size / 1e6:.1f} MB, 1 % pinned, 10 % CRLF)"
        f" vs `grep -rlF` | {ms(a_ours)} ({ms(a_ours_cpu)}) | {ms(a_grep)} ({ms(a_grep_cpu)})"
        f" | {a_ours / a_grep:.2f}x ({a_ours_cpu / a_grep_cpu:.2f}x) grep | <= 3x |",
        f"| (b) set-image on a {lines:,}-line values file vs ruamel.yaml load+dump"
        f" | {ms(b_ours)} ({ms(b_ours_cpu)}) | {ms(b_ruamel)} ({ms(b_ruamel_cpu)})"
        f" | {b_ruamel / b_ours:.1f}x ({b_ruamel_cpu / b_ours_cpu:.1f}x) faster | >= 10x |",
        f"| (c) `promoter --help` | {ms(c_help)} ({ms(c_help_cpu)})"
        f" | {ms(c_python)} ({ms(c_python_cpu)}) `python -c pass` | | |",
        f"| (c) set-image on one file | {ms(c_one)} ({ms(c_one_cpu)}) | | | |",
    ]
    report = "\n".join(rows) + (
        f"\n\n{runs} runs each, medians; load average at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} ({os.cpu_count()} CPUs); "
        f"Python {sys.version.split()[0]}.\n"
    )
    (WORK / "results.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
