"""Where the JSON schema for an (apiVersion, kind) lives: shipped files and user locations.

Lookup order: the user's ``--schema-location`` entries in the order given
(so a user can override a shipped schema), then the shipped Kubernetes
schemas of the chosen version, then the shipped CRD schemas. Everything is
local: an ``http(s)://`` location is refused here (the kubeconform backend
may pass it on, because there the user asked for it explicitly).

A location is either a template in kubeconform's syntax
(``dir/{{ .ResourceKind }}{{ .KindSuffix }}.json``), a template with short
placeholders (``dir/{kind}-{group}-{version}.json``), or a plain directory,
in which these layouts are tried in turn:
``<dir>/v<K8S>-standalone-strict/<kind><kindsuffix>.json`` (kubeconform's own
rule), ``<dir>/<kind><kindsuffix>.json`` (flat) and
``<dir>/<group>/<kind>_<version>.json`` (the CRDs-catalog layout).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_ROOT = Path(__file__).resolve().parent.parent / "schemas" / "kubernetes"
SHIPPED_CRDS = SHIPPED_ROOT / "crds"
DEFAULT_KUBERNETES_VERSION = "1.33.0"

_GO_VAR = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_SHORT_VAR = re.compile(r"\{(\w+)\}")
_VERSION_DIR = re.compile(r"v(\d+\.\d+\.\d+)-standalone-strict\Z")

# kubeconform's template variables, and the short names we accept too.
_SHORT_NAMES = {
    "kind": "ResourceKind",
    "kindsuffix": "KindSuffix",
    "group": "Group",
    "version": "ResourceAPIVersion",
    "apiversion": "ResourceAPIVersion",
    "k8sversion": "NormalizedKubernetesVersion",
    "strictsuffix": "StrictSuffix",
}
_KNOWN_VARS = frozenset(_SHORT_NAMES.values())
_DIR_LAYOUTS = (
    "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json",
    "{{ .ResourceKind }}{{ .KindSuffix }}.json",
    "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
)


class SchemaConfigError(ValueError):
    """A bad ``--kubernetes-version`` or ``--schema-location`` (a usage error)."""


def shipped_versions() -> list[str]:
    """Kubernetes versions whose schemas ship in the package, e.g. ``["1.33.0"]``."""
    out = []
    if SHIPPED_ROOT.is_dir():
        for child in SHIPPED_ROOT.iterdir():
            m = _VERSION_DIR.match(child.name)
            if m and child.is_dir():
                out.append(m.group(1))
    return sorted(out, key=lambda v: tuple(int(p) for p in v.split(".")))


def normalise_version(version: str) -> str:
    """``v1.33`` / ``1.33.0`` -> ``1.33.0``; raise ``SchemaConfigError`` when not shipped."""
    v = version.strip().lstrip("v")
    if re.fullmatch(r"\d+\.\d+", v):
        v += ".0"
    shipped = shipped_versions()
    if v not in shipped:
        raise SchemaConfigError(
            f"no schemas for Kubernetes {version!r} are shipped (available: "
            f"{', '.join(shipped) or 'none'}); pass one of those to --kubernetes-version, "
            "or add a directory with --schema-location"
        )
    return v


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, sep, version = api_version.rpartition("/")
    return (group, version) if sep else ("", api_version)


def template_values(api_version: str, kind: str, kubernetes_version: str) -> dict[str, str]:
    group, version = split_api_version(api_version)
    first = group.split(".", 1)[0]
    suffix = f"-{first}-{version}" if group else f"-{version}"
    return {
        "ResourceKind": kind.lower(),
        "KindSuffix": suffix.lower(),
        "Group": group,
        "ResourceAPIVersion": version,
        "NormalizedKubernetesVersion": f"v{kubernetes_version}",
        "StrictSuffix": "-strict",
    }


def render(template: str, values: dict[str, str]) -> str:
    text = _GO_VAR.sub(lambda m: values[m.group(1)], template)
    return _SHORT_VAR.sub(lambda m: values[_SHORT_NAMES[m.group(1).lower()]], text)


def check_template(template: str) -> None:
    for m in _GO_VAR.finditer(template):
        if m.group(1) not in _KNOWN_VARS:
            raise SchemaConfigError(
                f"schema location {template!r}: unknown variable {{{{ .{m.group(1)} }}}} "
                f"(known: {', '.join(sorted(_KNOWN_VARS))})"
            )
    for m in _SHORT_VAR.finditer(_GO_VAR.sub("", template)):
        if m.group(1).lower() not in _SHORT_NAMES:
            raise SchemaConfigError(
                f"schema location {template!r}: unknown placeholder {{{m.group(1)}}} "
                f"(known: {', '.join('{' + k + '}' for k in _SHORT_NAMES)})"
            )


def is_template(location: str) -> bool:
    return bool(_GO_VAR.search(location) or _SHORT_VAR.search(location))


@dataclass
class SchemaRegistry:
    """Finds schema files; results are cached per (apiVersion, kind)."""

    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    locations: Sequence[str] = ()
    _templates: list[str] = field(default_factory=list, init=False)
    _cache: dict[tuple[str, str], Path | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.kubernetes_version = normalise_version(self.kubernetes_version)
        templates: list[str] = []
        for location in self.locations:
            if location == "default":
                continue  # "the shipped ones", which are always searched
            if location.startswith(("http://", "https://")):
                raise SchemaConfigError(
                    f"schema location {location!r} is remote; the schema backend is offline. "
                    "Download the schemas into a directory and pass that directory"
                )
            templates.extend(self._expand(location))
        version_dir = SHIPPED_ROOT / f"v{self.kubernetes_version}-standalone-strict"
        templates.append(str(version_dir / "{{ .ResourceKind }}{{ .KindSuffix }}.json"))
        crd_layout = "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
        templates.append(str(SHIPPED_CRDS / "{{ .Group }}" / crd_layout))
        self._templates = templates

    @staticmethod
    def _expand(location: str) -> list[str]:
        if is_template(location):
            check_template(location)
            return [location]
        if location.endswith(".json"):
            raise SchemaConfigError(
                f"schema location {location!r} names one file; give a directory or a template "
                "such as 'dir/{{ .ResourceKind }}{{ .KindSuffix }}.json'"
            )
        base = Path(location)
        if not base.is_dir():
            raise SchemaConfigError(
                f"schema location {location!r} is not a directory; create it or fix the path"
            )
        return [str(base / layout) for layout in _DIR_LAYOUTS]

    def find(self, api_version: str, kind: str) -> Path | None:
        key = (api_version, kind)
        if key in self._cache:
            return self._cache[key]
        values = template_values(api_version, kind, self.kubernetes_version)
        found: Path | None = None
        for template in self._templates:
            candidate = Path(render(template, values))
            if candidate.is_file():
                found = candidate
                break
        self._cache[key] = found
        return found

    def kubeconform_locations(self) -> list[str]:
        """The same search path as kubeconform ``-schema-location`` arguments.

        Short placeholders become kubeconform's variables and the Kubernetes
        version is filled in here, so no ``-kubernetes-version`` is needed.
        ``default`` (kubeconform's remote default) is kept where the user put
        it: it is the only way a download can happen.
        """
        out: list[str] = []
        user = iter(self._templates)
        for location in self.locations:
            if location == "default":
                out.append("default")
                continue
            for _ in self._expand(location):
                out.append(self._for_kubeconform(next(user)))
        out.extend(self._for_kubeconform(t) for t in list(user))
        return out

    def _for_kubeconform(self, template: str) -> str:
        # `{kind}` cannot match inside `{{ .ResourceKind }}` (space and dot), so one pass is safe.
        text = _SHORT_VAR.sub(
            lambda m: "{{ ." + _SHORT_NAMES[m.group(1).lower()] + " }}", template
        )
        return text.replace("{{ .NormalizedKubernetesVersion }}", f"v{self.kubernetes_version}")
