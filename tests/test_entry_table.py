"""The fast path's option table (promoter.entry) is the click command's, parameter by parameter."""

from __future__ import annotations

import click

from promoter import entry
from promoter.cli import group
from promoter.commands.set_image import command


def test_option_table_matches_the_click_command() -> None:
    options = [p for p in command.params if isinstance(p, click.Option)]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    declared = {}
    ctx = click.Context(command)
    for opt in options:
        assert len(opt.opts) == 1 and not opt.secondary_opts, opt.opts  # no aliases to forget
        if opt.is_flag:
            kind, choices = entry.FLAG, ()
            assert opt.get_default(ctx) is False and not opt.multiple
        elif opt.multiple:
            kind, choices = entry.MULTIPLE, ()
            assert opt.nargs == 1 and isinstance(opt.type, click.types.StringParamType)
        else:
            assert isinstance(opt.type, click.Choice), opt.name
            kind, choices = entry.CHOICE, tuple(opt.type.choices)
            assert opt.get_default(ctx) == entry.DEFAULT_OUTPUT and opt.nargs == 1
            assert opt.type.case_sensitive
        assert opt.envvar is None and opt.callback is None and not opt.is_eager
        declared[opt.opts[0]] = (opt.name, kind, choices)
    assert declared == entry.OPTIONS
    [paths] = arguments
    assert paths.name == "paths" and paths.nargs == -1 and paths.required
    assert isinstance(paths.type, click.Path) and paths.type.exists is False
    required = {p.name for p in command.params if p.required}
    assert required == set(entry.REQUIRED)
    assert command.name == entry.COMMAND
    assert command.context_settings.get("ignore_unknown_options") is not True
    assert command.allow_interspersed_args  # options may follow PATHs, as the parser allows


def test_group_help_options_are_left_to_click() -> None:
    names = group().context_settings["help_option_names"]
    assert names == ["-h", "--help"]
    assert not set(names) & set(entry.OPTIONS)
    assert entry.parse_set_image(["set-image", "d", "--image", "a:1", "-h"]) is None
    assert entry.parse_set_image(["set-image", "d", "--image", "a:1", "--help"]) is None


def test_parser_forms() -> None:
    args = entry.parse_set_image(
        ["set-image", "a", "--image=x:1", "b", "--key", "k", "--add", "--dry-run", "--diff",
         "--output=json", "--image", "y:2", "--", "--c"]
    )
    assert args is not None
    assert (args.paths, args.images, args.keys) == (["a", "b", "--c"], ["x:1", "y:2"], ["k"])
    assert (args.add, args.dry_run, args.diff, args.output) == (True, True, True, "json")
    plain = entry.parse_set_image(["set-image", "a", "--image", "x:1"])
    assert plain is not None
    assert (plain.add, plain.dry_run, plain.diff, plain.output) == (False, False, False, "text")
    for argv in (
        [],
        ["validate", "a"],
        ["set-image", "a"],  # no --image
        ["set-image", "--image", "x:1"],  # no PATH
        ["set-image", "a", "--image"],  # no value
        ["set-image", "a", "--image", "--add"],  # a value that looks like an option
        ["set-image", "a", "--image", "x:1", "--add=yes"],
        ["set-image", "a", "--image", "x:1", "--add", "--add"],
        ["set-image", "a", "--image", "x:1", "--output", "xml"],
        ["set-image", "a", "--image", "x:1", "--output", "json", "--output", "text"],
        ["set-image", "a", "--image", "x:1", "--ima", "y:1"],
        ["set-image", "a", "--image", "x:1", "-"],
        ["set-image", "a", "--image", "x:1", "--version"],
    ):
        assert entry.parse_set_image(argv) is None, argv
