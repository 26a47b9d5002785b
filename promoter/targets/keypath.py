"""Explicit key paths: ``--key image.tag``, ``--key app.containers[0].image``.

A key path is dotted with ``[n]`` sequence indexes. It is looked up from the root of
every document, from every Helm values root inside a document (Flux ``HelmRelease``
``spec.values``, Argo CD ``helm.valuesObject``) and as a parameter name in Argo CD
``helm.parameters``. A file where the key does not exist is not an error (the key
may live in only one environment's values).

What the field receives: when its current value is a reference of a requested
repository, the whole new reference (repository spelled as in the file); otherwise
when the last segment is ``digest`` (any case), the new digest (left alone when the
new reference has none); otherwise the new tag. The caller requires exactly one
``--image`` when ``--key`` is given, so there is no doubt which image a tag belongs to.
"""

from __future__ import annotations

from promoter.targets.base import Request
from promoter.targets.common import editable, get_path, root_mapping, whole_ref
from promoter.yamledit.model import (
    Change,
    Document,
    Node,
    ParsedFile,
    Scalar,
    SetScalar,
    format_path,
)

# Compiled on first use (re caches them): most runs have no --key and need neither.
_FULL = r"(?:[^.\[\]]+|\[\d+\])(?:\.[^.\[\]]+|\[\d+\])*\Z"
_TOKEN = r"[^.\[\]]+|\[(\d+)\]"


class KeyPathError(ValueError):
    """A ``--key`` that is not a dotted path."""


def parse_key(text: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``; raise :class:`KeyPathError` when malformed."""
    import re

    if not re.match(_FULL, text):
        raise KeyPathError(
            f"invalid --key {text!r}: use dotted keys with [n] indexes, e.g. image.tag "
            "or sidecars[0].image"
        )
    return tuple(
        int(m.group(1)) if m.group(1) is not None else m.group(0) for m in re.finditer(_TOKEN, text)
    )


def last_segment(text: str) -> str:
    """The last key name of a path (the pre-filter looks for it in the file's bytes)."""
    names = [p for p in parse_key(text) if isinstance(p, str)]
    return names[-1] if names else text


def _value_change(
    node: Node | None, path: tuple[str | int, ...], request: Request, file: str
) -> list[Change]:
    scalar = editable(node)
    if scalar is None:
        return []
    return _scalar_change(scalar, path, request, file)


def _scalar_change(
    scalar: Scalar, path: tuple[str | int, ...], request: Request, file: str
) -> list[Change]:
    from promoter.imageref import try_parse
    from promoter.targets.common import match

    found = match(scalar.value, request)
    if found is not None:
        text, note = whole_ref(*found)
        return [SetScalar(scalar, text, KeyPathTarget.name, note)]
    image = request.images[0]
    other = try_parse(scalar.value) if ":" in scalar.value or "@" in scalar.value else None
    if other is not None and (other.tag or other.digest):
        from promoter.yamledit.parse import YamlError

        # a reference of another image: writing a bare tag here would break it
        raise YamlError(
            file, scalar.span.line, scalar.span.column,
            f"--key {format_path(path)} holds {scalar.value!r}, an image other than "
            f"{image.name}: nothing changed; check the key or the --image",
        )
    last = path[-1] if path else ""
    if isinstance(last, str) and last.lower() == "digest":
        if image.digest is None:
            return []
        return [SetScalar(scalar, image.digest, KeyPathTarget.name)]
    if image.tag is None:
        return []
    return [SetScalar(scalar, image.tag, KeyPathTarget.name)]


class KeyPathTarget:
    name = "keypath"

    def changes(self, pf: ParsedFile, doc: Document, request: Request) -> list[Change]:
        if not request.keys:
            return []
        from promoter.targets.argocd import sources
        from promoter.targets.helmrelease import is_helmrelease

        roots: list[Node | None] = [doc.root]
        root = root_mapping(doc)
        if root is not None and is_helmrelease(root):
            roots.append(get_path(root, "spec", "values"))
        argo = sources(pf, doc)
        for source in argo:
            roots.append(get_path(source, "helm", "valuesObject"))
        out: list[Change] = []
        for key in request.keys:
            path = parse_key(key)
            for start in roots:
                if start is not None:
                    out.extend(_value_change(get_path(start, *path), path, request, pf.name))
            for source in argo:
                out.extend(self._parameter(source, key, path, request, pf.name))
        return out

    def _parameter(
        self, source: Node, key: str, path: tuple[str | int, ...], request: Request, file: str
    ) -> list[Change]:
        from promoter.targets.argocd import parameters

        value = parameters(get_path(source, "helm", "parameters")).get(key)
        return _scalar_change(value, path, request, file) if value is not None else []
