"""The `validate` and `bench` commands: simscale checks its engine against queueing theory and
measures its speed (simscale.selfcheck)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `validate` and `bench` commands to `app`."""
    app.command("validate")(validate)
    app.command("bench")(bench)


def validate(
    replications: Annotated[int, typer.Option(help="independent runs per check", min=2)] = 10,
    seed: Annotated[int, typer.Option(help="root seed of the replications", min=0)] = 1,
) -> None:
    """Check the engine against queueing theory (Erlang C, M/M/1, Little's law)."""
    from simscale.reports.progress import WorkProgress
    from simscale.reports.terminal import print_checks
    from simscale.selfcheck.queueing import run_checks

    progress = WorkProgress("validate", 2 * replications, "runs")
    try:
        checks = run_checks(replications=replications, seed=seed,
                            on_run=lambda label: progress.advance(note=label))
    finally:
        progress.close()
    print_checks(checks)
    raise typer.Exit(0 if all(c.passed for c in checks) else 1)


def bench(
    requests: Annotated[int, typer.Option(help="customers per measured run")] = 300_000,
    repeat: Annotated[int, typer.Option(help="measurements per case (best is kept)")] = 3,
    sweep: Annotated[bool, typer.Option(
        "--sweep", help="also time a 20-run sweep on 1 and 2 workers (about a minute)")] = False,
    case: Annotated[list[str] | None, typer.Option(
        "--case", help="measure only this case (repeatable): textbook, ceiling, mm8, "
        "quickstart, cache, phase3, trace, generate, parse; the textbook model is always "
        "measured")] = None,
) -> None:
    """Measure simulated requests per wall-clock second against a textbook SimPy model."""
    from simscale.commands.common import fail
    from simscale.errors import InputError
    from simscale.reports.progress import WorkProgress
    from simscale.selfcheck.speed import print_bench, run_bench, select_cases

    try:
        keys = select_cases(case)
    except ValueError as exc:
        fail(InputError(f"--case: {exc}"))
    progress = WorkProgress("bench", repeat * len(keys), "measurements")
    try:
        results = run_bench(requests=requests, repeat=repeat, keys=keys,
                            on_case=lambda name: progress.advance(note=name))
    finally:
        progress.close()
    print_bench(results)
    if sweep:
        from simscale.selfcheck.sweep_speed import bench_sweep, format_bench_sweep

        for line in format_bench_sweep(bench_sweep(repeat=repeat)):
            typer.echo(line)
