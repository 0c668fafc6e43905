"""Runs side by side: labelled by what differs, one summary table with a Δ column against the
first run, and each run's charts in its own column on one scale per metric."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from simscale.monitoring.dashboard import DashboardConfig, resolve
from simscale.reports import diff
from simscale.reports.numbers import as_number, fmt_number
from simscale.reports.rundir import RunData
from simscale.reports.summary import flat_summary, grouped
from simscale.tui.state import replay_state
from simscale.tui.timeline import timeline_bindings
from simscale.tui.widgets import MetricChart, passive

LOWER_IS_BETTER = re.compile(r"(latency|ttft|api_latency|cost|instance_hours|alerts|retries|"
                             r"upstream_limited|upstream_queue|db_wait|stale).*|error|timeout|"
                             r"rejected|rate_limited|breaker_trips|ejections|probes_failed")
HIGHER_IS_BETTER = re.compile(r"ok|throughput_rps|peak_throughput_rps|output_tokens_per_s|"
                              r"cache_hit_rate.*|stress_max_ok_rps|stress_breaking_rps")


def summary_rows(summaries: list[dict | None]) -> list[tuple[str, list[tuple[str, list]]]]:
    """[(group, [(key, value per run)])]: every scalar key any run has, grouped as the run
    summary is (traffic, latency, errors, …)."""
    flat = [flat_summary(s or {}) for s in summaries]
    keys: dict[str, None] = {}
    for f in flat:
        for key, value in f.items():
            if _scalar(value):
                keys.setdefault(key, None)
    return [(group, [(key, [f.get(key) for f in flat]) for key in group_keys])
            for group, group_keys in grouped({}, list(keys))]


def _scalar(value) -> bool:
    return isinstance(value, int | float | bool | str) or value is None


def goal(key: str) -> str | None:
    """'min' or 'max' when lower or higher values of a summary key are better, else None."""
    if LOWER_IS_BETTER.fullmatch(key):
        return "min"
    if HIGHER_IS_BETTER.fullmatch(key):
        return "max"
    return None


class CompareScreen(Screen):
    """Two or more finished runs; one cursor (by row) moves through all of them."""

    BINDINGS = timeline_bindings(end_action="seek_end", end_label="Last row")

    def __init__(self, runs: list[RunData], config: DashboardConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs = runs
        self.config = config
        specs = [r.spec for r in runs]
        self.labels = diff.labels(specs, [r.path.name for r in runs])
        self.differing = diff.differing_fields(specs)
        self.states = [replay_state(run, config.window) for run in runs]

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        yield Static(self.differs_text(), id="differs")
        yield passive(DataTable(id="summary-table", show_cursor=False, zebra_stripes=True))
        with Horizontal(id="compare-runs"):
            for i, run in enumerate(self.runs):
                with VerticalScroll(classes="run-column", id=f"run-{i}", can_focus=False):
                    title = Text(self.labels[i], style="bold")
                    if run.problems:
                        title.append(f"  ⚠ {len(run.problems)} problem(s)", style="yellow")
                    yield Static(title, classes="run-title")
                    for cfg in self.config.charts():
                        yield MetricChart(cfg)
        yield Footer()

    def differs_text(self) -> Text:
        """'differs: balancer.policy round_robin → power_of_two_choices; …' (in run order)."""
        text = Text(no_wrap=False)
        if not self.differing:
            text.append("same settings", style="bold")
            text.append(" (the runs' specs are identical; labelled by directory)", style="dim")
            return text
        text.append("differs: ", style="bold")
        for i, path in enumerate(self.differing):
            if i:
                text.append("; ")
            values = [diff.value_text(diff.flatten(r.spec or {}).get(path, "–"))
                      for r in self.runs]
            text.append(path, style="cyan")
            text.append(" " + " | ".join(values))
        return text

    def on_mount(self) -> None:
        self.set_focus(None)
        table = self.query_one("#summary-table", DataTable)
        table.add_column("summary", key="summary")
        for i, label in enumerate(self.labels):
            table.add_column(self.header(label), key=f"run-{i}")
            if i:
                table.add_column("Δ vs first", key=f"delta-{i}")
        for group, rows in summary_rows([r.summary for r in self.runs]):
            table.add_row(Text(group, style="bold"), *[""] * (len(table.columns) - 1),
                          key=f"group-{group}")
            for key, values in rows:
                cells = []
                for i, value in enumerate(values):
                    cells.append(self._cell(key, value, values))
                    if i:
                        cells.append(self._delta_cell(key, value, values[0]))
                table.add_row(f" {key}", *cells, key=key)
        self.refresh_view()

    def header(self, label: str) -> str:
        """A run's column title: its label, or on a narrow screen only the values of its
        label (the `differs:` line names the fields), shortened with … if need be."""
        columns = 2 * len(self.runs) - 1
        budget = max(10, (self.size.width - 32) // columns - 2)
        if len(label) <= budget:
            return label
        short = ", ".join(part.split("=", 1)[-1] for part in label.split(", "))
        return short if len(short) <= budget else short[: budget - 1] + "…"

    @staticmethod
    def _cell(key: str, value, values: list) -> Text:
        if isinstance(value, bool):
            return Text("yes" if value else "no", style="" if value else "bold yellow")
        text = Text(fmt_number(value), justify="right")
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        best_of = goal(key)
        if best_of and len(numbers) > 1 and value in numbers and len(set(numbers)) > 1:
            if value == (min(numbers) if best_of == "min" else max(numbers)):
                text.stylize("bold green")
        return text

    @staticmethod
    def _delta_cell(key: str, value, first) -> Text:
        d = diff.delta(value, first)
        text = Text(diff.delta_text(d, digits=3), justify="right", style="dim")
        best_of = goal(key)
        if d.diff and best_of:
            better = (d.diff < 0) == (best_of == "min")
            text.style = "green" if better else "red"
        return text

    def refresh_view(self) -> None:
        views = [state.view() for state in self.states]
        for n, cfg in enumerate(self.config.charts()):
            charts = [list(self.query_one(f"#run-{i}").query(MetricChart).results())[n]
                      for i in range(len(views))]
            shared = self._shared_range(cfg, views)
            for chart, view in zip(charts, views, strict=True):
                chart.update_view(view, y_range=shared)
        first = views[0] if views else None
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ⇆ compare ", style="bold magenta reverse")
        text.append(f" {len(self.runs)} runs ")
        text.append(f" window {self.states[0].window if self.states else ''} ")
        text.append(" charts share one scale per metric ", style="dim")
        if first is not None and first.index is not None:
            text.append(f" row {first.index + 1}/{first.rows}  t={first.at_s:,.0f}s",
                        style="dim" if first.following else "bold yellow")
        self.query_one("#status", Static).update(text)

    @staticmethod
    def _shared_range(cfg, views) -> tuple[float, float] | None:
        """The drawn metric's lowest and highest value over every run's window."""
        columns = {c for v in views for c in resolve(cfg.metrics, v.columns)}
        main = cfg.plot if cfg.plot in columns else next(
            (c for v in views for c in resolve(cfg.metrics, v.columns)), None)
        if main is None:
            return None
        series = [[None if x is None else x * cfg.scale for x in map(as_number, v.series(main))]
                  for v in views]
        return diff.shared_range(series)

    def action_scrub(self, delta: int) -> None:
        for state in self.states:
            state.move(delta)
        self.refresh_view()

    def action_seek_start(self) -> None:
        for state in self.states:
            state.seek(0)
        self.refresh_view()

    def action_seek_end(self) -> None:
        for state in self.states:
            state.follow()
        self.refresh_view()

    def action_window(self) -> None:
        for state in self.states:
            state.cycle_window()
        self.refresh_view()

    def action_back(self) -> None:
        self.dismiss()
