"""Terminal output: the grouped run summary, one run's report, the validation checks.

Tables that are piped get a wide page, so numbers are never wrapped.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    """A console; when not a terminal, a wide page so that tables do not wrap numbers."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH)
    return console


console = make_console()


def summary_table(summary: dict, title: str) -> Table:
    """The run summary as a rich table, its rows grouped (traffic, latency, errors, …)."""
    from simscale.reports.summary import compact

    table = Table(title=title, show_header=True, title_justify="left")
    table.add_column("group", style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right", no_wrap=True)
    for i, (group, pairs) in enumerate(compact(summary)):
        if i:
            table.add_section()
        for j, (key, value) in enumerate(pairs):
            table.add_row(group if j == 0 else "", key, value)
    return table


def print_summary(summary: dict, out_dir: Path | None) -> None:
    """The end-of-run table: the summary grouped, then timing and where it was written."""
    console.print(summary_table(summary, f"simscale run: {summary['name']}"))
    console.print(f"simulated {summary['simulated_s']:,.1f} s in {summary['wall_s']:.2f} s "
                  f"of wall time; seed {summary.get('seed')}")
    if summary.get("non_finite"):
        console.print(f"not finite, written as null: {', '.join(summary['non_finite'])}")
    if out_dir is not None:
        console.print(f"outputs: {out_dir}/")


def print_run_report(run_dir: Path, html: Path | None, png: Path | None) -> None:
    """`simscale report`: the grouped summary and the alerts that fired; --png and --html
    write the run's time series (simscale.reports.plot)."""
    from simscale.errors import InputError
    from simscale.reports.plot import alert_spans, write_report
    from simscale.reports.rundir import load_run

    if html is not None or png is not None:
        for path in write_report(run_dir, html, png):
            console.print(f"wrote {path}")
        return
    data = load_run(run_dir)
    if data.summary is None:
        raise InputError(data.problems or [f"{run_dir}: no summary.json"])
    for problem in data.problems:
        console.print(f"warning: {problem}", style="yellow")
    console.print(summary_table(data.summary, f"simscale run: {data.name} ({data.path})"))
    spans = alert_spans(data.events, float(data.summary.get("simulated_s") or 0.0))
    for span in spans:
        end = "end of run" if span.still_firing else f"{span.end_s:,.0f} s"
        console.print(f"alert {span.rule} ({span.severity}): {span.start_s:,.0f} s – {end}")
    if not spans:
        console.print("no alerts fired")


def print_checks(checks) -> None:
    """The `simscale validate` table: check, expected, measured, 95% CI, pass."""
    table = Table(title="simscale validate: engine vs queueing theory")
    for col in ("check", "expected", "measured", "95% CI", "pass"):
        table.add_column(col, justify="left" if col == "check" else "right",
                         no_wrap=col != "check")
    for c in checks:
        table.add_row(c.name, f"{c.expected:.5g}", f"{c.measured:.5g}",
                      f"[{c.ci_low:.5g}, {c.ci_high:.5g}]",
                      "[green]yes[/]" if c.passed else "[red]NO[/]")
    console.print(table)
