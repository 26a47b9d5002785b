"""What promoter's image references and target plug-ins cost every ``set-image`` run.

Every run imports :mod:`promoter.imageref` and :mod:`promoter.targets` (all targets).
They keep to what the run needs: no ``typing``/``dataclasses``/``inspect`` at run time
(the ``Target`` protocol exists for the type checker only; the records are plain
slotted classes) and no regular expression compiled unless ``--key`` is given. This
test runs real ``set_image`` calls over every target in a fresh interpreter and
records which modules these files import and which patterns they compile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import builtins, json, re, sys

MINE = ("promoter.imageref", "promoter.targets")
imports, compiled = [], []


def mine(name):
    return name is not None and name.startswith(MINE)


real_import = builtins.__import__


def audit_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__")
    if mine(importer) and name.split(".")[0] in ("typing", "dataclasses", "inspect", "re"):
        imports.append([importer, name])
    return real_import(name, globals, locals, fromlist, level)


real_compile = re._compile


def audit_compile(pattern, flags):
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("re"):
        frame = frame.f_back
    caller = frame.f_globals.get("__name__") if frame is not None else None
    if mine(caller):
        compiled.append([caller, str(pattern)])
    return real_compile(pattern, flags)


builtins.__import__ = audit_import
re._compile = audit_compile

from promoter.setimage import set_image

result = set_image([sys.argv[1]], ["ghcr.io/acme/web:2.0"], add=True)
assert len(result.edits) >= 6, result
imports_before_key = list(imports)
compiled_before_key = list(compiled)
set_image([sys.argv[1]], ["ghcr.io/acme/web:3.0"], keys=["app.image.tag"])
print(json.dumps({
    "imports": imports_before_key,
    "compiled": compiled_before_key,
    "compiled_with_key": compiled,
    "loaded": sorted(m for m in sys.modules if m.startswith("promoter.targets")),
}))
"""

FILES = {
    "deploy.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0\n"
    ),
    "kustomization.yaml": "images:\n  - name: ghcr.io/acme/web\n    newTag: '1.0'\n",
    "values.yaml": "app:\n  image:\n    repository: ghcr.io/acme/web\n    tag: 1.0\n",
    "marked.yaml": "web:\n  version: 1.0  # promoter: ghcr.io/acme/web:tag\n",
    "helmrelease.yaml": (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\n"
        "spec:\n  values:\n    image: ghcr.io/acme/web:1.0\n"
    ),
    "application.yaml": (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n"
        "  source:\n    helm:\n      parameters:\n        - name: image.repository\n"
        "          value: ghcr.io/acme/web\n        - name: image.tag\n          value: '1.0'\n"
    ),
}


def test_targets_import_no_typing_and_compile_no_regex(tmp_path: Path) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    seen = json.loads(out)
    assert seen["imports"] == []
    assert seen["compiled"] == []
    assert {caller for caller, _ in seen["compiled_with_key"]} == {"promoter.targets.keypath"}
    assert "promoter.targets.keypath" in seen["loaded"]  # the run really went through targets
