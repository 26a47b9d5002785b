"""Command-line entry point.

Each sub-command lives in ``promoter/commands/<name>.py`` and exposes a click
command named ``command``. They are imported only when invoked (or when
``--help`` of that sub-command is asked for) so that ``promoter --help`` does
not pay for PyGithub, python-gitlab, jsonschema or the YAML engine.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from promoter import __version__

# name -> (module, one-line help). The help is duplicated here on purpose: the
# top-level --help must not import the modules to learn it.
COMMANDS: dict[str, tuple[str, str]] = {
    "set-image": ("promoter.commands.set_image", "Change image tags/digests in files, in place."),
    "validate": ("promoter.commands.validate", "Validate manifests (lint, schemas, kustomize)."),
    "promote": ("promoter.commands.promote", "Promote an image into a git repo (PR or push)."),
    "sandbox": ("promoter.commands.sandbox", "Run the local git + GitHub/GitLab API sandbox."),
    "demo": ("promoter.commands.demo", "A one-command tour on the bundled example tree."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        try:
            module = importlib.import_module(entry[0])
        except ModuleNotFoundError as exc:
            if exc.name != entry[0]:
                raise
            return None
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promoter")
def main() -> None:
    """Promote container images into GitOps manifest repositories through pull requests."""


def run(argv: list[str] | None = None) -> Any:
    return main.main(args=argv, prog_name="promoter", standalone_mode=False)
