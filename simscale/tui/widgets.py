"""Dashboard widgets: each is built from its config and redrawn from a state View.

Widgets only display: they read a View (plain data) and never a model. Any metric or
instance field may be absent from a run; a widget then shows what exists and says "no data"
for the rest.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, RichLog, Static

from simscale.monitoring.alerts import CRITICAL, WARNING
from simscale.monitoring.dashboard import (
    AlertsWidget,
    ChartWidget,
    EventsWidget,
    InstancesWidget,
    StatsWidget,
    resolve,
)
from simscale.monitoring.windows import aggregation
from simscale.reports.numbers import as_number, fmt_number
from simscale.tui.state import View

UNIT_SUFFIXES = ("_rps", "_frac", "_s", "_tokens", "_mb", "_bytes")
STATE_STYLES = {
    "ready": "green", "booting": "yellow", "starting": "yellow", "warming": "yellow",
    "draining": "cyan", "terminated": "dim", "failed": "bold red", "unhealthy": "red",
    "open": "bold red", "half_open": "yellow", "half-open": "yellow", "closed": "green",
}
SEVERITY_STYLES = {CRITICAL: "bold white on red", WARNING: "bold black on yellow"}


def short_labels(columns: list[str]) -> list[str]:
    """Column labels without their shared leading words and unit suffix."""
    parts = [c.split("_") for c in columns]
    shared = 0
    if len(columns) > 1:
        while all(len(p) > shared + 1 for p in parts) and len({p[shared] for p in parts}) == 1:
            shared += 1
    labels = []
    for column, p in zip(columns, parts, strict=True):
        label = "_".join(p[shared:])
        for suffix in UNIT_SUFFIXES:
            if label.endswith(suffix) and len(label) > len(suffix):
                label = label[: -len(suffix)]
                break
        labels.append(label or column)
    return labels


def passive(widget: Widget) -> Widget:
    """A widget that never takes focus, so the screen's keys (scrub, pause…) always work."""
    widget.can_focus = False
    return widget


