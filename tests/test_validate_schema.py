"""The schema backend, the fast checker and the ``promoter validate`` CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from validate_helpers import DEPLOYMENT, write

from promoter.commands.validate import command
from promoter.validate import validate
from promoter.validate.checker import Unsupported, compile_schema
from promoter.validate.registry import SchemaConfigError, SchemaRegistry


def errors(findings: list) -> list:  # type: ignore[type-arg]
    return [f for f in findings if f.severity == "error"]


def test_valid_deployment_has_no_findings(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", DEPLOYMENT.format(replicas=2))
    assert validate([path], backend="schema") == []


def test_type_error_points_at_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", DEPLOYMENT.format(replicas='"three"'))
    (finding,) = validate([path], backend="schema")
    assert (finding.line, finding.column) == (6, 3)
    assert finding.path == "/spec/replicas"
    assert (finding.kind, finding.name, finding.api_version) == ("Deployment", "web", "apps/v1")
    assert "want integer" in finding.message


def test_unknown_field_points_at_the_unknown_key(tmp_path: Path) -> None:
    text = DEPLOYMENT.format(replicas=1) + "          imagePullPolicyy: Always\n"
    path = write(tmp_path, "d.yaml", text)
    (finding,) = validate([path], backend="schema")
    assert finding.line == 16 and finding.path.endswith("/imagePullPolicyy")
    assert "unknown field" in finding.message


def test_missing_required_points_at_the_parent(tmp_path: Path) -> None:
    text = DEPLOYMENT.format(replicas=1).replace(
        "        - name: web\n          image", "        - image"
    )
    path = write(tmp_path, "d.yaml", text)
    (finding,) = validate([path], backend="schema")
    assert finding.line == 14 and finding.path == "/spec/template/spec/containers/0"
    assert 'missing required field "name"' in finding.message


def test_yaml_typing_traps(tmp_path: Path) -> None:
    # 1e3 is the integer 1000 for Kubernetes (valid), `n` is the boolean false (invalid name).
    ok = write(tmp_path, "ok.yaml", DEPLOYMENT.format(replicas="1e3"))
    assert validate([ok], backend="schema") == []
    text = DEPLOYMENT.format(replicas=1).replace("name: web\nspec", "name: n\nspec")
    bad = write(tmp_path, "bad.yaml", text)
    (finding,) = validate([bad], backend="schema")
    assert finding.path == "/metadata/name" and finding.name == "false"


def test_unknown_kind_is_skipped_or_an_error(tmp_path: Path) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    path = write(tmp_path, "w.yaml", text)
    (skipped,) = validate([path], backend="schema")
    assert skipped.severity == "info" and skipped.skipped
    (err,) = validate([path], backend="schema", strict_kinds=True)
    assert err.severity == "error" and not err.skipped


def test_kustomization_without_apiversion_is_checked(tmp_path: Path) -> None:
    text = "resources: [a.yaml]\nimages:\n  - name: x\n    newTag: 1.10\n"
    path = write(tmp_path, "kustomization.yaml", text)
    (finding,) = validate([path], backend="schema")
    assert finding.kind == "Kustomization" and finding.path == "/images/0/newTag"
    assert finding.line == 4
    path.write_text('resources: [a.yaml]\nimages:\n  - name: x\n    newTag: "1.10"\n')
    assert validate([path], backend="schema") == []


def test_patch_files_listed_by_a_kustomization_are_not_schema_checked(tmp_path: Path) -> None:
    write(tmp_path, "kustomization.yaml", "resources: []\npatches:\n  - path: patch.yaml\n")
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n"
    write(tmp_path, "patch.yaml", patch)
    assert validate([tmp_path], backend="schema") == []


def test_crd_schemas_are_shipped(tmp_path: Path) -> None:
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\n"
        "spec:\n  interval: 10m\n  chart:\n    spec:\n      chart: web\n"
        "      sourceRef: {kind: HelmRepository, name: acme}\n  valuesz: {}\n"
    )
    path = write(tmp_path, "hr.yaml", text)
    (finding,) = validate([path], backend="schema")
    assert finding.path == "/spec/valuesz" and finding.line == 10


def test_user_schema_location_in_kubeconform_layouts(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {"size": {"type": "integer"}},
                "additionalProperties": False,
            },
        },
    }
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: big}\n"
    path = write(tmp_path, "m/w.yaml", widget)
    for layout in ("flat/widget-example-v1.json", "catalog/example.com/widget_v1.json"):
        write(tmp_path, layout, json.dumps(schema))
    for location in (
        str(tmp_path / "flat"),
        str(tmp_path / "catalog"),
        str(tmp_path / "flat" / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
        str(tmp_path / "flat" / "{kind}-example-{version}.json"),
    ):
        (finding,) = validate([path], backend="schema", schema_locations=[location])
        assert finding.path == "/spec/size", location


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(SchemaConfigError):
        SchemaRegistry("1.20.0")
    with pytest.raises(SchemaConfigError):
        SchemaRegistry("1.33.0", ["https://example.invalid/schemas"])
    with pytest.raises(SchemaConfigError):
        SchemaRegistry("1.33.0", [str(tmp_path / "missing")])
    with pytest.raises(SchemaConfigError):
        SchemaRegistry("1.33.0", [str(tmp_path / "{{ .Nope }}.json")])


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"},
            [1, 2.0],
            [True, 1.5, "1", None],
        ),
        ({"type": ["string", "null"]}, ["x", None], [1, False]),
        ({"enum": ["a", 1]}, ["a", 1, 1.0], [True, "b"]),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, ["a", 3], [1.5, None]),
        ({"anyOf": [{"minimum": 3}, {"type": "string"}]}, [3, "x"], [2]),
        ({"pattern": "^a+$", "maxLength": 3}, ["aa", 5], ["aaaa", "b"]),
        (
            {"items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
            [["a"]],
            [[], [1], ["a", "a"]],
        ),
        (
            {
                "$defs": {"s": {"type": "string"}},
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "properties": {"a": {"$ref": "#/$defs/s"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            [{"a": "x"}],
            [{}, {"a": 1}, {"a": "x", "b": 1}],
        ),
        (
            {"format": "date-time"},
            ["2024-01-01T10:00:00Z", 3],
            ["yesterday", "2024-13-01T00:00:00Z"],
        ),
        ({"not": {"type": "string"}}, [1], ["x"]),
        ({"type": "integer"}, [1], [2.0, True]),  # draft 4 (no $schema): 2.0 is no integer
        ({"type": ["integer", "null"]}, [1, None], [2.0, "1"]),
    ],
)
def test_fast_checker_agrees_with_jsonschema(
    schema: dict,  # type: ignore[type-arg]
    good: list,  # type: ignore[type-arg]
    bad: list,  # type: ignore[type-arg]
) -> None:
    import jsonschema

    check = compile_schema(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    fmt = jsonschema.FormatChecker(formats=())
    from promoter.validate.checker import is_date_time

    fmt.checks("date-time")(is_date_time)
    reference = cls(schema, format_checker=fmt)
    for value in good:
        assert check(value) and reference.is_valid(value), value
    for value in bad:
        assert not check(value) and not reference.is_valid(value), value


def test_fast_checker_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"if": {"type": "string"}, "then": {"minLength": 1}})


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.output


def test_cli_exit_codes_and_formats(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", DEPLOYMENT.format(replicas=2))
    bad = write(tmp_path, "bad.yaml", DEPLOYMENT.format(replicas="x"))
    assert run_cli(str(good), "--backend", "schema")[0] == 0
    code, out = run_cli(str(bad), "--backend", "schema")
    assert code == 3 and f"{bad}:6:3: error: [schema] Deployment/web" in out
    code, out = run_cli(str(bad), "--backend", "schema", "--output", "github")
    assert code == 3 and out.startswith(f"::error file={bad},line=6,col=3,")
    code, out = run_cli(str(bad), str(good), "--backend", "schema", "--output", "json")
    data = json.loads(out)
    assert data["summary"]["errors"] == 1 and data["findings"][0]["line"] == 6
    code, out = run_cli(str(bad), str(good), "--backend", "schema", "--output", "junit")
    assert code == 3 and 'tests="2" failures="1"' in out
    assert run_cli(str(good), "--kubernetes-version", "1.2")[0] == 2
    assert run_cli(str(tmp_path / "missing.yaml"))[0] == 2
    assert run_cli(str(good), "--backend", "nope")[0] == 2


def test_cli_walks_directories(tmp_path: Path) -> None:
    write(tmp_path, "a/good.yaml", DEPLOYMENT.format(replicas=2))
    write(tmp_path, "a/.hidden/bad.yaml", DEPLOYMENT.format(replicas="x"))
    write(tmp_path, "a/notes.txt", "not yaml: [")
    code, out = run_cli(str(tmp_path / "a"), "--backend", "schema")
    assert code == 0 and "1 resource(s) in 1 file(s)" in out


def test_auto_backend_falls_back_to_schema_without_kubeconform(tmp_path: Path) -> None:
    if shutil.which("kubeconform"):
        pytest.skip("kubeconform is installed here")
    good = write(tmp_path, "good.yaml", DEPLOYMENT.format(replicas=2))
    code, out = run_cli(str(good))
    assert code == 0 and "schema backend" in out


def test_non_kubernetes_yaml_is_skipped_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "values.yaml", "replicaCount: 2\nimage: {tag: 1.2.3}\n")
    (finding,) = validate([path], backend="schema")
    assert finding.severity == "info" and finding.skipped
    (finding,) = validate([path], backend="schema", strict_kinds=True)
    assert finding.severity == "error" and "not a Kubernetes object" in finding.message


def test_int_or_string_messages(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n"
        "    - port: 80\n      targetPort: true\n"
    )
    (finding,) = validate([write(tmp_path, "s.yaml", text)], backend="schema")
    assert finding.message == "got boolean true, want string or null or integer"
    assert finding.line == 7


def test_unsupported_keyword_behind_a_ref_falls_back_to_jsonschema(tmp_path: Path) -> None:
    from promoter.validate.schema import compiled_for

    schema = {
        "$defs": {"s": {"if": {"type": "string"}, "then": {"minLength": 2}}},
        "properties": {"a": {"$ref": "#/$defs/s"}},
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }
    path = write(tmp_path, "s.json", json.dumps(schema))
    compiled = compiled_for(path)
    assert compiled.fast is not None  # the ref target is compiled lazily, on first use
    assert compiled.is_valid({"a": "ab"}) and compiled.fast is None
    assert not compiled.is_valid({"a": "x"})


def test_validate_text_in_memory() -> None:
    from promoter.validate import validate_text

    assert validate_text(DEPLOYMENT.format(replicas=2), "d.yaml") == []
    (finding,) = validate_text(DEPLOYMENT.format(replicas="y"), "d.yaml")
    assert finding.file == "d.yaml" and finding.line == 6 and "boolean" in finding.message
    (finding,) = validate_text("images:\n  - name: a\n    newTag: 1.10\n", "app/kustomization.yaml")
    assert finding.kind == "Kustomization"
