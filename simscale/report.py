"""Terminal output: progress bars and summary tables (rich, which textual brings)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(stderr=False)


class progress_printer:  # noqa: N801 - used like a function
    """A progress callback that shows a bar once the run has taken more than `after_s`."""

    def __init__(self, label: str, after_s: float = 2.0) -> None:
        self.label = label
        self.after_s = after_s
        self.start = time.perf_counter()
        self._progress = None
        self._task = None

    def __call__(self, sim_t: float, end_t: float) -> None:
        if self._progress is None:
            if time.perf_counter() - self.start < self.after_s:
                return
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} sim s"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=end_t)
        self._progress.update(self._task, completed=sim_t)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


SUMMARY_ROWS = (
    "arrivals", "ok", "error", "timeout", "rejected", "throughput_rps", "latency_mean_s",
    "latency_p50_s", "latency_p95_s", "latency_p99_s", "utilization",
)


def print_summary(summary: dict, out_dir: Path | None) -> None:
    """The end-of-run table: counts, latency, throughput, and any other numeric totals."""
    table = Table(title=f"simscale run: {summary['name']}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = list(SUMMARY_ROWS) + [
        k for k, v in summary.items()
        if k not in SUMMARY_ROWS and isinstance(v, int | float) and not isinstance(v, bool)
        and k not in ("seed", "wall_s", "duration_s", "simulated_s")
    ]
    for key in keys:
        if key in summary:
            table.add_row(key, _fmt(summary[key]))
    table.add_row("simulated_s / wall_s",
                  f"{summary['simulated_s']:,.1f} / {summary['wall_s']:.2f}")
    console.print(table)
    if summary.get("non_finite"):
        console.print(f"not finite, written as null: {', '.join(summary['non_finite'])}")
    if out_dir is not None:
        console.print(f"outputs: {out_dir}/")


def print_checks(checks) -> None:
    """The `simscale validate` table: check, expected, measured, 95% CI, pass."""
    table = Table(title="simscale validate: engine vs queueing theory")
    for col in ("check", "expected", "measured", "95% CI", "pass"):
        table.add_column(col, justify="left" if col == "check" else "right")
    for c in checks:
        table.add_row(c.name, f"{c.expected:.5g}", f"{c.measured:.5g}",
                      f"[{c.ci_low:.5g}, {c.ci_high:.5g}]",
                      "[green]yes[/]" if c.passed else "[red]NO[/]")
    console.print(table)
