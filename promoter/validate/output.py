"""Report formats for ``promoter validate``: text, json, github, junit.

``github`` prints workflow commands (``::error file=…,line=…,col=…::…``) so
findings annotate the pull request's diff; ``junit`` is a JUnit XML report,
one test suite per file and one test case per resource, which GitLab shows in
the merge request (``artifacts:reports:junit``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from xml.etree import ElementTree as ET

from promoter.validate.api import Report
from promoter.validate.findings import Finding

FORMATS = ("text", "json", "github", "junit")


def render(report: Report, fmt: str) -> str:
    if fmt == "text":
        return text(report)
    if fmt == "json":
        return as_json(report)
    if fmt == "github":
        return github(report)
    if fmt == "junit":
        return junit(report)
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")


def summary(report: Report) -> str:
    files = len(report.files)
    return (
        f"{report.resources} resource(s) in {files} file(s) checked with the "
        f"{report.backend} backend: {report.errors} error(s), {report.warnings} warning(s), "
        f"{report.skipped} skipped"
    )


def _line(f: Finding) -> str:
    where = f" {f.resource}" if f.resource else ""
    at = f" at {f.path}" if f.path else ""
    return f"{f.location}: {f.severity}: [{f.backend}]{where}{at}: {f.message}"


def text(report: Report) -> str:
    lines = [_line(f) for f in report.findings]
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    data = {
        "findings": [f.to_dict() for f in report.findings],
        "summary": {
            "files": len(report.files),
            "resources": report.resources,
            "errors": report.errors,
            "warnings": report.warnings,
            "skipped": report.skipped,
            "backend": report.backend,
            "valid": report.ok,
        },
    }
    return json.dumps(data, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(report: Report) -> str:
    command = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for f in report.findings:
        props = [f"file={_escape_property(f.file)}"]
        if f.line:
            props.append(f"line={f.line}")
            if f.column:
                props.append(f"col={f.column}")
        title = f"promoter validate ({f.backend})" + (f": {f.resource}" if f.resource else "")
        props.append(f"title={_escape_property(title)}")
        at = f"{f.path}: " if f.path else ""
        lines.append(f"::{command[f.severity]} {','.join(props)}::{_escape_data(at + f.message)}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def junit(report: Report) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_file[f.file].append(f)
    files = list(report.files) + [name for name in by_file if name not in report.files]
    root = ET.Element("testsuites", name="promoter validate")
    total = failures = skipped_total = 0
    for name in files:
        per_doc: dict[int, list[Finding]] = defaultdict(list)
        for f in by_file.get(name, []):
            per_doc[f.document].append(f)
        cases: list[tuple[str, str, list[Finding]]] = []
        if -1 in per_doc:  # findings about the whole file
            cases.append(("file", name, per_doc.pop(-1)))
        infos = {d.index: d for d in report.documents.get(name, [])}
        for index in sorted(set(infos) | set(per_doc)):
            items = per_doc.get(index, [])
            info = infos.get(index)
            kind = info.kind if info else (items[0].kind if items else "")
            api = info.api_version if info else (items[0].api_version if items else "")
            res = info.name if info else (items[0].name if items else "")
            label = f"{kind}/{res}" if kind and res else (kind or res or f"document {index}")
            cases.append((label, f"{kind}@{api}" if kind else name, items))
        suite = ET.SubElement(root, "testsuite", name=name)
        fails = skips = 0
        for label, classname, items in cases:
            case = ET.SubElement(suite, "testcase", name=label, classname=classname)
            errors = [f for f in items if f.is_error]
            if errors:
                fails += 1
                failure = ET.SubElement(
                    case, "failure", message=errors[0].message, type=errors[0].backend
                )
                failure.text = "\n".join(_line(f) for f in errors)
            elif any(f.skipped for f in items):
                skips += 1
                ET.SubElement(case, "skipped", message=items[0].message)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        suite.set("skipped", str(skips))
        total += len(cases)
        failures += fails
        skipped_total += skips
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped_total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
