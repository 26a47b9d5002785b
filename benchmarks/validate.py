"""Benchmark: `promoter validate` on 2,000 generated manifests of 22 kinds.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/validate.py            # 5 runs each, prints a Markdown table
    .venv/bin/python benchmarks/validate.py --runs 9   # more runs

What is timed (wall clock of a whole process, as CI would run it; medians):

* ``schema``: ``promoter validate DIR --backend schema`` on all 2,000 files;
* ``baseline``: the plain approach for reference: PyYAML CSafeLoader + a
  ``jsonschema`` validator cached per kind + ``iter_errors`` on every document;
* ``kubeconform``: ``kubeconform -strict -summary -output json`` with the same
  shipped schema locations, when the binary is on PATH (else "not installed");
* ``promotion``: ``promoter validate`` on only the files a typical promotion
  changes (one Deployment in each of 3 environments, plus their kustomization).

The corpus is generated deterministically (seed 20261126) under
benchmarks/work/validate/ (gitignored); ~2% of the files carry a schema error,
as a real repository might during a bad change.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "validate"
SEED = 20261126
GENERATOR_VERSION = 1  # bump when manifest() changes, so the corpus is rebuilt
COUNT = 2000
PYTHON = sys.executable


def _labels(rng: random.Random, app: str) -> dict[str, str]:
    return {
        "app": app,
        "tier": rng.choice(["web", "api", "worker"]),
        "team": f"team-{rng.randint(1, 9)}",
    }


def _container(rng: random.Random, app: str) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": app,
        "image": f"ghcr.io/acme/{app}:{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}",
        "ports": [{"name": "http", "containerPort": rng.choice([8080, 8000, 3000])}],
        "env": [
            {"name": f"VAR_{i}", "value": f"value-{rng.randint(0, 999)}"}
            for i in range(rng.randint(3, 12))
        ],
        "resources": {
            "requests": {
                "cpu": f"{rng.randint(1, 9) * 100}m",
                "memory": f"{rng.randint(1, 8) * 128}Mi",
            },
            "limits": {"cpu": "1", "memory": f"{rng.randint(1, 4)}Gi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}, "initialDelaySeconds": 5},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
    }
    return c


def _pod_spec(rng: random.Random, app: str) -> dict[str, Any]:
    return {
        "serviceAccountName": app,
        "containers": [_container(rng, app) for _ in range(rng.choice([1, 1, 2]))],
        "volumes": [{"name": "config", "configMap": {"name": f"{app}-config"}}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
    }


def _template(rng: random.Random, app: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": _pod_spec(rng, app)}


def _meta(app: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": app, "namespace": "prod", "labels": labels}


def manifest(rng: random.Random, i: int) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    app = f"app-{i:04d}"
    labels = _labels(rng, app)
    sel = {"matchLabels": {"app": app}}
    m = _meta(app, labels)
    if kind == "Deployment":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "replicas": rng.randint(1, 5),
                "selector": sel,
                "template": _template(rng, app, labels),
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
                },
            },
        }
    if kind == "StatefulSet":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "serviceName": app,
                "replicas": 3,
                "selector": sel,
                "template": _template(rng, app, labels),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Gi"}},
                        },
                    }
                ],
            },
        }
    if kind == "DaemonSet":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": m,
            "spec": {"selector": sel, "template": _template(rng, app, labels)},
        }
    if kind == "ReplicaSet":
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": m,
            "spec": {"replicas": 2, "selector": sel, "template": _template(rng, app, labels)},
        }
    if kind == "Job":
        spec = _pod_spec(rng, app) | {"restartPolicy": "Never"}
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": m,
            "spec": {"backoffLimit": 2, "template": {"spec": spec}},
        }
    if kind == "CronJob":
        spec = _pod_spec(rng, app) | {"restartPolicy": "OnFailure"}
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "schedule": f"{rng.randint(0, 59)} 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": spec}}},
            },
        }
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": kind, "metadata": m, "spec": _pod_spec(rng, app)}
    if kind == "Service":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "selector": {"app": app},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        }
    if kind == "ConfigMap":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": m,
            "data": {f"key{j}": f"value {rng.random():.6f}" for j in range(rng.randint(2, 20))},
        }
    if kind == "Secret":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": m,
            "type": "Opaque",
            "stringData": {"password": f"pw-{rng.randint(0, 10**6)}"},
        }
    if kind == "Ingress":
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": [f"{app}.example.com"], "secretName": f"{app}-tls"}],
                "rules": [
                    {
                        "host": f"{app}.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": app, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
            },
        }
    if kind == "ServiceAccount":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": m,
            "automountServiceAccountToken": False,
        }
    if kind in ("Role", "ClusterRole"):
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": m,
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "configmaps"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        }
        if kind == "ClusterRole":
            body["metadata"] = {"name": app, "labels": labels}
        return body
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": m,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role" if kind == "RoleBinding" else "ClusterRole",
                "name": app,
            },
            "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": "prod"}],
        }
        if kind == "ClusterRoleBinding":
            body["metadata"] = {"name": app, "labels": labels}
        return body
    if kind == "HorizontalPodAutoscaler":
        return {
            "apiVersion": "autoscaling/v2",
            "kind": kind,
            "metadata": m,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        }
    if kind == "PodDisruptionBudget":
        return {
            "apiVersion": "policy/v1",
            "kind": kind,
            "metadata": m,
            "spec": {"minAvailable": 1, "selector": sel},
        }
    if kind == "NetworkPolicy":
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "podSelector": sel,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                        "ports": [{"protocol": "TCP", "port": 8080}],
                    }
                ],
            },
        }
    if kind == "PersistentVolumeClaim":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": m,
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": f"{rng.randint(1, 50)}Gi"}},
            },
        }
    if kind == "HelmRelease":
        return {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": kind,
            "metadata": m,
            "spec": {
                "interval": "10m",
                "chart": {
                    "spec": {
                        "chart": app,
                        "version": "1.x",
                        "sourceRef": {"kind": "HelmRepository", "name": "acme"},
                    }
                },
                "values": {"image": {"tag": f"1.{rng.randint(0, 9)}.0"}, "replicaCount": 2},
            },
        }
    if kind == "FluxKustomization":
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": m,
            "spec": {
                "interval": "5m",
                "prune": True,
                "path": f"./apps/{app}",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            },
        }
    raise AssertionError(kind)


KINDS = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
    "Service",
    "ConfigMap",
    "Secret",
    "Ingress",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "PersistentVolumeClaim",
    "HelmRelease",
    "FluxKustomization",
]


def _break(rng: random.Random, doc: dict[str, Any]) -> None:
    """A realistic mistake: an unknown field (typo) or a wrong type."""
    if rng.random() < 0.5:
        doc["metadata"]["lables"] = {"app": "x"}
    elif "spec" in doc and isinstance(doc["spec"], dict):
        doc["spec"]["replicas"] = "two"
    else:
        doc["metadata"]["annotations"] = {"n": 1}


def generate(root: Path, count: int = COUNT) -> Path:
    """Write the corpus (deterministic); return the folder holding the manifests."""
    folder = root / "manifests"
    stamp = root / f"generated-v{GENERATOR_VERSION}-{SEED}-{count}"
    if stamp.exists():
        return folder
    shutil.rmtree(root, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(SEED)
    for i in range(count):
        doc = manifest(rng, i)
        if rng.random() < 0.02:
            _break(rng, doc)
        (folder / f"{i:04d}-{doc['kind'].lower()}.yaml").write_text(
            yaml.safe_dump(doc, sort_keys=False)
        )
    promo = root / "promotion"
    for env in ("dev", "staging", "prod"):
        d = promo / env
        d.mkdir(parents=True)
        dep = manifest(random.Random(SEED + len(env)), 0)
        (d / "deployment.yaml").write_text(yaml.safe_dump(dep, sort_keys=False))
    (promo / "prod" / "kustomization.yaml").write_text(
        "resources:\n  - deployment.yaml\n"
        "images:\n  - name: ghcr.io/acme/app-0000\n    newTag: '2.0.1'\n"
    )
    stamp.write_text("ok\n")
    return folder


BASELINE = r"""
import sys, json, time
from pathlib import Path
import yaml, jsonschema
from promoter.validate.registry import SchemaRegistry
registry = SchemaRegistry("1.33.0")
cache = {}
errors = 0
for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
        key = (doc["apiVersion"], doc["kind"])
        if key not in cache:
            schema = json.loads(registry.find(*key).read_text())
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
            cache[key] = cls(schema)
        errors += sum(1 for _ in cache[key].iter_errors(doc))
