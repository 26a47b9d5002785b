"""Compose time of one ~5,000-line Helm values file with each candidate parser.

Run: ``.venv/bin/python benchmarks/yamledit_parsers.py [FILE]`` (without FILE a deterministic
5,000-line values file is generated). Measures in-process compose time only (best of N);
ruamel's C parser is measured when ``ruamel.yaml.clib`` is importable.
"""

from __future__ import annotations

import io
import sys
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


if __name__ == "__main__":
    main()
