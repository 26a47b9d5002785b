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

``promoter`` is measured twice: from a regular install of the working tree into
benchmarks/work/venv (what users get; the goals are judged on it) and from the dev
venv's editable install (``pip install -e``, whose import hook costs every run
~10-15 ms). The references (ruamel.yaml, ``python -c pass``) run with the regular
venv's interpreter.
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
EDITABLE = str(BIN / "promoter")  # the dev venv's console script (pip install -e)
VENV = WORK / "venv"
PROMOTER = str(VENV / "bin" / "promoter")  # a regular install, as users get it
SCRIPT = """\
#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from promoter.cli import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def regular_install() -> None:
    """Install the working tree as a wheel would, into a throwaway venv under work/.

    ``pip install -e`` (the dev venv) adds an import hook that costs every run
    ~10-15 ms; users get a regular install. Offline and in ~0.1 s: a venv without
    pip, the ``promoter`` package copied into its site-packages, the console script
    pip writes for ``promoter = promoter.cli:main``, and the dev venv's site-packages
    (click, PyYAML, ruamel.yaml) on the path through a .pth file -- which does not
    run the dev venv's own .pth files, so the editable hook stays out.
    """
    import sysconfig
    import venv

    if VENV.exists():
        shutil.rmtree(VENV)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(VENV)
    python = VENV / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )
    shutil.copytree(
        HERE.parent / "promoter", site / "promoter",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (site / "dev-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = VENV / "bin" / "promoter"
    script.write_text(SCRIPT.format(python=python))
    script.chmod(0o755)
    subprocess.run([str(python), "-m", "compileall", "-q", str(site / "promoter")], check=True)


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


def interleaved(*series: list[list[str]]) -> list[tuple[float, float]]:
    """Run series[0][i], series[1][i], ... in turn so all see the same machine load;
    (median wall, median cpu) of each series."""
    walls: list[list[float]] = [[] for _ in series]
    cpus: list[list[float]] = [[] for _ in series]
    for cmds in zip(*series, strict=True):
        for j, cmd in enumerate(cmds):
            walls[j].append(wall(cmd))
            cpus[j].append(CPU[-1])
    med = statistics.median
    return [(med(w), med(c)) for w, c in zip(walls, cpus, strict=True)]


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

    regular_install()
    python = str(VENV / "bin" / "python")

    def set_image(path: Path, n: int, offset: int, exe: str = PROMOTER) -> list[list[str]]:
        return [
            [exe, "set-image", str(path), "--image", f"{TARGET}:3.{offset}.{k}"]
            for k in range(n)
        ]

    # warm the page cache and the interpreters' .pyc files
    wall(["grep", "-rlF", TARGET, str(tree)])
    wall(set_image(tree, 1, 99)[0])
    wall(set_image(tree, 1, 98, EDITABLE)[0])

    grep = [["grep", "-rlF", TARGET, str(tree)]] * runs
    a_grep, a_ours, a_edit = interleaved(
        grep, set_image(tree, runs, 0), set_image(tree, runs, 5, EDITABLE)
    )
    ruamel = [[python, "-c", RUAMEL, str(values), f"9.9.{k}"] for k in range(runs)]
    b_ruamel, b_ours, b_edit = interleaved(
        ruamel, set_image(values, runs, 1), set_image(values, runs, 6, EDITABLE)
    )
    c_python, c_help, c_help_edit = interleaved(
        [[python, "-c", "pass"]] * runs,
        [[PROMOTER, "--help"]] * runs,
        [[EDITABLE, "--help"]] * runs,
    )
    c_one, c_one_edit = interleaved(set_image(small, runs, 2), set_image(small, runs, 7, EDITABLE))

    load = os.getloadavg()

    def ms(t: tuple[float, float]) -> str:
        return f"{t[0] * 1000:.0f} ms ({t[1] * 1000:.0f} ms)"

    def times(a: tuple[float, float], b: tuple[float, float]) -> str:
        return f"{a[0] / b[0]:.2f}x ({a[1] / b[1]:.2f}x)"

    rows = [
        "| benchmark | promoter, regular install: wall (cpu) | reference wall (cpu) "
        "| ratio wall (cpu) | goal | editable install (`pip install -e`): wall (cpu), ratio |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| (a) set-image on {N_FILES:,} files ({size / 1e6:.1f} MB, 1 % pinned, 10 % CRLF)"
        f" vs `grep -rlF` | {ms(a_ours)} | {ms(a_grep)} | {times(a_ours, a_grep)} grep | <= 3x"
        f" | {ms(a_edit)}, {times(a_edit, a_grep)} grep |",
        f"| (b) set-image on a {lines:,}-line values file vs ruamel.yaml load+dump"
        f" | {ms(b_ours)} | {ms(b_ruamel)} | {times(b_ruamel, b_ours)} faster | >= 10x"
        f" | {ms(b_edit)}, {times(b_ruamel, b_edit)} faster |",
        f"| (c) `promoter --help` | {ms(c_help)} | {ms(c_python)} `python -c pass` | | |"
        f" {ms(c_help_edit)} |",
        f"| (c) set-image on one file | {ms(c_one)} | | | | {ms(c_one_edit)} |",
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
