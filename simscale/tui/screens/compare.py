"""Runs side by side: their summaries in one table, and each run's charts in its own column."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from simscale.tui.config import DashboardConfig
from simscale.tui.rundir import RunData
from simscale.tui.state import replay_state
from simscale.tui.widgets import MetricChart, fmt, passive, timeline_bindings

SUMMARY_KEYS = (
    "complete", "arrivals", "ok", "error", "timeout", "rejected", "throughput_rps",
    "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "utilization",
)
HIDDEN_KEYS = {"seed", "wall_s", "name", "spec_sha256", "simscale_version", "failure"}


def summary_rows(summaries: list[dict | None]) -> list[tuple[str, list]]:
    """(key, value per run) for the known keys, then any other scalar key any run has."""
    flat = [_flatten(s or {}) for s in summaries]
    keys = [k for k in SUMMARY_KEYS if any(k in f for f in flat)]
    for f in flat:
        for key, value in f.items():
            if key not in keys and key not in HIDDEN_KEYS and _scalar(value):
                keys.append(key)
    return [(key, [f.get(key) for f in flat]) for key in keys]


def _flatten(summary: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _scalar(value) -> bool:
    return isinstance(value, int | float | bool) or value is None


class CompareScreen(Screen):
    """Two or more finished runs; one cursor (by row) moves through all of them."""

    BINDINGS = timeline_bindings(end_action="seek_end", end_label="Last row")

    def __init__(self, runs: list[RunData], config: DashboardConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs = runs
        self.config = config
        self.states = [replay_state(run, config.window) for run in runs]

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        yield passive(DataTable(id="summary-table", show_cursor=False, zebra_stripes=True))
        with Horizontal(id="compare-runs"):
            for i, run in enumerate(self.runs):
                with VerticalScroll(classes="run-column", id=f"run-{i}", can_focus=False):
                    title = Text(run.name, style="bold")
                    if run.problems:
                        title.append(f"  ⚠ {len(run.problems)} problem(s)", style="yellow")
                    yield Static(title, classes="run-title")
                    for cfg in self.config.charts():
                        yield MetricChart(cfg)
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(None)
        table = self.query_one("#summary-table", DataTable)
        table.add_column("summary", key="summary")
        names = [r.name for r in self.runs]
        for i, name in enumerate(names):
            label = name if names.count(name) == 1 else f"{name} ({self.runs[i].path.parent.name})"
            table.add_column(label, key=f"run-{i}")
        for key, values in summary_rows([r.summary for r in self.runs]):
            table.add_row(key, *(self._cell(key, v, values) for v in values), key=key)
        self.refresh_view()

    @staticmethod
    def _cell(key: str, value, values: list) -> Text:
        if isinstance(value, bool):
            return Text("yes" if value else "no", style="" if value else "bold yellow")
        text = Text(fmt(value), justify="right")
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) > 1 and isinstance(value, int | float) and len(set(numbers)) > 1:
            lower_better = key.startswith("latency") or key in ("error", "timeout", "rejected") \
                or key.startswith("alerts")
            best = min(numbers) if lower_better else max(numbers)
            if value == best and (lower_better or key in ("ok", "throughput_rps")):
                text.stylize("bold green")
        return text

    def refresh_view(self) -> None:
        views = [state.view() for state in self.states]
        for i, view in enumerate(views):
            column = self.query_one(f"#run-{i}")
            for chart in column.query(MetricChart).results():
                chart.update_view(view)
        first = views[0] if views else None
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ⇆ compare ", style="bold magenta reverse")
        text.append(f" {len(self.runs)} runs ")
        text.append(f" window {self.states[0].window if self.states else ''} ")
        if first is not None and first.index is not None:
            text.append(f" row {first.index + 1}/{first.rows}  t={first.at_s:,.0f}s",
                        style="dim" if first.following else "bold yellow")
        self.query_one("#status", Static).update(text)

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