class DashboardWidget(Vertical):
    """Base of the configurable widgets: a titled box redrawn from a View."""

    def __init__(self, config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.border_title = config.title
        height = getattr(config, "height", None)
        if height is not None and not isinstance(config, ChartWidget):
            self.styles.height = height + 1

    def update_view(self, view: View) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# One colour per series, the same in the plot (RGB) and in the title (hex).
SERIES_RGB = ((86, 182, 194), (229, 112, 196), (229, 192, 123))
SERIES_COLORS = tuple("#{:02x}{:02x}{:02x}".format(*rgb) for rgb in SERIES_RGB)
MAX_SERIES = 3
MULTI_SERIES_HEIGHT = 4  # lower charts draw only their `plot` metric


def _plot_widget():
    """A PlotextPlot whose lines are cropped, never wrapped, when a resize is still pending
    (a wrapped line would push the axis labels out of place)."""
    from textual_plotext import PlotextPlot

    class Plot(PlotextPlot):
        def render(self):
            text = super().render()
            text.rstrip()
            text.no_wrap = True
            text.overflow = "crop"
            return text

    return Plot()


class MetricChart(DashboardWidget):
    """A line chart (textual-plotext) of a metric over the window, with its scale.

    The y axis is labelled with the lowest and highest value drawn, in the chart's unit; the
    x axis (time, s) with the window's first and last time when the chart is tall enough
    (else the status line gives the window). Up to three metrics are drawn, each in the colour
    of its name in the title; more (instances by state) draw the `plot` metric only. The
    scale is the data's own range (no zero is added), or the range a caller shares across
    runs (y_range). A flat series is drawn as a line in the middle, labelled with its value.
    """

    def __init__(self, config: ChartWidget, **kwargs) -> None:
        super().__init__(config, classes="chart", **kwargs)
        self.columns: list[str] = []
        self.drawn: list[str] = []
        self.y_labels: tuple[str, ...] = ()
        self.x_labels: tuple[str, ...] = ()
        self.points = 0  # points drawn of the first series

    def compose(self) -> ComposeResult:
        plot = _plot_widget()
        plot.styles.height = self.config.height
        yield plot

    def update_view(self, view: View, y_range: tuple[float, float] | None = None) -> None:
        from textual_plotext import PlotextPlot

        cfg: ChartWidget = self.config
        columns = resolve(cfg.metrics, view.columns)
        self.columns = columns
        plot = self.query_one(PlotextPlot)
        if not columns:
            self.border_title = f"{cfg.title} · no data"
            self.set_class(True, "-empty")
            plot.display = False
            return
        self.set_class(False, "-empty")
        plot.display = True
        main = cfg.plot if cfg.plot in columns else columns[0]
        several = len(columns) <= MAX_SERIES and cfg.height >= MULTI_SERIES_HEIGHT
        drawn = columns if several else [main]
        self.drawn = drawn
        self.border_title = self.title_text(view.row or {}, columns, drawn)
        times = [row.get("t_s") for row in view.window_rows]
        series = {c: [_scaled(v, cfg.scale) for v in view.series(c)] for c in drawn}
        self.draw(plot, times, series, y_range)
        plot.tooltip = f"{', '.join(drawn)} over {view.window}"

    def title_text(self, row: dict, columns: list[str], drawn: list[str]) -> Text:
        """The title, then every metric's value at the cursor (drawn ones in their colour)."""
        cfg: ChartWidget = self.config
        unit = f" {cfg.unit}" if cfg.unit else ""
        text = Text(f"{cfg.title}  ")
        if len(columns) == 1:
            text.append(f"{fmt_number(row.get(columns[0]), 3, cfg.scale)}{unit}", style="bold")
            return text
        pairs = list(zip(short_labels(columns), columns, strict=True))
        if len(pairs) > MAX_SERIES:  # many series (instances by state): the non-zero ones
            pairs = [(label, c) for label, c in pairs if row.get(c) or c in drawn] or pairs[:1]
        for i, (label, column) in enumerate(pairs):
            if i:
                text.append(" · ")
            color = SERIES_COLORS[drawn.index(column)] if column in drawn else ""
            text.append(label, style=color)
            text.append(f" {fmt_number(row.get(column), 3, cfg.scale)}")
        text.append(unit)
        return text

    def draw(self, plot, times: list, series: dict[str, list], y_range) -> None:
        """Plot each series against time with labelled min/max on the y axis."""
        cfg: ChartWidget = self.config
        plt = plot.plt
        plt.clear_data()
        plt.frame(False)
        values = [v for ys in series.values() for v in ys if v is not None]
        first = next(iter(series.values()), [])
        self.points = sum(1 for t, v in zip(times, first, strict=True)
                          if t is not None and v is not None)
        if not values:
            self.y_labels = self.x_labels = ()
            plt.xfrequency(0)
            plt.yfrequency(0)
            plot.refresh()
            return
        low, high = y_range if y_range is not None else (min(values), max(values))
        low, high = min(low, min(values)), max(high, max(values))
        for i, ys in enumerate(series.values()):
            points = [(t, v) for t, v in zip(times, ys, strict=True)
                      if t is not None and v is not None]
            if points:
                xs, vs = zip(*points, strict=True)
                plt.plot(list(xs), list(vs), marker="hd", color=SERIES_RGB[i])
        unit = cfg.unit
        if high > low:
            plt.ylim(low, high)
            ticks = [low, high]
        else:  # a flat series: a line along the bottom row, labelled with its value
            plt.ylim(low, low + (abs(low) or 1.0))
            ticks = [low]
        self.y_labels = tuple(f"{fmt_number(v, 3)}{unit}" for v in ticks)
        plt.yticks(ticks, list(self.y_labels))
        known = [t for t in times if t is not None]
        if cfg.height >= 5 and known:
            first, last = min(known), max(known)
            self.x_labels = (f"{first:,.0f}s", f"{last:,.0f}s")
            plt.xticks([first, last] if last > first else [first], list(self.x_labels))
            plt.xlim(first, last if last > first else first + 1)
        else:
            self.x_labels = ()
            plt.xfrequency(0)
            if known:
                plt.xlim(min(known), max(known) if max(known) > min(known) else min(known) + 1)
        plot.refresh()


def _scaled(value, scale: float) -> float | None:
    number = as_number(value)
    return None if number is None else number * scale


class StatsTable(DashboardWidget):
    """Metrics aggregated over windows ending at the cursor (monitoring.dashboard_data).

    Counters (marked Σ) are totals over the window, gauges the last value, the rest means.
    """

    def __init__(self, config: StatsWidget, **kwargs) -> None:
        super().__init__(config, classes="stats", **kwargs)
        self._shape: tuple = ()

    def compose(self) -> ComposeResult:
        yield passive(DataTable(show_cursor=False, zebra_stripes=True, cell_padding=0))

    def update_view(self, view: View) -> None:
        cfg: StatsWidget = self.config
        table = self.query_one(DataTable)
        columns = resolve(cfg.metrics, view.columns)
        shape = (tuple(columns), cfg.windows)
        rebuild = shape != self._shape
        if rebuild:
            table.clear(columns=True)
            table.add_column("metric", key="metric")
            for name in cfg.windows:
                table.add_column(Text(f" {name}", justify="right"), key=name)
            self._shape = shape
        if not columns:
            self.border_title = f"{cfg.title} · no data"
            return
        self.border_title = f"{cfg.title} (at t={view.at_s:,.0f}s)"
        windows = {w: view.window_data(w, columns) for w in cfg.windows}
        for column in columns:
            cells = [Text(f" {fmt_number(windows[w].value(column), 3)}", justify="right")
                     for w in cfg.windows]
            if rebuild:
                label = Text(column)
                if aggregation(column) == "sum":
                    label.append(" Σ", style="dim")
                table.add_row(label, *cells, key=column)
            else:
                for w, cell in zip(cfg.windows, cells, strict=True):
                    table.update_cell(column, w, cell)


class AlertsPanel(DashboardWidget):
    """Alerts firing at the cursor (critical first) or the last transition when none fire."""

    def __init__(self, config: AlertsWidget, **kwargs) -> None:
        super().__init__(config, classes="alerts", **kwargs)

    def compose(self) -> ComposeResult:
        yield Static("", classes="alerts-body")

    def update_view(self, view: View) -> None:
        body = self.query_one(".alerts-body", Static)
        text = Text(no_wrap=True, overflow="ellipsis")
        firing = view.firing
        for i, alert in enumerate(firing):
            if i:
                text.append("\n")
            label = " CRIT " if alert.severity == CRITICAL else " WARN "
            text.append(label, style=SEVERITY_STYLES[alert.severity])
            text.append(f" {alert.rule} ", style="bold")
            text.append(f"{alert.message} (since {alert.since_s:,.0f}s)")
        if not firing:
            text.append("✓ no alerts firing", style="green")
            if view.transitions:
                last = view.transitions[-1]
                text.append(f"\nlast: {last.t_s:,.0f}s {last.rule} {last.reason}", style="dim")
        body.update(text)
        worst = firing[0].severity if firing else None
        self.set_class(worst == CRITICAL, "-critical")
        self.set_class(worst == WARNING, "-warning")
        count = f" ({len(firing)} firing)" if firing else ""
        self.border_title = f"{self.config.title}{count}"


FIELD_LABELS = {"instance_id": "id", "latency_ewma_s": "ewma_s", "in_flight": "in_fl",
                "queued": "queue", "healthy": "health"}


class InstancesTable(DashboardWidget):
    """One row per instance from the latest snapshot; only the fields that exist."""

    def __init__(self, config: InstancesWidget, **kwargs) -> None:
        super().__init__(config, classes="instances", **kwargs)
        self._fields: tuple = ()

    def compose(self) -> ComposeResult:
        yield Static("", classes="note")
        yield passive(DataTable(show_cursor=False, zebra_stripes=True, cell_padding=0))

    def update_view(self, view: View) -> None:
        cfg: InstancesWidget = self.config
        table = self.query_one(DataTable)
        note = self.query_one(".note", Static)
        instances = view.instances
        if instances is None:
            note.update(Text("no instance data (live runs only)", style="dim"))
            note.display = True
            table.display = False
            self.border_title = cfg.title
            return
        note.display = False
        table.display = True
        available: dict[str, None] = {}
        for inst in instances:
            for key in inst:
                available.setdefault(key, None)
        fields = tuple(resolve(cfg.fields, available))
        shown = instances[: cfg.max_rows]
        keys = tuple(str(inst.get("instance_id", i)) for i, inst in enumerate(shown))
        if (fields, keys) != self._fields:
            table.clear(columns=True)
            for f in fields:
                table.add_column(f" {FIELD_LABELS.get(f, f)}", key=f)
            for key, inst in zip(keys, shown, strict=True):
                table.add_row(*(self._cell(f, inst.get(f)) for f in fields), key=key)
            self._fields = (fields, keys)
        else:
            for key, inst in zip(keys, shown, strict=True):
                for f in fields:
                    table.update_cell(key, f, self._cell(f, inst.get(f)))
        counts: dict[str, int] = {}
        for inst in instances:
            state = str(inst.get("state", "?"))
            counts[state] = counts.get(state, 0) + 1
        summary = " ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        self.border_title = f"{cfg.title} ({len(instances)}: {summary})"

    @staticmethod
    def _cell(field: str, value) -> Text:
        if isinstance(value, bool):
            ok = value if field.startswith("health") or field == "ready" else not value
            return Text(" yes" if value else " no", style="green" if ok else "bold red")
        if isinstance(value, str):
            return Text(f" {value}", style=STATE_STYLES.get(value.lower(), ""))
        return Text(f" {fmt_number(value, 3)}", justify="right")


class EventLog(DashboardWidget):
    """Events up to the cursor: time, kind, subject and the decision's reason."""

    def __init__(self, config: EventsWidget, **kwargs) -> None:
        super().__init__(config, classes="events", **kwargs)
        self._shown: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield passive(RichLog(max_lines=self.config.lines, wrap=False, markup=False,
                              auto_scroll=True))

    def entries(self, view: View) -> list[tuple]:
        """The events to show: the run's, plus alert transitions if the run did not log them."""
        events = list(view.events)
        if not any(e[1] == "alert" for e in events) and view.transitions:
            alerts = [(t.t_s, "alert", t.rule, t.reason) for t in view.transitions]
            events = sorted(events + alerts, key=lambda e: e[0])
        kinds = self.config.kinds
        if kinds:
            events = [e for e in events if e[1] in kinds]
        return events[-self.config.lines:]

    def update_view(self, view: View) -> None:
        log = self.query_one(RichLog)
        entries = self.entries(view)
        shown = self._shown
        n = len(shown)
        if n and len(entries) >= n and entries[n - 1] == shown[-1] and entries[0] == shown[0]:
            new = entries[n:]
        else:
            log.clear()
            new = entries
        for event in new:
            log.write(self.line(event))
        self._shown = entries
        self.border_title = f"{self.config.title} ({len(entries)})"

    @staticmethod
    def line(event: tuple) -> Text:
        t, kind, subject, reason = (list(event) + ["", "", "", ""])[:4]
        style = ""
        if kind == "alert":
            if str(reason).startswith(f"Firing:{CRITICAL}"):
                style = "bold red"
            elif str(reason).startswith(f"Firing:{WARNING}"):
                style = "yellow"
            else:
                style = "green"
        elif "fail" in str(reason).lower() or "error" in str(reason).lower():
            style = "red"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{float(t):.1f}s".ljust(9), style="dim")
        text.append(f"{kind!s:<10.10} ", style="cyan")
        text.append(f"{subject!s:<12.12} ")
        text.append(str(reason), style=style)
        return text


class SummaryPanel(Static):
    """A finished run's totals, grouped (traffic, latency, errors, …), one line per group.

    Hidden until the run has a summary; `u` shows or hides it."""

    def show_summary(self, summary: dict | None, title: str = "Run summary") -> None:
        from simscale.reports.summary import compact

        self.summary = summary
        if not summary:
            self.display = False
            return
        text = Text(no_wrap=False)
        for i, (group, pairs) in enumerate(compact(summary)):
            if i:
                text.append("\n")
            text.append(f"{group}: ", style="bold")
            for j, (key, value) in enumerate(pairs):
                if j:
                    text.append(" · ", style="dim")
                text.append(f"{key} ", style="dim")
                text.append(value)
        self.border_title = title
        self.update(text)
        self.display = True


WIDGETS = {
    "chart": MetricChart, "stats": StatsTable, "alerts": AlertsPanel,
    "instances": InstancesTable, "events": EventLog,
}


def build_widget(config) -> DashboardWidget:
    return WIDGETS[config.kind](config)
