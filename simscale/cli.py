"""The `simscale` command line. Heavy modules are imported inside the commands that need them."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from simscale.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="simscale: simulate a horizontally scaled AI-chat service and test its policies.",
)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="override a spec field: path.to.field=value (repeatable)"),
]


class Severity(StrEnum):
    """An alert severity for `run --fail-on`."""

    warning = "warning"
    critical = "critical"


def fail(error: InputError) -> None:
    """Print one line per problem to stderr and exit 2."""
    for line in error.problems:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="experiment spec (TOML)")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="write exactly here (default: a new runs/<name>/<time>-<hash>/)",
    )] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="with --out: replace the run already in that folder")] = False,
    seed: Annotated[int | None, typer.Option(help="override the spec's seed", min=0)] = None,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no table")] = False,
    lenient: Annotated[bool, typer.Option(
        "--lenient", help="a replayed trace skips bad rows (counted in trace_skipped_rows)",
    )] = False,
    slo: Annotated[list[str] | None, typer.Option(
        "--slo", help="METRIC<=VALUE (or <, >=, >) on the run's summary, e.g. "
                      "'ttft_p95_s<=1'; exit 1 when missed (repeatable)")] = None,
    fail_on: Annotated[Severity | None, typer.Option(
        "--fail-on", help="exit 1 when an alert of this severity (or worse) fired")] = None,
) -> None:
    """Run one experiment and write requests, metrics, events and summary to a run directory.

    Exit 1 when the run did not complete, missed an --slo, or fired an alert at --fail-on."""
    from simscale.monitoring.slo import parse_slo
    from simscale.reports.progress import progress_printer
    from simscale.reports.terminal import print_summary
    from simscale.runner import run as run_spec
    from simscale.spec import load_spec

    try:
        slos = [parse_slo(text) for text in slo or []]
        loaded = load_spec(spec, set_ or [], seed, lenient=lenient)
    except InputError as exc:
        fail(exc)
    from simscale.rundirs import check_out_dir, mark_latest, run_dir_for

    try:
        out_dir = check_out_dir(out, force) if out is not None else run_dir_for(loaded)
    except InputError as exc:
        fail(exc)
    progress = None if quiet else progress_printer(loaded.name)
    try:
        result = run_spec(loaded, out_dir, on_progress=progress)
    except InputError as exc:  # e.g. an unusable run directory, found before the simulation
        fail(exc)
    finally:
        if progress is not None:
            progress.close()
    if out is None:
        mark_latest(out_dir)
    if not quiet:
        print_summary(result.summary, out_dir)
    failed = not result.summary["complete"]
    if failed:
        typer.echo(f"error: run incomplete: {result.summary.get('failure')}", err=True)
    failed |= _gates(result.summary, slos, fail_on)
    if failed:
        raise typer.Exit(1)


def _gates(summary: dict, slos: list, fail_on: Severity | None) -> bool:
    """Print each SLO's verdict and the alert gate's; True when one of them failed."""
    from simscale.monitoring.slo import fired_at_or_above, judge_run

    try:
        verdicts = judge_run(slos, summary)
    except InputError as exc:
        fail(exc)
    failed = False
    for verdict in verdicts:
        typer.echo(str(verdict), err=not verdict.holds)
        failed |= not verdict.holds
    if fail_on is not None:
        fired = fired_at_or_above(summary, fail_on.value)
        if fired:
            shown = ", ".join(f"{rule} ({sev})" for rule, sev in fired.items())
            typer.echo(f"alerts: --fail-on {fail_on.value}: fired: {shown}", err=True)
            failed = True
        else:
            typer.echo(f"alerts: --fail-on {fail_on.value}: none fired")
    return failed


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory (or runs/<name>/: its latest)")],
    html: Annotated[Path | None, typer.Option(
        "--html", help="write a self-contained HTML page (summary, alerts, chart)")] = None,
    png: Annotated[Path | None, typer.Option(
        "--png", help="write the run's time series as a PNG")] = None,
) -> None:
    """Report one run: its summary and alerts; --png and --html draw its time series.

    --png and --html need matplotlib (the `plot` extra)."""
    from simscale.reports.terminal import print_run_report

    try:
        print_run_report(run_dir, html, png)
    except InputError as exc:
        fail(exc)


@app.command()
def schema() -> None:
    """Print the JSON Schema of an experiment spec."""
    import json

    from simscale.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
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


@app.command()
def bench(
    requests: Annotated[int, typer.Option(help="customers per measured run")] = 300_000,
    repeat: Annotated[int, typer.Option(help="measurements per case (best is kept)")] = 3,
    sweep: Annotated[bool, typer.Option(
        "--sweep", help="also time a 20-run sweep on 1 and 2 workers (about a minute)")] = False,
) -> None:
    """Measure simulated requests per wall-clock second against a textbook SimPy model."""
    from simscale.reports.progress import WorkProgress
    from simscale.selfcheck.speed import cases, print_bench, run_bench

    progress = WorkProgress("bench", repeat * len(cases(requests)), "measurements")
    try:
        results = run_bench(requests=requests, repeat=repeat,
                            on_case=lambda name: progress.advance(note=name))
    finally:
        progress.close()
    print_bench(results)
    if sweep:
        from simscale.selfcheck.sweep_speed import bench_sweep, format_bench_sweep

        for line in format_bench_sweep(bench_sweep(repeat=repeat)):
            typer.echo(line)


def _register_commands() -> None:
    """Commands that live beside their feature; each module imports only typer at the top."""
    from simscale.export.command import register as register_export
    from simscale.serve.command import register as register_serve
    from simscale.sweep.command import register as register_sweep
    from simscale.tui.command import register as register_tui

    register_sweep(app)
    register_export(app)
    register_tui(app)
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
