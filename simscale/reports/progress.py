"""Progress on stderr with an ETA, for runs, sweeps, plans and checks.

A bar on a terminal; elsewhere (CI logs, pipes) one line per completed step, so a long
command is never silent. The ETA is the elapsed time per completed unit of work times the
work left (not a recent-speed estimate, which jumps when parallel runs finish in bursts).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console


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
