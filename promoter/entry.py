"""The console script's front door: ``promoter set-image`` without click, the rest with it.

``promoter`` (``promoter.cli:main``) calls :func:`main`. For the common, valid forms of
``promoter set-image`` (``PATH...``, ``--image REF`` repeated, ``--key``, ``--add``,
``--dry-run``, ``--diff``, ``--output text|json``, ``--opt=value``, ``--`` ending the
options) a small table-driven parser reads argv and runs the same body the click
command runs (:func:`promoter.commands.set_image.run`). Everything else (``--help``,
any other sub-command, an unknown, repeated or malformed option, a missing PATH or
``--image``, an invalid ``--output``, a value that starts with ``-``) and every usage
error the body raises (an invalid reference, a PATH that does not exist) goes to click,
which stays the single definition of the CLI and the only source of its help texts,
error wordings and exit status 2: click is simply not imported when it has nothing to do.

Why: measured whole processes (medians, regular install) ``import click`` costs
~15-25 ms (it pulls in ``inspect``, ``typing``, ``datetime``, ``uuid``...), a quarter of a
one-file ``set-image`` and a third of what goal (b) of issue 2 allows.
``tests/test_entry_table.py`` compares :data:`OPTIONS` with the click command's
declared parameters, and ``tests/test_entry_paths.py`` runs both paths on many argvs.

Before importing the engine, :func:`main` also starts ``grep -r`` over the directory
PATHs (:func:`promoter.prefilter.start_tree`) so that grep reads the tree while Python
imports and walks; ``set_image`` uses its answer only if it was started for exactly
the same PATHs and needles.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import NoReturn

# `promoter set-image`'s options as promoter/commands/set_image.py declares them for click:
# option -> (parameter name, kind, choices). tests/test_entry_table.py keeps them equal.
MULTIPLE, FLAG, CHOICE = "multiple", "flag", "choice"
OPTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "--image": ("images", MULTIPLE, ()),
    "--key": ("keys", MULTIPLE, ()),
    "--add": ("add", FLAG, ()),
    "--dry-run": ("dry_run", FLAG, ()),
    "--diff": ("diff", FLAG, ()),
    "--output": ("output", CHOICE, ("text", "json")),
}
REQUIRED = ("paths", "images")  # the other parameters have defaults
DEFAULT_OUTPUT = "text"
COMMAND = "set-image"


class Args:
    """What ``promoter set-image`` was asked, as the click command's parameters."""

    __slots__ = ("add", "diff", "dry_run", "images", "keys", "output", "paths")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.images: list[str] = []
        self.keys: list[str] = []
        self.add = False
        self.dry_run = False
        self.diff = False
        self.output = DEFAULT_OUTPUT


def parse_set_image(argv: list[str]) -> Args | None:
    """``argv`` (without the program name) as ``set-image`` arguments, or None to let click
    read it (anything but the plain, valid forms)."""
    if not argv or argv[0] != COMMAND:
        return None
    args = Args()
    given: set[str] = set()
    i, n = 1, len(argv)
    options_end = False
    while i < n:
        arg = argv[i]
        i += 1
        if options_end or arg[:1] != "-":
            args.paths.append(arg)
            continue
        if arg == "--":
            options_end = True
            continue
        name, eq, value = arg.partition("=")
        spec = OPTIONS.get(name)
        if spec is None:  # -h, --help, an unknown or abbreviated option, "-"
            return None
        dest, kind, choices = spec
        if kind == FLAG:
            if eq or dest in given:
                return None
            given.add(dest)
            setattr(args, dest, True)
            continue
        if not eq:
            if i == n:
                return None  # no value
            value = argv[i]
            i += 1
        if value[:1] == "-":
            return None  # click takes it as the value; whatever it means, click says it
        if kind == MULTIPLE:
            getattr(args, dest).append(value)
        elif dest in given or value not in choices:
            return None
        else:
            given.add(dest)
            setattr(args, dest, value)
    if not args.paths or not args.images:
        return None
    return args


def _start_grep(args: Args) -> None:
    """Start ``grep -r`` over the directory PATHs now, before the engine is imported.

    Not with ``--key`` (its needle needs the key-path parser, i.e. the engine's imports)
    nor for an invalid reference (click reports it); set-image then greps in batches.
    """
    if args.keys or os.environ.get("PROMOTER_NO_GREP"):
        return
    from promoter import prefilter
    from promoter.imageref import parse

    try:
        names = [parse(image).short_name for image in args.images]
    except ValueError:
        return
    prefilter.start_tree(args.paths, prefilter.needles(names, (), args.add))


def run_fast(args: Args) -> int | None:
    """Run ``set-image`` without click: its exit status, or None for a usage error (the
    body raised ``ValueError`` before writing anything: click will say it)."""
    _start_grep(args)
    from promoter.commands.set_image import run

    try:
        return run(
            args.paths, args.images, keys=args.keys, add=args.add, dry_run=args.dry_run,
            diff=args.diff, output=args.output,
        )
    except ValueError:
        if "promoter.prefilter" in sys.modules:
            sys.modules["promoter.prefilter"].cancel_tree()
        return None


def _quiet_pipe() -> NoReturn:
    """A reader that went away (``| head``): as click, say nothing more and exit 1."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # what is still buffered goes nowhere, quietly
    os.dup2(devnull, 2)
    sys.exit(1)


def _exit(code: int, hard: bool) -> NoReturn:
    """Leave with ``code``; ``hard``: flush and ``os._exit``, skipping interpreter teardown.

    Freeing every object and module at exit cost ~7-10 ms of a one-file run (a 5,000-line
    file's tree); by now every file is written and closed and every child reaped. Not
    under coverage (its atexit hook saves the data)."""
    if hard and "coverage" not in sys.modules:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: started with the descriptor closed
                    stream.flush()
        except BrokenPipeError:
            _quiet_pipe()
        os._exit(code)
    sys.exit(code)


def main(hard_exit: bool = False) -> int:
    """The ``promoter`` console script (``promoter.cli.main`` calls it with ``hard_exit``)."""
    argv = sys.argv[1:]
    args = parse_set_image(argv) if not _completing() else None
    if args is not None:
        try:
            code = run_fast(args)
        except (EOFError, KeyboardInterrupt):  # as click reports them
            sys.stderr.write("\nAborted!\n")
            sys.exit(1)
        except BrokenPipeError:
            _quiet_pipe()
        if code is not None:
            _exit(code, hard_exit)
    from promoter.cli import group

    group()()  # click's standalone mode: it exits
    return 0


def _completing() -> bool:
    """Shell completion (``_PROMOTER_COMPLETE=...``) is click's."""
    return any(key[:1] == "_" and key.endswith("_COMPLETE") for key in os.environ)
