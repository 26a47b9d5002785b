"""Shared pieces of the validation tests: a Deployment template and file writers."""

from __future__ import annotations

from pathlib import Path

# ``replicas`` is a format field: tests put valid and invalid values there.
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.4.2
"""


def write(root: Path, name: str, text: str) -> Path:
    """Write ``root/name`` (parents made); returns its path."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write every ``name: text`` under ``root``; returns ``root``."""
    for name, text in files.items():
        write(root, name, text)
    return root
