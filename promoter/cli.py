"""Command-line entry point.

Each sub-command lives in ``promoter/commands/<name>.py`` and exposes a click
command named ``command``. They are imported only when invoked (or when
``--help`` of that sub-command is asked for) so that ``promoter --help`` does
not pay for PyGithub, python-gitlab, jsonschema or the YAML engine.

Click itself is imported only when it has work to do: :data:`main` (the console
script, ``promoter = promoter.cli:main``) first lets :mod:`promoter.entry` run the
common forms of ``promoter set-image`` without it (~15-25 ms saved per run) and hands
everything else to :func:`group`, the click group that defines the CLI. For click's
own tooling (``CliRunner().invoke(main, ...)``) :data:`main` behaves as that group.
"""

from __future__ import annotations

from promoter import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    import click

# name -> (module, one-line help). The help is duplicated here on purpose: the
# top-level --help must not import the modules to learn it.
COMMANDS: dict[str, tuple[str, str]] = {
    "set-image": ("promoter.commands.set_image", "Change image tags/digests in files, in place."),
    "validate": ("promoter.commands.validate", "Validate manifests (lint, schemas, kustomize)."),
    "promote": ("promoter.commands.promote", "Promote an image into a git repo (PR or push)."),
    "sandbox": ("promoter.commands.sandbox", "Run the local git + GitHub/GitLab API sandbox."),
    "demo": ("promoter.commands.demo", "A one-command tour on the bundled example tree."),
}

_group: click.Group | None = None


def group() -> click.Group:
    """The ``promoter`` click group (built once, on first use)."""
    global _group
    if _group is None:
        _group = _build_group()
    return _group


def _build_group() -> click.Group:
    import importlib

    import click

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

    return main


class _Main:
    """``promoter.cli.main``: called with no arguments (the console script) it is
    :func:`promoter.entry.main`; anything else (``main(args)``, ``main.main(...)``,
    ``CliRunner().invoke(main, ...)``, attributes) is the click group's."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            from promoter.entry import main as entry_main

            return entry_main(hard_exit=True)
        return group()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(group(), name)


main = _Main()


def run(argv: list[str] | None = None) -> Any:
    return group().main(args=argv, prog_name="promoter", standalone_mode=False)
