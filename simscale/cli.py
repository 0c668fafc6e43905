"""The `simscale` command line: the typer app and its commands (simscale/commands/, one module
per family). Heavy modules are imported inside the commands that need them."""

from __future__ import annotations

import sys

import typer

from simscale.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="simscale: simulate a horizontally scaled AI-chat service and test its policies.",
)


def _register_commands() -> None:
    """Every command, in the order `simscale --help` lists them."""
    from simscale.commands import export, run, selfcheck, sweep, tui
    from simscale.serve.command import register as register_serve

    for family in (run, selfcheck, sweep, export, tui):
        family.register(app)
    register_serve(app)


_register_commands()


def main() -> None:
    """Console entry point: bad input exits 2 with a clear message, never a traceback."""
    try:
        app()
    except InputError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
