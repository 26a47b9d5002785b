"""``promoter demo``: a one-command tour on the bundled example tree.

Interim version (no git, no forge): copy ``promoter/examples/shop`` to a temporary
directory, run ``set-image`` on it with a new image, print what changed and the
unified diff, then run it again to show that a second run changes nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

DEFAULT_IMAGE = "ghcr.io/acme/web:1.10"


def example_tree() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "shop"


@click.command("demo", help="A one-command tour: set-image on a copy of the bundled example tree.")
@click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True, metavar="REF",
    help="The image to promote into the example tree.",
)
@click.option("--keep", is_flag=True, help="Keep the temporary copy (its path is printed).")
def command(image: str, keep: bool) -> None:
    from promoter.commands.set_image import render_text
    from promoter.setimage import set_image

    work = Path(tempfile.mkdtemp(prefix="promoter-demo-"))
    tree = work / "shop"
    shutil.copytree(example_tree(), tree)
    here = os.getcwd()
    os.chdir(work)  # so that file names print as shop/...
    try:
        click.echo(f"# example GitOps tree copied to {tree}")
        click.echo("# (a Deployment, a kustomize overlay pinning a digest, Helm values,")
        click.echo("#  a Flux HelmRelease with CRLF line endings, an Argo CD Application)")
        click.echo(f"\n$ promoter set-image shop --image {image} --diff")
        result = set_image(["shop"], [image], diff=True)
        click.echo(render_text(result, dry_run=False), nl=False)
        for error in result.errors:
            click.echo(str(error), err=True)
        click.echo(f"\n{result.diff}", nl=False)
        click.echo("\n# Only the pinned values changed: comments, quotes, CRLF, indentation kept;")
        click.echo("# a tag YAML reads as a number (like 1.10) is quoted where it was plain;")
        click.echo("# the production digest no longer matches the new tag, so it was removed.")
        click.echo(f"\n$ promoter set-image shop --image {image}   # again")
        again = set_image(["shop"], [image])
        click.echo(render_text(again, dry_run=False), nl=False)
    finally:
        os.chdir(here)
        if keep:
            click.echo(f"\n# kept: {tree}")
        else:
            shutil.rmtree(work, ignore_errors=True)
