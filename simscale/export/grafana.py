"""The grafana target: the dashboard TOML (simscale.monitoring.dashboard) as Grafana JSON.

The output follows Grafana's classic dashboard JSON model (uid, title, tags, time, refresh,
schemaVersion, templating, annotations, panels with id, type, title, gridPos, datasource,
targets and fieldConfig). One panel per widget, in the widget's column (left: x = 0,
right: x = 12, each 12 of the 24 grid columns wide), in file order:

- chart → a `timeseries` panel, one query per metric (globs matched against the metrics the
  prometheus target can express), its unit from the widget's unit and scale (s, percentunit,
  reqps);
- stats → a `stat` panel of the same queries;
- alerts → an `alertlist` panel of the service's alerts;
- instances → a `table` of per-instance series (up, CPU, memory, in flight);
- events → an `annolist` panel (annotations: alert and deployment events).

Queries are PromQL over the same series as the prometheus target (simscale.export.prometheus
SERIES), on a Prometheus data source chosen by the `datasource` variable. A widget metric
with no Prometheus series is left out (a Loss); a panel keeps its place even when none of
its metrics can be shown.
"""

from __future__ import annotations

import fnmatch
import json
import math
from typing import Any

from simscale.export.base import Losses, dns_label
from simscale.export.plan import Plan
from simscale.export.prometheus import RATE_WINDOW_S, SERIES, duration, series_for

FILE = "dashboard.json"
SCHEMA_VERSION = 39
GRID_COLUMNS = 24
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Metrics the glob patterns of a widget can match (the prometheus target's series).
KNOWN = (*SERIES, "latency_p50_s", "latency_p90_s", "latency_p95_s", "latency_p99_s",
         "api_latency_p95_s", "ttft_p50_s", "ttft_p95_s", "ttft_p99_s")
WINDOWS = {"1m": "now-1m", "5m": "now-5m", "1h": "now-1h", "all": "now-6h"}
PANEL_TYPES = {"chart": "timeseries", "stats": "stat", "alerts": "alertlist",
               "instances": "table", "events": "annolist"}


def unit(widget: Any, metrics: list[str]) -> str:
    """Grafana's unit for a widget: the metric's base unit (Grafana scales it itself)."""
    text = (getattr(widget, "unit", "") or "").lower()
    if not metrics:
        return "short"
    if text in ("ms", "s") or all(m.endswith("_s") for m in metrics if m):
        return "s"
    if text == "%" or all(m.endswith(("_frac", "_rate", "_ratio")) for m in metrics if m):
        return "percentunit"
    if text == "rps" or all(m.endswith("_rps") for m in metrics if m):
        return "reqps"
    return "short"


def queries(plan: Plan, patterns: tuple[str, ...], where: str, losses: Losses) -> list[dict]:
    """One PromQL target per metric the patterns name (globs over KNOWN)."""
    values = {"job": plan.name, "w": duration(RATE_WINDOW_S), "cores": plan.cores,
              "memory_bytes": int(math.ceil(plan.memory_limit_mb * (1 << 20)))}
    chosen: list[str] = []
    for pattern in patterns:
        found = [m for m in KNOWN if fnmatch.fnmatchcase(m, pattern)]
        if not found:
            losses.lose(where, f"{pattern!r}: no Prometheus series (see the prometheus "
                               "target's mapping); left out of the panel")
        chosen += [m for m in found if m not in chosen]
    return [{"refId": _ref(n), "datasource": DATASOURCE, "legendFormat": metric,
             "expr": series_for(metric).expr.format(**values)}
            for n, metric in enumerate(chosen)]


def _ref(n: int) -> str:
    """A, B, … Z, AA, AB, … (Grafana's query letters)."""
    letters = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _instances_targets(plan: Plan) -> list[dict]:
    job, w = plan.name, duration(RATE_WINDOW_S)
    memory = int(math.ceil(plan.memory_limit_mb * (1 << 20)))
    exprs = [("up", f'up{{job="{job}"}}'),
             ("cpu", f'rate(process_cpu_seconds_total{{job="{job}"}}[{w}]) / {plan.cores}'),
             ("memory", f'process_resident_memory_bytes{{job="{job}"}} / {memory}'),
             ("in flight", f'http_requests_in_flight{{job="{job}"}}')]
    return [{"refId": _ref(n), "datasource": DATASOURCE, "legendFormat": name, "expr": expr,
             "format": "table", "instant": True} for n, (name, expr) in enumerate(exprs)]


def panel(plan: Plan, widget: Any, n: int, losses: Losses) -> dict:
    """The panel of the n-th widget (gridPos filled in by `layout`)."""
    kind = widget.kind
    title = getattr(widget, "title", kind.title())
    out: dict[str, Any] = {"id": n + 1, "type": PANEL_TYPES[kind], "title": title,
                           "datasource": DATASOURCE}
    where = f"dashboard.widgets.{n}"
    if kind in ("chart", "stats"):
        targets = queries(plan, widget.metrics, f"{where}.metrics", losses)
        out["targets"] = targets
        out["fieldConfig"] = {"defaults": {"unit": unit(widget, [t["legendFormat"]
                                                                 for t in targets])},
                              "overrides": []}
    elif kind == "instances":
        out["targets"] = _instances_targets(plan)
        out["transformations"] = [{"id": "merge", "options": {}}]
    elif kind == "alerts":
        out["options"] = {"viewMode": "list", "groupMode": "default", "maxItems": 20,
                          "sortOrder": 1, "alertInstanceLabelFilter": f'job="{plan.name}"',
                          "stateFilter": {"firing": True, "pending": True, "normal": False}}
    else:
        out["options"] = {"onlyFromThisDashboard": False, "limit": widget.lines,
                          "showUser": False, "showTime": True, "showTags": True}
    return out


def _height(widget: Any) -> int:
    rows = getattr(widget, "height", None)
    return max(4, 2 * rows + 3) if rows else 8


def layout(widgets: list[Any], panels: list[dict]) -> None:
    """gridPos of every panel: its column (left 0, right 12), stacked in file order."""
    next_y = {"left": 0, "right": 0}
    for widget, out in zip(widgets, panels):
        column = getattr(widget, "column", "left")
        h = _height(widget)
        out["gridPos"] = {"h": h, "w": GRID_COLUMNS // 2,
                          "x": 0 if column == "left" else GRID_COLUMNS // 2, "y": next_y[column]}
        next_y[column] += h


def dashboard_document(plan: Plan, losses: Losses) -> dict:
    from simscale.monitoring.dashboard import DEFAULT_DASHBOARD

    config = plan.dashboard or DEFAULT_DASHBOARD
    widgets = list(config.widgets)
    panels = [panel(plan, w, n, losses) for n, w in enumerate(widgets)]
    layout(widgets, panels)
    return {
        "uid": dns_label(plan.name, "name")[:40],
        "title": f"{config.title}: {plan.name}",
        "tags": ["simscale", plan.name],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": WINDOWS[config.window], "to": "now"},
        "refresh": duration(max(5.0, plan.metrics_interval_s)),
        "templating": {"list": [{"name": "datasource", "label": "Prometheus",
                                 "type": "datasource", "query": "prometheus"}]},
        "annotations": {"list": [{"builtIn": 1, "name": "Annotations & Alerts", "enable": True,
                                  "hide": True, "type": "dashboard",
                                  "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "iconColor": "rgba(0, 211, 255, 1)"}]},
        "links": [],
        "panels": panels,
    }


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"dashboard.json"}."""
    return {FILE: json.dumps(dashboard_document(plan, losses), indent=2) + "\n"}
