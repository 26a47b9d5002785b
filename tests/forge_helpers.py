"""Shared pieces of the forge end-to-end tests (GitHub and GitLab)."""

from __future__ import annotations


def deployment(image: str) -> str:
    """A one-container Deployment ``web`` pinning ``image`` (quoted, with a comment)."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: "{image}"   # promoted by CI
"""
