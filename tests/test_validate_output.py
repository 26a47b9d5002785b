"""Report formats: escaping of GitHub workflow commands, JUnit structure, JSON summary."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from promoter.validate.api import DocumentInfo, Report
from promoter.validate.findings import Finding
from promoter.validate.output import render


def report() -> Report:
    findings = [
        Finding(
            severity="error",
            file="dir/a,b:c.yaml",
            message="line one\nline two 100%",
            backend="schema",
            line=7,
            column=3,
            document=0,
            api_version="apps/v1",
            kind="Deployment",
            name="web",
            path="/spec/replicas",
        ),
        Finding(
            severity="info",
            file="w.yaml",
            message="no schema for Widget",
            backend="schema",
            line=1,
            column=1,
            document=0,
            kind="Widget",
            name="w",
            skipped=True,
        ),
    ]
    return Report(
        findings=findings,
        files=["dir/a,b:c.yaml", "w.yaml", "ok.yaml"],
        resources=4,
        documents={
            "dir/a,b:c.yaml": [DocumentInfo(0, "apps/v1", "Deployment", "web")],
            "w.yaml": [DocumentInfo(0, "example.com/v1", "Widget", "w")],
            "ok.yaml": [
                DocumentInfo(0, "v1", "Service", "web"),
                DocumentInfo(1, "v1", "ConfigMap", "c"),
            ],
        },
    )


def test_github_workflow_commands_are_escaped() -> None:
    lines = render(report(), "github").splitlines()
    assert lines[0] == (
        "::error file=dir/a%2Cb%3Ac.yaml,line=7,col=3,"
        "title=promoter validate (schema)%3A Deployment/web::"
        "/spec/replicas: line one%0Aline two 100%25"
    )
    assert lines[1].startswith("::notice file=w.yaml,line=1,col=1,")


def test_junit_lists_every_resource() -> None:
    root = ET.fromstring(render(report(), "junit").split("\n", 1)[1])
    assert root.get("tests") == "4" and root.get("failures") == "1" and root.get("skipped") == "1"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"dir/a,b:c.yaml", "w.yaml", "ok.yaml"}
    failed = suites["dir/a,b:c.yaml"].find("testcase")
    assert failed is not None and failed.get("classname") == "Deployment@apps/v1"
    failure = failed.find("failure")
    assert failure is not None and "line one" in (failure.get("message") or "")
    names = [c.get("name") for c in suites["ok.yaml"].iter("testcase")]
    assert names == ["Service/web", "ConfigMap/c"]


def test_json_and_text() -> None:
    data = json.loads(render(report(), "json"))
    assert data["summary"] == {
        "files": 3,
        "resources": 4,
        "errors": 1,
        "warnings": 0,
        "skipped": 1,
        "backend": "schema",
        "valid": False,
    }
    assert data["findings"][0]["path"] == "/spec/replicas"
    text = render(report(), "text")
    assert text.startswith("dir/a,b:c.yaml:7:3: error: [schema] Deployment/web at /spec/replicas:")
    assert text.rstrip().endswith("1 error(s), 0 warning(s), 1 skipped")
