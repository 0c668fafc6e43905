"""The `run`, `report` and `schema` commands: one experiment, one run's report, the spec's
JSON Schema."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from simscale.commands.common import fail
from simscale.errors import InputError


def register(app: typer.Typer) -> None:
    """Add the `run`, `report` and `schema` commands to `app`."""
    app.command("run")(run)
    app.command("report")(report)
    app.command("schema")(schema)


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="override a spec field: path.to.field=value (repeatable)"),
]


class Severity(StrEnum):
    """An alert severity for `run --fail-on`."""

    warning = "warning"
    critical = "critical"


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
    from simscale.model.runner import run as run_spec
    from simscale.monitoring.slo import parse_slo
    from simscale.reports.progress import progress_printer
    from simscale.reports.terminal import print_summary
    from simscale.spec import load_spec

    try:
        slos = [parse_slo(text) for text in slo or []]
        loaded = load_spec(spec, set_ or [], seed, lenient=lenient)
    except InputError as exc:
        fail(exc)
    from simscale.outputs.rundirs import check_out_dir, mark_latest, run_dir_for

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


def schema() -> None:
    """Print the JSON Schema of an experiment spec."""
    import json

    from simscale.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))
