"""Compose time of one ~5,000-line Helm values file with each candidate parser.

Run: ``.venv/bin/python benchmarks/yamledit_parsers.py [FILE]`` (without FILE a deterministic
5,000-line values file is generated). Measures in-process compose time (best of N);
ruamel's C parser is measured when ``ruamel.yaml.clib`` is importable. Then, whole
processes (best of 7, bytecode caches allowed): one engine edit (read, parse, splice,
prove, write) against a ruamel round trip (load, change, dump) of the same file.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def generate_values(lines: int = 5000) -> str:
    """A Helm-values-like file: nested maps, images, lists, comments, quoted strings."""
    out: list[str] = ["# Default values for a big umbrella chart.", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"## Component {i}",
            f"component{i}:",
            "  enabled: true",
            "  image:",
            "    registry: docker.io",
            f"    repository: example/component-{i}",
            f'    tag: "1.{i}.0"  # the release',
            "    pullPolicy: IfNotPresent",
            "  replicaCount: 2",
            "  resources:",
            "    limits: {cpu: 500m, memory: 512Mi}",
            "    requests:",
            "      cpu: 100m",
            "      memory: 128Mi",
            "  env:",
            "    - name: LOG_LEVEL",
            "      value: 'info'",
            "    - name: FEATURE_FLAGS",
            '      value: "a,b,c"',
            "  service:",
            "    type: ClusterIP",
            "    ports: [80, 443]",
            "  annotations: {}",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def best(fn: Callable[[], object], n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    text = Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else generate_values()
    import yaml
    from ruamel.yaml import YAML

    rows: list[tuple[str, float]] = []
    rt_pure = YAML(typ="rt", pure=True)
    safe_pure = YAML(typ="safe", pure=True)
    rows.append(("ruamel rt pure-Python compose", best(lambda: list(rt_pure.compose_all(text)))))
    rows.append(
        ("ruamel safe pure-Python compose", best(lambda: list(safe_pure.compose_all(text))))
    )
    try:
        from ruamel.yaml.cyaml import CParser  # noqa: F401

        safe_c = YAML(typ="safe")
        rows.append(("ruamel safe C compose", best(lambda: list(safe_c.compose_all(text)))))
    except ImportError:
        rows.append(("ruamel safe C compose (clib not importable)", float("nan")))

    def rt_round_trip() -> None:
        data = rt_pure.load(text)
        rt_pure.dump(data, io.StringIO())

    rows.append(("ruamel rt load + dump (round trip)", best(rt_round_trip, 3)))
    py, c, ca = yaml.SafeLoader, yaml.CSafeLoader, yaml.compose_all
    rows.append(("PyYAML SafeLoader compose", best(lambda: list(ca(text, Loader=py)))))
    rows.append(("PyYAML CSafeLoader compose", best(lambda: list(ca(text, Loader=c)))))
    rows.append(("PyYAML CSafeLoader parse (events)", best(lambda: list(yaml.parse(text, c)))))
    try:
        from promoter.yamledit.parse import parse_text

        rows.append(("promoter.yamledit.parse_text", best(lambda: parse_text(text, "values.yaml"))))
    except ImportError:
        pass
    print(f"{text.count(chr(10))} lines, {len(text)} chars")
    for name, secs in rows:
        print(f"{name:48s} {secs * 1000:9.1f} ms")
    whole_process(text)


ENGINE = """
import sys
from pathlib import Path
from promoter.yamledit import apply, encode, read_file, write_atomic
from promoter.yamledit.model import Mapping, Scalar, SetScalar
p = Path(sys.argv[1])
pf = read_file(p, p.name)
root = pf.documents[0].root
node = next(v for k, v in root.pairs if isinstance(v, Mapping))
tag = node.get("image").get("tag")
new, _ = apply(pf, [SetScalar(tag, tag.value + "1", "bench")])
write_atomic(p, encode(pf, new))
"""

RUAMEL = """
import sys
from ruamel.yaml import YAML
y = YAML()
with open(sys.argv[1]) as f:
    data = y.load(f)
node = next(v for v in data.values() if isinstance(v, dict))
node["image"]["tag"] = node["image"]["tag"] + "1"
with open(sys.argv[1], "w") as f:
    y.dump(data, f)
"""


def whole_process(text: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in (("engine edit", ENGINE), ("ruamel round trip", RUAMEL)):
            path = Path(tmp) / "values.yaml"
            path.write_text(text)
            cmd = [sys.executable, "-c", code, str(path)]
            subprocess.run(cmd, check=True, env=env)  # warm caches, write bytecode
            times = []
            for _ in range(7):
                path.write_text(text)
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, env=env)
                times.append(time.perf_counter() - t0)
            results[name] = min(times)
            print(f"whole process, {name:33s} {results[name] * 1000:9.1f} ms")
    ratio = results["ruamel round trip"] / results["engine edit"]
    print(f"ruamel round trip / engine edit: {ratio:.1f}x")


if __name__ == "__main__":
    main()
