"""Evidence: our per-file verdicts equal hand-given labels and kubeconform's recorded verdicts.

1. A generated, labelled set: a valid object for each of 26 kinds (20 Kubernetes
   kinds, 6 CRDs), and for each one mutations whose verdict is known from the
   schema: wrong types, unknown fields (strict), missing required fields; plus
   YAML-typing traps written as raw YAML. Every file's verdict from
   ``validate`` must equal its label, and the fast checker must agree with
   ``jsonschema`` on every document.
2. The recorded kubeconform v0.7.0 runs in ../shared/kubeconform-output-samples:
   for every resource kubeconform reported on, our verdict must equal its status.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promoter.validate import validate
from promoter.validate.loader import key_string, load_path
from promoter.validate.schema import SchemaValidator, compiled_for

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "kubeconform-output-samples"

POD_SPEC = {"containers": [{"name": "app", "image": "ghcr.io/acme/app:1.0.0"}]}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "web"}}
JOB_TEMPLATE = {"spec": {"template": {"spec": {**POD_SPEC, "restartPolicy": "Never"}}}}


def obj(api: str, kind: str, **body: Any) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "prod"},
        **body,
    }


# kind -> (valid object, [(mutation name, path, new value or DELETE)]); every mutation is invalid.
DELETE = object()
Mutation = tuple[str, tuple[Any, ...], Any]
KINDS: dict[str, tuple[dict[str, Any], list[Mutation]]] = {
    "Deployment": (
        obj(
            "apps/v1",
            "Deployment",
            spec={"replicas": 2, "selector": SELECTOR, "template": TEMPLATE},
        ),
        [
            ("wrong-type", ("spec", "replicas"), "two"),
            ("unknown-field", ("spec", "replica"), 2),
            ("missing-required", ("spec", "selector"), DELETE),
            (
                "missing-container-name",
                ("spec", "template", "spec", "containers", 0, "name"),
                DELETE,
            ),
        ],
    ),
    "StatefulSet": (
        obj(
            "apps/v1",
            "StatefulSet",
            spec={"serviceName": "web", "selector": SELECTOR, "template": TEMPLATE},
        ),
        [
            ("wrong-type", ("spec", "replicas"), "3"),
            ("missing-required", ("spec", "template"), DELETE),
        ],
    ),
    "DaemonSet": (
        obj("apps/v1", "DaemonSet", spec={"selector": SELECTOR, "template": TEMPLATE}),
        [
            ("wrong-type", ("spec", "minReadySeconds"), "ten"),
            ("missing-required", ("spec", "selector"), DELETE),
        ],
    ),
    "ReplicaSet": (
        obj(
            "apps/v1",
            "ReplicaSet",
            spec={"replicas": 1, "selector": SELECTOR, "template": TEMPLATE},
        ),
        [("unknown-field", ("spec", "strategy"), {})],
    ),
    "Job": (
        obj("batch/v1", "Job", spec=copy.deepcopy(JOB_TEMPLATE["spec"])),
        [
            ("wrong-type", ("spec", "backoffLimit"), "3"),
            ("missing-required", ("spec", "template"), DELETE),
        ],
    ),
    "CronJob": (
        obj("batch/v1", "CronJob", spec={"schedule": "*/5 * * * *", "jobTemplate": JOB_TEMPLATE}),
        [
            ("wrong-type", ("spec", "suspend"), "no"),
            ("missing-required", ("spec", "schedule"), DELETE),
        ],
    ),
    "Pod": (
        obj(
            "v1",
            "Pod",
            spec={
                "containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]}]
            },
        ),
        [
            ("wrong-type", ("spec", "containers", 0, "ports", 0, "containerPort"), "http"),
            ("missing-required", ("spec", "containers"), DELETE),
            ("unknown-field", ("spec", "containers", 0, "imagePullPolicyy"), "Always"),
        ],
    ),
    "Service": (
        obj(
            "v1",
            "Service",
            spec={"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
        ),
        [
            ("wrong-type", ("spec", "ports", 0, "port"), "80"),
            ("missing-required", ("spec", "ports", 0, "port"), DELETE),
            ("wrong-type-int-or-string", ("spec", "ports", 0, "targetPort"), 1.5),
        ],
    ),
    "ConfigMap": (
        obj("v1", "ConfigMap", data={"KEY": "value"}),
        [
            ("wrong-type", ("data", "PORT"), 8080),
            ("unknown-field", ("datas",), {}),
            ("wrong-type-metadata", ("metadata", "labels"), {"a": 1}),
        ],
    ),
    "Secret": (
        obj("v1", "Secret", type="Opaque", stringData={"password": "x"}),
        [("wrong-type", ("type",), 1), ("unknown-metadata-field", ("metadata", "nam"), "x")],
    ),
    "Ingress": (
        obj(
            "networking.k8s.io/v1",
            "Ingress",
            spec={
                "rules": [
                    {
                        "host": "web.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        ),
        [
            ("missing-required", ("spec", "rules", 0, "http", "paths", 0, "pathType"), DELETE),
            ("wrong-type", ("spec", "rules", 0, "host"), 7),
        ],
    ),
    "ServiceAccount": (
        obj("v1", "ServiceAccount", automountServiceAccountToken=False),
        [("wrong-type", ("automountServiceAccountToken",), "false")],
    ),
    "Role": (
        obj(
            "rbac.authorization.k8s.io/v1",
            "Role",
            rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        ),
        [("missing-required", ("rules", 0, "verbs"), DELETE)],
    ),
    "RoleBinding": (
        obj(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web"},
            subjects=[{"kind": "ServiceAccount", "name": "web"}],
        ),
        [("missing-required", ("roleRef",), DELETE)],
    ),
    "ClusterRole": (
        obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            rules=[{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
        ),
        [("wrong-type", ("rules", 0, "verbs"), "list")],
    ),
    "HorizontalPodAutoscaler": (
        obj(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
            },
        ),
        [
            ("missing-required", ("spec", "maxReplicas"), DELETE),
            ("wrong-type", ("spec", "minReplicas"), "1"),
        ],
    ),
    "PodDisruptionBudget": (
        obj("policy/v1", "PodDisruptionBudget", spec={"minAvailable": "50%", "selector": SELECTOR}),
        [
            ("wrong-type", ("spec", "selector"), "app=web"),
            ("wrong-type-int-or-string", ("spec", "minAvailable"), True),
        ],
    ),
    "NetworkPolicy": (
        obj(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        ),
        [("missing-required", ("spec", "podSelector"), DELETE)],
    ),
    "PersistentVolumeClaim": (
        obj(
            "v1",
            "PersistentVolumeClaim",
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        ),
        [("wrong-type", ("spec", "accessModes"), "ReadWriteOnce")],
    ),
    "Namespace": (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
        [("unknown-field", ("spec", "owner"), "me")],
    ),
    # CRDs (shipped schemas). Their metadata is a free object; spec objects are strict.
    "HelmRelease": (
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            spec={
                "interval": "10m",
                "chart": {
                    "spec": {
                        "chart": "web",
                        "sourceRef": {"kind": "HelmRepository", "name": "acme"},
                    }
                },
                "values": {"anything": {"goes": [1, "two"]}},
            },
        ),
        [
            ("missing-required", ("spec", "interval"), DELETE),
            ("unknown-field", ("spec", "valuez"), {}),
            ("wrong-type", ("spec", "suspend"), "yes"),
        ],
    ),
    "FluxKustomization": (
        obj(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            spec={
                "interval": "5m",
                "prune": True,
                "path": "./prod",
                "sourceRef": {"kind": "GitRepository", "name": "repo"},
            },
        ),
        [("missing-required", ("spec", "prune"), DELETE)],
    ),
    "GitRepository": (
        obj(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            spec={"interval": "1m", "url": "https://example.com/r.git"},
        ),
        [("wrong-type", ("spec", "ref"), "main"), ("missing-required", ("spec", "url"), DELETE)],
    ),
    "Application": (
        obj(
            "argoproj.io/v1alpha1",
            "Application",
            spec={
                "project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "prod"},
                "source": {
                    "repoURL": "https://example.com/r.git",
                    "path": "prod",
                    "targetRevision": "HEAD",
                },
            },
        ),
        [("missing-required", ("spec", "project"), DELETE)],
    ),
    "Rollout": (
        obj(
            "argoproj.io/v1alpha1",
            "Rollout",
            spec={
                "replicas": 2,
                "selector": SELECTOR,
                "template": TEMPLATE,
                "strategy": {"canary": {"steps": [{"setWeight": 20}]}},
            },
        ),
        [("wrong-type", ("spec", "strategy", "canary", "steps", 0, "setWeight"), "20%")],
    ),
    "KustomizeKustomization": (
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["deployment.yaml"],
            "images": [{"name": "ghcr.io/acme/web", "newTag": "1.10"}],
        },
        [("wrong-type", ("images", 0, "newTag"), 1.1), ("unknown-field", ("imagez",), [])],
    ),
}

# Raw YAML where the typing of plain scalars decides the verdict (go-yaml v2 rules).
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}data:\n  v: {value}\n"
DEP = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
    "spec:\n  replicas: {replicas}\n"
    "  selector: {{matchLabels: {{app: w}}}}\n  template:\n    metadata: {{labels: {{app: w}}}}\n"
    "    spec:\n      containers: [{{name: w, image: 'nginx:1.25'}}]\n"
)
TRAPS: list[tuple[str, str, bool]] = [
    ("cm-time", CM.format(name="t", extra="", value="12:30"), True),  # string, not 750
    ("cm-date", CM.format(name="t", extra="", value="2024-01-01"), True),
    ("cm-datetime", CM.format(name="t", extra="", value="2024-01-01T10:00:00Z"), True),
    ("cm-exp", CM.format(name="t", extra="", value="1e3"), False),  # a number
    ("cm-octal-o", CM.format(name="t", extra="", value="0o17"), False),
    ("cm-octal", CM.format(name="t", extra="", value="010"), False),
    ("cm-y", CM.format(name="t", extra="", value="y"), False),  # a boolean
    ("cm-n-quoted", CM.format(name="t", extra="", value="'n'"), True),
    ("cm-on", CM.format(name="t", extra="", value="on"), False),
    ("cm-version", CM.format(name="t", extra="", value="1.10"), False),
    ("cm-version-quoted", CM.format(name="t", extra="", value='"1.10"'), True),
    ("cm-image", CM.format(name="t", extra="", value="nginx:1.25"), True),
    ("cm-null", CM.format(name="t", extra="", value="~"), True),  # null is allowed
    ("cm-name-n", CM.format(name="n", extra="", value="x"), False),  # metadata.name: false
    ("cm-name-yes", CM.format(name="yes", extra="", value="x"), False),
    ("cm-label-int-key", CM.format(name="t", extra="  labels:\n    1: one\n", value="x"), True),
    (
        "cm-annotation-date",
        CM.format(name="t", extra="  annotations: {at: 2024-01-01}\n", value="x"),
        True,
    ),
    ("dep-replicas-1e3", DEP.format(name="d", replicas="1e3"), True),  # the integer 1000
    ("dep-replicas-2.0", DEP.format(name="d", replicas="2.0"), True),
    ("dep-replicas-2.5", DEP.format(name="d", replicas="2.5"), False),
    ("dep-replicas-0x10", DEP.format(name="d", replicas="0x10"), True),
    ("dep-replicas-quoted", DEP.format(name="d", replicas='"2"'), False),
    ("dep-replicas-null", DEP.format(name="d", replicas="~"), True),
    ("dep-name-off", DEP.format(name="off", replicas="1"), False),
    ("dep-duplicate-key", DEP.format(name="d", replicas="1\n  replicas: 2"), False),
    (
        "dep-tab-indent",
        DEP.format(name="d", replicas="1").replace("  selector", "\tselector"),
        False,
    ),
    ("dep-inf", DEP.format(name="d", replicas=".inf"), False),
    ("kustomization-newtag-1.10", "images:\n  - name: web\n    newTag: 1.10\n", False),
    ("kustomization-newtag-quoted", "images:\n  - name: web\n    newTag: '1.10'\n", True),
]


@dataclass
class Case:
    name: str
    text: str
    valid: bool


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = doc
    for part in path[:-1]:
        if isinstance(node, dict) and part not in node:
            node[part] = {}
        node = node[part]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def labelled_cases() -> list[Case]:
    cases: list[Case] = []
    for kind, (base, mutations) in KINDS.items():
        # JSON is YAML whose strings are all quoted: no accidental typing traps here.
        cases.append(Case(f"{kind}-valid", json.dumps(base, indent=1), True))
        for name, path, value in mutations:
            doc = copy.deepcopy(base)
            _set(doc, path, value)
            cases.append(Case(f"{kind}-{name}", json.dumps(doc, indent=1), False))
    for name, text, valid in TRAPS:
        cases.append(Case(name, text, valid))
    return cases


def write_cases(root: Path, cases: list[Case]) -> dict[str, Path]:
    out = {}
    for case in cases:
        folder = root / case.name
        folder.mkdir()
        # kustomization files must carry their real name to be checked as such
        name = "kustomization.yaml" if case.name.startswith("kustomization-") else "m.yaml"
        path = folder / name
        path.write_text(case.text)
        out[case.name] = path
    return out


def test_generated_labelled_set_verdicts_equal_labels(tmp_path: Path) -> None:
    cases = labelled_cases()
    paths = write_cases(tmp_path, cases)
    findings = validate(list(paths.values()), backend="schema", strict_kinds=True)
    invalid_files = {f.file for f in findings if f.severity == "error"}
    verdicts = {c.name: str(paths[c.name]) not in invalid_files for c in cases}
    wrong = {c.name: c.valid for c in cases if verdicts[c.name] != c.valid}
    assert wrong == {}, f"verdicts differ from labels (label shown): {wrong}"
    n_valid = sum(c.valid for c in cases)
    assert len(cases) >= 80 and n_valid >= 30 and len(cases) - n_valid >= 50


def test_fast_checker_agrees_with_jsonschema_on_the_set(tmp_path: Path) -> None:
    paths = write_cases(tmp_path, labelled_cases())
    registry = SchemaValidator().registry
    checked = 0
    for path in paths.values():
        for doc in load_path(path).documents:
            value = doc.value
            if not isinstance(value, dict) or "kind" not in value:
                continue
            schema_path = registry.find(value["apiVersion"], value["kind"])
            assert schema_path is not None, value["kind"]
            compiled = compiled_for(schema_path)
            assert compiled.fast is not None
            assert compiled.fast(value) == compiled.full.is_valid(value), path
            checked += 1
    assert checked >= 80


# --- kubeconform's recorded verdicts ------------------------------------------------------


def _kc_verdict(status: str) -> str:
    return {"statusValid": "valid", "statusSkipped": "skipped"}.get(status, "invalid")


def _our_verdicts(
    paths: list[Path], strict_kinds: bool
) -> tuple[dict[tuple[str, str, str], str], set[str]]:
    """(file, kind, name) -> valid/invalid/skipped per resource; files with file-level errors."""
    verdicts: dict[tuple[str, str, str], str] = {}
    for path in paths:
        for doc in load_path(path).documents:
            value = doc.value
            if not isinstance(value, dict):
                continue
            items = value.get("items") if value.get("kind") == "List" else None
            for item in items if isinstance(items, list) else [value]:
                meta = item.get("metadata")
                raw = meta.get("name") if isinstance(meta, dict) else None
                name = "" if raw is None else key_string(raw)
                verdicts[(path.name, str(item.get("kind") or ""), name)] = "valid"
    file_errors: set[str] = set()
    for f in validate(paths, backend="schema", strict_kinds=strict_kinds):
        key = (Path(f.file).name, f.kind, f.name)
        if f.severity == "error":
            if key in verdicts:
                verdicts[key] = "invalid"
            else:
                file_errors.add(key[0])
        elif f.skipped and verdicts.get(key) == "valid":
            verdicts[key] = "skipped"
    return verdicts, file_errors


RECORDED = [
    # (output file, input files, strict kinds = run without -ignore-missing-schemas)
    ("outputs/output-json-verbose.stdout", ["valid.yaml", "invalid.yaml"], True),
    (
        "outputs/exit-missing-schema-ignored-verbose.stdout",
        ["valid.yaml", "missing-schema.yaml"],
        False,
    ),
    ("outputs/exit-missing-schema.stdout", ["valid.yaml", "missing-schema.yaml"], True),
    ("outputs/exit-yaml-parse-error.stdout", ["valid.yaml", "parse-error.yaml"], True),
    ("outputs/exit-duplicate-key-strict.stdout", ["duplicate-key.yaml"], True),
    ("outputs/exit-missing-kind.stdout", ["missing-kind.yaml"], True),
    ("outputs/exit-crds-with-crd-location.stdout", ["crds.yaml"], True),
    ("edge-cases/edge-docs-kubeconform.json", None, True),
]


def _recorded(
    output: str, inputs: list[str] | None
) -> tuple[list[Path], dict[tuple[str, str, str], str], int]:
    data = json.loads((SAMPLES / output).read_text())
    folder = SAMPLES / ("edge-cases/inputs" if inputs is None else "inputs")
    names = inputs if inputs is not None else sorted(p.name for p in folder.iterdir())
    expected = {
        (r["filename"], r["kind"], r["name"]): _kc_verdict(r["status"])
        for r in data["resources"]
        if r["status"]
    }
    return [folder / n for n in names], expected, data.get("summary", {}).get("valid", 0)


@pytest.mark.parametrize(
    ("output", "inputs", "strict"), RECORDED, ids=[r[0].split("/")[-1] for r in RECORDED]
)
def test_verdicts_equal_kubeconform_recorded_verdicts(
    output: str, inputs: list[str] | None, strict: bool
) -> None:
    if not SAMPLES.is_dir():
        pytest.skip("shared/kubeconform-output-samples is not beside the repository")
    paths, expected, kc_valid = _recorded(output, inputs)
    ours, file_errors = _our_verdicts(paths, strict)
    for key, verdict in expected.items():
        if key in ours:
            assert ours[key] == verdict, key
        else:
            # kubeconform could not parse the file, so it has no kind/name: the file fails.
            assert verdict == "invalid" and key[0] in file_errors, key
    # Non-verbose outputs list only failures: all the others must be valid for us too.
    assert sum(1 for v in ours.values() if v == "valid") == kc_valid, ours


def agreement_count() -> int:
    """How many resource verdicts the test above compares (quoted in the closing note)."""
    total = 0
    for output, inputs, _strict in RECORDED:
        _paths, expected, kc_valid = _recorded(output, inputs)
        listed_valid = sum(1 for v in expected.values() if v == "valid")
        total += len(expected) + kc_valid - listed_valid
    return total


def test_recorded_agreement_covers_the_samples() -> None:
    if not SAMPLES.is_dir():
        pytest.skip("shared/kubeconform-output-samples is not beside the repository")
    assert agreement_count() >= 25


# --- the fast checker never disagrees with jsonschema --------------------------------------

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        ["", "web", "80", "http", "Always", "10m", "50%", "1Gi", "2024-01-01T00:00:00Z"]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "port", "image", "x", "spec"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(KINDS)),
    pick=st.integers(0, 10_000),
    action=st.sampled_from(["replace", "delete", "add"]),
    new=_JSON_VALUES,
)
def test_fast_checker_equals_jsonschema_on_random_mutations(
    kind: str, pick: int, action: str, new: Any
) -> None:
    base = copy.deepcopy(KINDS[kind][0])
    schema_path = SchemaValidator().registry.find(base["apiVersion"], base["kind"])
    paths = [p for p in _paths(base) if p]
    path = paths[pick % len(paths)]
    parent: Any = base
    for part in path[:-1]:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = new
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["extra" if "extra" not in parent else "extra2"] = new
    assert schema_path is not None
    compiled = compiled_for(schema_path)
    assert compiled.fast is not None
    assert compiled.fast(base) == compiled.full.is_valid(base)
