"""Validate recorded sandbox GitHub responses against GitHub's OpenAPI subset (test helper).

Used by test_contract_github.py (which reports the count) and by the GitHub
end-to-end tests, so every response those tests provoke is checked too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "contracts" / "github"


def nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` -> ``anyOf [..., null]``; drop example/discriminator."""
    if isinstance(node, list):
        return [nullable_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_to_jsonschema(v) for k, v in node.items()
           if k not in ("example", "examples", "x-github-breaking-changes", "discriminator")}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _rebase_refs(node: Any) -> Any:
    if isinstance(node, list):
        return [_rebase_refs(n) for n in node]
    if isinstance(node, dict):
        return {k: ("urn:github" + v if k == "$ref" and v.startswith("#") else _rebase_refs(v))
                for k, v in node.items()}
    return node


class Contract:
    def __init__(self, doc: dict[str, Any]) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.doc = doc
        self.ops: dict[str, dict[str, Any]] = {}
        for path_item in doc["paths"].values():
            for op in path_item.values():
                if isinstance(op, dict) and "operationId" in op:
                    self.ops[op["operationId"]] = op
        converted = nullable_to_jsonschema(copy.deepcopy(doc["components"]))
        resource = Resource.from_contents({"components": converted}, default_specification=DRAFT4)
        self.registry = Registry().with_resource("urn:github", resource)

    @classmethod
    def load(cls) -> Contract | None:
        path = CONTRACTS / "openapi-subset.json"
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def schema(self, operation: str, status: int) -> dict[str, Any] | None:
        op = self.ops.get(operation)
        if op is None:
            return None
        resp = op["responses"].get(str(status))
        if resp is None:
            if status >= 400:
                # statuses GitHub does not list per operation (401, 404...) use basic-error
                return {"$ref": "urn:github#/components/schemas/basic-error"}
            raise AssertionError(f"{operation} answered {status}, which GitHub never does")
        if "$ref" in resp:
            resp = self.doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        content = resp.get("content", {}).get("application/json")
        if content is None:
            return {}
        return dict(_rebase_refs(nullable_to_jsonschema(copy.deepcopy(content["schema"]))))

    def errors(self, schema: dict[str, Any], body: Any) -> list[str]:
        from jsonschema import Draft4Validator

        validator = Draft4Validator(schema, registry=self.registry)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                for e in validator.iter_errors(body)]


def urls(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [u for v in node.values() for u in urls(v)]
    if isinstance(node, list):
        return [u for v in node for u in urls(v)]
    return [node] if isinstance(node, str) and "://" in node else []


def validate_all(contract: Contract, records: list[Any], base_url: str) -> tuple[int, set[str]]:
    """Validate recorded responses; returns (count validated, operations). Raises on failure."""
    failures: list[str] = []
    validated = 0
    operations: set[str] = set()
    for rec in records:
        schema = contract.schema(rec.operation, rec.status)
        if schema is None:
            continue  # GraphQL and App endpoints are outside the REST subset
        body = json.loads(rec.body) if rec.body else None
        if rec.status == 204:
            assert body is None, f"{rec.operation} 204 with a body"
        else:
            failures += [f"{rec.operation} {rec.status}: {e}"
                         for e in contract.errors(schema, body)]
        for url in urls(body):
            if url.startswith("http") and not url.startswith("https://docs.github.com"):
                assert url.startswith(base_url), f"{rec.operation}: {url} is not on {base_url}"
        headers = {k.lower(): v for k, v in rec.headers}
        assert "x-ratelimit-remaining" in headers and "x-ratelimit-reset" in headers
        validated += 1
        operations.add(rec.operation)
    assert not failures, "\n".join(failures[:30])
    print(f"[contract-validated] {validated}")  # summed over a run by `pytest -s | grep`
    return validated, operations