print(errors)
"""


def interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, str]]:
    """Median wall time per command; rounds interleave the commands so load on a shared
    machine hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    last: dict[str, str] = {}
    for _ in range(runs):
        for name, args in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)
            samples[name].append(time.perf_counter() - start)
            text = proc.stdout.strip()
            last[name] = text.splitlines()[-1] if text else proc.stderr.strip()[-200:]
    return {name: (statistics.median(v), last[name]) for name, v in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=COUNT)
    ns = parser.parse_args()
    folder = generate(WORK, ns.count)
    promo_files = [str(p) for p in sorted((WORK / "promotion").rglob("*.yaml"))]
    cli = [str(Path(PYTHON).parent / "promoter"), "validate"]  # the installed console script
    n = ns.count
    commands = {
        f"schema backend, {n} files": [*cli, str(folder), "--backend", "schema"],
        f"baseline jsonschema loop, {n} files": [PYTHON, "-c", BASELINE, str(folder)],
        f"promotion: {len(promo_files)} changed files": [*cli, *promo_files, "--backend", "schema"],
        "promotion: 1 changed file": [*cli, promo_files[0], "--backend", "schema"],
    }
    kubeconform = shutil.which("kubeconform")
    kc_name = f"kubeconform, {n} files"
    if kubeconform:
        from promoter.validate.registry import SchemaRegistry

        locations = SchemaRegistry("1.33.0").kubeconform_locations()
        flags = [a for loc in locations for a in ("-schema-location", loc)]
        commands[kc_name] = [
            kubeconform,
            "-strict",
            "-summary",
            "-output",
            "json",
            *flags,
            str(folder),
        ]
    results = interleaved(commands, ns.runs)
    schema_t = results[f"schema backend, {n} files"][0]
    print(f"median of {ns.runs} interleaved runs, whole process, {os.cpu_count()} cores\n")
    print("| run | median s | vs schema backend, 2,000 files | last output line |")
    print("| --- | ---: | ---: | --- |")
    for name, (seconds, out) in results.items():
        print(f"| {name} | {seconds:.3f} | {seconds / schema_t:.2f}× | {out[:110]} |")
    if not kubeconform:
        print(f"| {kc_name} | – | – | not installed on this machine |")
    else:
        print(f"\nschema backend / kubeconform = {schema_t / results[kc_name][0]:.2f} (goal ≤ 2)")
    base_t = results[f"baseline jsonschema loop, {n} files"][0]
    print(f"baseline loop / schema backend = {base_t / schema_t:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
