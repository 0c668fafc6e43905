"""What every command shares: bad input printed one line per problem, exit code 2."""

from __future__ import annotations

from typing import NoReturn

import typer

from simscale.errors import InputError


def fail(error: InputError) -> NoReturn:
    """Print one line per problem to stderr and exit 2."""
    for line in error.problems:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)
