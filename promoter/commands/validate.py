"""``promoter validate PATH...``: lint, schema-check (and optionally render) manifests.

Exit status: 0 when no error was found, 3 when any was, 2 for usage errors.
"""

from __future__ import annotations

import sys

import click

from promoter.validate.registry import DEFAULT_KUBERNETES_VERSION

EXIT_FINDINGS = 3


@click.command(
    "validate",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--backend",
    type=click.Choice(["auto", "schema", "kubeconform"]),
    default="auto",
    show_default=True,
    help="Schema backend: kubeconform when found (auto), or the built-in pure-Python one.",
)
@click.option(
    "--render-kustomize",
    is_flag=True,
    help="Also render every kustomization root found (no plugins, no network) and validate "
    "the output.",
)
@click.option(
    "--kubernetes-version",
    default=DEFAULT_KUBERNETES_VERSION,
    show_default=True,
    help="Kubernetes version whose shipped schemas are used.",
)
@click.option(
    "--schema-location",
    "schema_locations",
    multiple=True,
    metavar="DIR|TEMPLATE",
    help="Extra schemas (e.g. your CRDs): a directory or a kubeconform-style template such "
    "as 'dir/{{ .ResourceKind }}{{ .KindSuffix }}.json'. Repeatable; searched first.",
)
@click.option(
    "--strict-kinds",
    is_flag=True,
    help="A kind without a schema is an error (default: reported as skipped).",
)
@click.option(
    "--kubeconform",
    "kubeconform",
    metavar="PATH",
    default=None,
    help="The kubeconform binary to use (default: looked up on PATH).",
)
@click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json", "github", "junit"]),
    default="text",
    show_default=True,
    help="Report format: github prints workflow commands that annotate the PR diff; "
    "junit is a JUnit XML report for GitLab merge requests.",
)
def command(
    paths: tuple[str, ...],
    backend: str,
    render_kustomize: bool,
    kubernetes_version: str,
    schema_locations: tuple[str, ...],
    strict_kinds: bool,
    kubeconform: str | None,
    output_format: str,
) -> None:
    """Validate Kubernetes manifests in PATH... (files or directories).

    YAML problems (parse errors, duplicate keys, tabs) are reported with
    file:line:column, schema errors at the line of the offending key.
    Everything runs offline against schemas shipped with promoter.
    """
    from promoter.validate.api import run
    from promoter.validate.output import render
    from promoter.validate.registry import SchemaConfigError

    try:
        report = run(
            list(paths),
            backend=backend,
            render_kustomize=render_kustomize,
            kubernetes_version=kubernetes_version,
            schema_locations=schema_locations,
            strict_kinds=strict_kinds,
            kubeconform=kubeconform,
        )
    except SchemaConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(render(report, output_format), nl=False)
    if not report.ok:
        sys.exit(EXIT_FINDINGS)
