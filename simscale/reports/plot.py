"""One run over time: a PNG of its time series and a self-contained HTML page (`simscale report`).

The chart has one panel per concern that the run recorded — latency percentiles, requests,
instances, CPU, cache hit rate, errors — on a shared time axis, with the spans during which
an alert fired shaded on every panel (orange: warning, red: critical). The HTML page holds
the grouped summary, the alerts, the chart (embedded as base64, so the page fetches
nothing) and the resolved spec. Needs matplotlib (the `plot` extra).
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

from simscale.errors import InputError

# (title, y label, [(column, legend label)], scale)
PANELS = (
    ("Latency", "s", [("latency_p50_s", "p50"), ("latency_p95_s", "p95"),
                      ("latency_p99_s", "p99")], 1.0),
    ("Requests", "req/s", [("arrivals_rps", "arrivals"), ("throughput_rps", "ok")], 1.0),
    ("Instances", "instances", [("instances_ready", "ready"), ("instances_booting", "booting"),
                                ("instances_draining", "draining")], 1.0),
    ("CPU", "%", [("cpu_util_frac", "CPU"), ("utilization", "slots held")], 100.0),
    ("Cache hit rate", "%", [("cache_hit_rate", "hit rate")], 100.0),
    ("Errors", "%", [("error_rate", "non-ok share")], 100.0),
)
SEVERITY_COLORS = {"warning": "#f0a020", "critical": "#d62728"}


@dataclass(frozen=True)
class AlertSpan:
    """A rule firing from start_s to end_s at its highest severity in between."""

    rule: str
    severity: str
    start_s: float
    end_s: float
    still_firing: bool


def alert_spans(events: list[tuple], end_s: float) -> list[AlertSpan]:
    """Firing spans from the run's alert events (kind `alert`): from a `Firing:` reason to
    the next `Resolved` of the same rule (or the end of the run)."""
    open_spans: dict[str, tuple[float, str]] = {}
    spans: list[AlertSpan] = []
    for t_s, kind, rule, reason in events:
        if kind != "alert":
            continue
        reason = str(reason)
        if reason.startswith("Firing:"):
            severity = reason.split()[0].split(":", 1)[1]
            start, worst = open_spans.get(rule, (float(t_s), severity))
            if severity == "critical":
                worst = "critical"
            open_spans[rule] = (start, worst)
        elif reason == "Resolved" and rule in open_spans:
            start, worst = open_spans.pop(rule)
            spans.append(AlertSpan(rule, worst, start, float(t_s), False))
    for rule, (start, worst) in open_spans.items():
        spans.append(AlertSpan(rule, worst, start, end_s, True))
    return sorted(spans, key=lambda s: (s.start_s, s.rule))


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise InputError("simscale report needs matplotlib: pip install 'simscale[plot]' "
                         "(or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def run_png(data) -> bytes:
    """The run's time series as PNG bytes (data: simscale.reports.rundir.RunData)."""
    plt = _matplotlib()
    rows = data.metric_rows
    if not rows:
        raise InputError(f"{data.path}: no metrics rows to plot")
    columns = set().union(*(r.keys() for r in rows))
    panels = [p for p in PANELS if any(c in columns and _has_values(rows, c) for c, _ in p[2])]
    times = [float(r["t_s"]) + float(r.get("interval_s") or 0) for r in rows]
    end_s = max(times)
    spans = alert_spans(data.events, end_s)
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(10, 1.9 * len(panels) + 0.8),
                             dpi=100, squeeze=False)
    for ax, (title, unit, series, scale) in zip(axes[:, 0], panels, strict=True):
        for column, label in series:
            if column in columns and _has_values(rows, column):
                ys = [None if r.get(column) is None else float(r[column]) * scale for r in rows]
                ax.plot(times, [float("nan") if y is None else y for y in ys], label=label,
                        linewidth=1.3)
        for span in spans:
            ax.axvspan(span.start_s, span.end_s, color=SEVERITY_COLORS.get(span.severity, "grey"),
                       alpha=0.18, linewidth=0)
        if unit in ("%", "instances"):
            ax.set_ylim(bottom=0)  # shares and counts: zero is a real floor here
        ax.set_ylabel(unit)
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small", ncols=len(series))
    axes[-1, 0].set_xlabel("simulated time (s, end of each metrics interval)")
    name = (data.summary or {}).get("name", data.name)
    shade = " · shaded: alerts firing (orange warning, red critical)" if spans else ""
    fig.suptitle(f"{name}{shade}", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _has_values(rows: list[dict], column: str) -> bool:
    return any(r.get(column) is not None for r in rows)


def run_html(data, png: bytes) -> str:
    """A self-contained page: summary (grouped), alerts, the chart (inline), the spec."""
    from simscale.reports.summary import compact

    summary = data.summary or {}
    name = html.escape(str(summary.get("name", data.name)))
    parts = [f"<h1>simscale run: {name}</h1>",
             f"<p class=dim>{html.escape(str(data.path))}</p>"]
    if data.problems:
        parts.append("<ul class=warn>" + "".join(f"<li>{html.escape(p)}</li>"
                                                for p in data.problems) + "</ul>")
    rows = []
    for group, pairs in compact(summary):
        for i, (key, value) in enumerate(pairs):
            head = f"<th rowspan={len(pairs)}>{html.escape(group)}</th>" if i == 0 else ""
            rows.append(f"<tr>{head}<td>{html.escape(key)}</td>"
                        f"<td class=num>{html.escape(value)}</td></tr>")
    parts.append("<h2>Summary</h2><table>" + "".join(rows) + "</table>")
    spans = alert_spans(data.events, float(summary.get("simulated_s") or 0.0))
    if spans:
        items = "".join(
            f"<tr><td>{html.escape(s.rule)}</td><td>{s.severity}</td>"
            f"<td class=num>{s.start_s:,.0f}</td><td class=num>{s.end_s:,.0f}"
            f"{' (end of run)' if s.still_firing else ''}</td></tr>" for s in spans)
        parts.append("<h2>Alerts fired</h2><table><tr><th>rule</th><th>severity</th>"
                     "<th>from, s</th><th>to, s</th></tr>" + items + "</table>")
    else:
        parts.append("<h2>Alerts fired</h2><p>none</p>")
    encoded = base64.b64encode(png).decode("ascii")
    parts.append(f'<h2>Over time</h2><img alt="time series of {name}" '
                 f'src="data:image/png;base64,{encoded}">')
    if data.spec:
        spec = html.escape(json.dumps(data.spec, indent=2))
        parts.append(f"<h2>Spec</h2><details><summary>resolved spec</summary><pre>{spec}</pre>"
                     "</details>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1100px}"
             "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;"
             "border-bottom:1px solid #ddd;vertical-align:top}.num{text-align:right;"
             "font-variant-numeric:tabular-nums}.dim{color:#777}.warn{color:#a60}"
             "img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>simscale run: {name}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(run_dir: Path, html_path: Path | None, png_path: Path | None) -> list[Path]:
    """Write the PNG and/or the HTML page of a run directory; returns the files written.
    Output paths are checked before any work; each file replaces the old one when complete."""
    from simscale.outputs import check_file_target, write_text
    from simscale.reports.rundir import load_run

    for label, target in (("--html ", html_path), ("--png ", png_path)):
        if target is not None:
            check_file_target(target, label)
    data = load_run(run_dir)
    png = run_png(data)
    written = []
    if png_path is not None:
        _write_bytes(Path(png_path), png)
        written.append(Path(png_path))
    if html_path is not None:
        write_text(Path(html_path), run_html(data, png))
        written.append(Path(html_path))
    return written


def _write_bytes(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
