"""``promoter set-image PATH... --image REF``: change image tags/digests in place.

:func:`run` is the command's body and output; :data:`command` is its click declaration
(help, options, usage errors), built on first use so that the console script's fast
path (:mod:`promoter.entry`), which calls :func:`run` directly, never imports click.
Output is written as is to ``sys.stdout``/``sys.stderr`` (flushed after each write, as
click.echo does, but without click.echo's removal of ANSI escapes from piped output:
a diff shows the file's bytes) on both paths.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    import click

    from promoter.setimage import SetImageResult
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


def _echo(stream: TextIO | None, text: str) -> None:
    if stream is None or not text:  # no stdout at all (started with it closed): as click.echo
        return
    stream.write(text)
    stream.flush()


def run(
    paths: Sequence[str],
    images: Sequence[str],
    *,
    keys: Sequence[str] = (),
    add: bool = False,
    dry_run: bool = False,
    diff: bool = False,
    output: str = "text",
) -> int:
    """Run ``promoter set-image`` and print its report; return the exit status (0 or 1).

    Raises ``ValueError`` (InvalidReference, UsageError, KeyPathError) for a usage error;
    the click command turns it into click's usage error (exit 2)."""
    from promoter.setimage import set_image

    result = set_image(list(paths), list(images), keys=keys, add=add, dry_run=dry_run, diff=diff)
    for warning in result.warnings:
        _echo(sys.stderr, f"warning: {warning}\n")
    if output == "json":
        import json

        _echo(sys.stdout, json.dumps([edit_json(e) for e in result.edits], indent=2) + "\n")
    else:
        _echo(sys.stdout, render_text(result, dry_run))
        if diff and result.diff:
            _echo(sys.stdout, result.diff)
    for error in result.errors:
        _echo(sys.stderr, f"{error}\n")
    return 1 if result.errors else 0


def build_command() -> click.Command:
    """The click declaration of ``set-image`` (the single source of its help and errors)."""
    import click

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
    @click.option(
        "--add", is_flag=True, help="Append a kustomize images: entry where none matches."
    )
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
        try:
            code = run(
                paths, images, keys=keys, add=add, dry_run=dry_run, diff=diff, output=output
            )
        except ValueError as exc:  # InvalidReference, UsageError, KeyPathError
            raise click.UsageError(str(exc)) from None
        if code:
            sys.exit(code)

    return command


def __getattr__(name: str) -> click.Command:
    """``command`` is built on first access (PEP 562), keeping click off the fast path."""
    if name != "command":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cmd = build_command()
    globals()["command"] = cmd
    return cmd


def render_text(result: SetImageResult, dry_run: bool) -> str:
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
