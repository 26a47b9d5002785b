"""``promoter set-image PATH... --image REF``: change image tags/digests in place."""

from __future__ import annotations

import sys

import click

from promoter.yamledit.model import Edit


def _value(text: str | None, missing: str) -> str:
    return missing if text is None else text


def format_edit(edit: Edit) -> str:
    old = _value(edit.old, "(none)")
    new = _value(edit.new, "(removed)")
    return f"{edit.file}:{edit.line}: {old} -> {new}"


def edit_json(edit: Edit) -> dict[str, object]:
    return {
        "file": edit.file,
        "line": edit.line,
        "column": edit.column,
        "target": edit.target,
        "path": edit.path,
        "old": edit.old,
        "new": edit.new,
        "document": edit.document,
        "note": edit.note,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command(
    "set-image",
    help="Change image tags/digests in place, touching no other byte.\n\n"
    "PATH is a file or a directory (searched recursively for *.yaml, *.yml and "
    "Kustomization; .git skipped). Exit status: 0 ran (changed or already up to date), "
    "1 a file could not be processed, 2 usage error or invalid reference.",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH...")
@click.option(
    "--image", "images", multiple=True, required=True, metavar="REF",
    help="New reference, e.g. ghcr.io/acme/web:1.5.0 or repo@sha256:... (repeatable).",
)
@click.option(
    "--key", "keys", multiple=True, metavar="DOTTED.PATH",
    help="Also set this key path (e.g. image.tag, sidecars[0].image); needs one --image.",
)
@click.option("--add", is_flag=True, help="Append a kustomize images: entry where none matches.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--diff", is_flag=True, help="Print a unified diff of the changes (text output).")
@click.option(
    "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="json: a list of edits (file, line, column, target, path, old, new).",
)
def command(
    paths: tuple[str, ...],
    images: tuple[str, ...],
    keys: tuple[str, ...],
    add: bool,
    dry_run: bool,
    diff: bool,
    output: str,
) -> None:
    from promoter.setimage import set_image

    try:
        result = set_image(
            list(paths), list(images), keys=keys, add=add, dry_run=dry_run, diff=diff
        )
    except ValueError as exc:  # InvalidReference, UsageError, KeyPathError
        raise click.UsageError(str(exc)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output == "json":
        import json

        click.echo(json.dumps([edit_json(e) for e in result.edits], indent=2))
    else:
        click.echo(render_text(result, dry_run), nl=False)
        if diff and result.diff:
            click.echo(result.diff, nl=False)
    for error in result.errors:
        click.echo(str(error), err=True)
    if result.errors:
        sys.exit(1)


def render_text(result: object, dry_run: bool) -> str:
    from promoter.setimage import SetImageResult

    assert isinstance(result, SetImageResult)
    lines: list[str] = []
    for edit in result.edits:
        lines.append(format_edit(edit))
        if edit.note:
            lines.append(f"  note: {edit.note}")
    for pin in result.up_to_date:
        lines.append(f"{pin.file}:{pin.line}: {pin.old} (up to date)")
    files = len(result.changed_files)
    if result.edits:
        summary = f"{_plural(len(result.edits), 'change')} in {_plural(files, 'file')}"
        if dry_run:
            summary += " (dry run: nothing written)"
        lines.append(summary)
    elif result.up_to_date:
        lines.append(f"already up to date: {_plural(len(result.up_to_date), 'pin')}")
    return "".join(f"{line}\n" for line in lines)
