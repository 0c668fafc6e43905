"""Terminal output: progress with an ETA, the grouped run summary, one run's report, checks.

Progress goes to stderr: a bar on a terminal; elsewhere (CI logs, pipes) one line per
completed step, so a long command is never silent. The ETA is the elapsed time per
completed unit of work times the work left (not a recent-speed estimate, which jumps when
parallel runs finish in bursts). Tables that are piped get a wide page, so numbers are
never wrapped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
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


def fmt_duration(seconds: float | None) -> str:
    """'1:02:03', '2:03', or '–' when unknown."""
    if seconds is None:
        return "–"
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class WorkProgress:
    """Progress over `total` units of work (runs, checks, simulated seconds).

    On a terminal, a bar with the count, elapsed time and ETA (shown once `after_s` has
    passed); elsewhere one line per completed step (`every` units at least apart, e.g. 10%
    of a run's simulated time), also only once `after_s` has passed. `advance(n, note)`
    adds completed work; `update(done)` sets it. The ETA is elapsed / done × (total − done).
    """

    def __init__(self, label: str, total: float, unit: str = "runs", *, every: float = 1.0,
                 after_s: float = 0.0, tty: bool | None = None,
                 write: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit = label, float(total), unit
        self.every, self.after_s, self.clock = every, after_s, clock
        self.done = 0.0
        self.start = clock()
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._last_line = 0.0
        self._bar = None
        self._task = None

    def eta_s(self) -> float | None:
        """Seconds left at the rate of the work done so far (None before any is done, or
        when the total is not known: total 0)."""
        if self.done <= 0 or self.total <= 0:
            return None
        return (self.clock() - self.start) / self.done * max(0.0, self.total - self.done)

    def advance(self, n: float = 1.0, note: str = "") -> None:
        self.update(self.done + n, note)

    def update(self, done: float, note: str = "", total: float | None = None) -> None:
        if total is not None:
            self.total = float(total)
        self.done = min(float(done), self.total) if self.total > 0 else float(done)
        if self.tty:
            self._draw_bar()
        elif self.clock() - self.start < self.after_s:
            return
        elif self.done - self._last_line >= self.every or 0 < self.total <= self.done:
            if self.done > self._last_line:
                self._last_line = self.done
                self.write(self.line(note))

    def line(self, note: str = "") -> str:
        """'sweep: 3/20 runs · 0:12 elapsed · ETA 1:08 · note'."""
        count = (f"{self.done:,.0f}/{self.total:,.0f}" if self.total > 0
                 else f"{self.done:,.0f}")
        text = (f"{self.label}: {count} {self.unit} · "
                f"{fmt_duration(self.clock() - self.start)} elapsed · "
                f"ETA {fmt_duration(self.eta_s())}")
        return f"{text} · {note}" if note else text

    def _draw_bar(self) -> None:
        if self._bar is None:
            if self.clock() - self.start < self.after_s:
                return
            from rich.progress import BarColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(),
                TextColumn("{task.fields[count]}"), TextColumn("{task.fields[times]}"),
                console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, count="", times="")
        times = (f"{fmt_duration(self.clock() - self.start)} elapsed · "
                 f"ETA {fmt_duration(self.eta_s())}")
        self._bar.update(self._task, completed=self.done, total=self.total,
                         count=f"{self.done:,.0f}/{self.total:,.0f} {self.unit}", times=times)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class progress_printer:  # noqa: N801 - used like a function
    """The progress callback of one run, on_progress(sim_t, end_t): a bar on a terminal
    once the run has taken `after_s`; one line per 10% of simulated time otherwise."""

    def __init__(self, label: str, after_s: float = 2.0, tty: bool | None = None,
                 write: Callable[[str], None] | None = None) -> None:
        self.label, self.after_s, self.tty, self.write = label, after_s, tty, write
        self._progress: WorkProgress | None = None

    def __call__(self, sim_t: float, end_t: float) -> None:
        if self._progress is None:
            self._progress = WorkProgress(self.label, end_t, "sim s", every=end_t / 10,
                                          after_s=self.after_s, tty=self.tty,
                                          write=self.write)
        self._progress.update(sim_t)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()


def summary_table(summary: dict, title: str) -> Table:
    """The run summary as a rich table, its rows grouped (traffic, latency, errors, …)."""
    from simscale.summary_groups import compact

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
    write the run's time series (simscale.runplot)."""
    from simscale.errors import InputError
    from simscale.runplot import alert_spans, write_report
    from simscale.tui.rundir import load_run

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
