"""A sweep's metric against a swept parameter as a PNG: the mean with its t confidence band,
one line per combination of the other parameters, SLOs as dashed lines."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.sweep.compare import t_interval
from simscale.sweep.table import PARAM_PREFIX, SummaryData

LOG_SPAN = 30.0  # an axis whose positive data spans this ratio or more is drawn in log scale


def _sort_key(key: tuple) -> tuple:
    """Numbers by value, then text: legends read 2, 4, 10 and not 10, 2, 4."""
    return tuple((0, float(v), "") if isinstance(v, int | float) and not isinstance(v, bool)
                 else (1, 0.0, str(v)) for v in key)


def _spans_decades(values) -> bool:
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= LOG_SPAN


def plot_metric(data: SummaryData, metric: str, x_param: str, path: str | Path,
                confidence: float = 0.95, slos=()) -> Path:
    """PNG of a metric's mean against a swept parameter, with its t confidence band.

    One line per combination of the other swept parameters, in sorted legend order. A
    numeric parameter gets a line with a shaded band; any other gets points with error bars.
    An axis whose data spans LOG_SPAN or more (all positive) is logarithmic; each SLO on the
    metric (simscale.monitoring.slo.Slo) is a dashed horizontal line. Needs matplotlib.
    """
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x_param not in data.parameters:
        raise InputError(f"--x {x_param}: not a swept parameter "
                         f"(parameters: {', '.join(data.parameters)})")
    if metric not in data.numeric_columns():
        raise InputError(f"--plot {metric}: no numeric metric of that name")
    others = [p for p in data.parameters if p != x_param]
    groups = _groups(data, metric, x_param, others)
    xs_all = [x for g in groups.values() for x in g]
    numeric_x = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs_all)
    categories = list(dict.fromkeys(data.columns[PARAM_PREFIX + x_param]))

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    drawn: list[float] = []
    for key in sorted(groups, key=_sort_key):
        label = ", ".join(f"{p}={v}" for p, v in zip(others, key, strict=True)) or metric
        drawn += _draw(ax, groups[key], label, numeric_x, categories, confidence)
    for slo in slos:
        if slo.metric == metric:
            ax.axhline(slo.threshold, color="#d62728", linestyle="--", linewidth=1.2,
                       label=f"SLO {slo}")
            drawn.append(slo.threshold)
    _axes(ax, drawn, xs_all, numeric_x, categories, metric, x_param, confidence)
    if len(groups) > 1 or any(s.metric == metric for s in slos):
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, Path(path))


def _groups(data: SummaryData, metric: str, x_param: str,
            others: list[str]) -> dict[tuple, dict[Any, list[float]]]:
    """The ok runs' values of `metric`, by the other parameters' values, then by x."""
    cols = data.columns
    groups: dict[tuple, dict[Any, list[float]]] = {}
    for i, status in enumerate(cols["run_status"]):
        value = cols[metric][i]
        if status != "ok" or value is None:
            continue
        key = tuple(cols[PARAM_PREFIX + p][i] for p in others)
        groups.setdefault(key, {}).setdefault(cols[PARAM_PREFIX + x_param][i], []).append(value)
    return groups


def _draw(ax, by_x: dict[Any, list[float]], label: str, numeric_x: bool,
          categories: list, confidence: float) -> list[float]:
    """One group: a line with its band (numeric x) or points with error bars; the y values
    drawn (for the log-scale choice)."""
    import numpy as np

    xs = sorted(by_x) if numeric_x else [c for c in categories if c in by_x]
    ivs = [t_interval(np.array(by_x[x], float), confidence) for x in xs]
    mean = np.array([iv.mean for iv in ivs])
    low = np.array([iv.low if math.isfinite(iv.low) else iv.mean for iv in ivs])
    high = np.array([iv.high if math.isfinite(iv.high) else iv.mean for iv in ivs])
    if numeric_x:
        line, = ax.plot(xs, mean, marker="o", label=label)
        ax.fill_between(xs, low, high, alpha=0.2, color=line.get_color())
    else:
        pos = [categories.index(x) for x in xs]
        ax.errorbar(pos, mean, yerr=[mean - low, high - mean], fmt="o", capsize=4,
                    label=label)
    return [*low.tolist(), *high.tolist()]


def _axes(ax, drawn: list[float], xs_all: list, numeric_x: bool, categories: list,
          metric: str, x_param: str, confidence: float) -> None:
    """Scales (log over decades), ticks, labels, title and grid."""
    if _spans_decades(drawn):
        ax.set_yscale("log")
    if numeric_x and _spans_decades(xs_all):
        ax.set_xscale("log")
    if not numeric_x:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories], rotation=20)
    ax.set_xlabel(x_param + (" (log)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel(metric + (" (log)" if ax.get_yscale() == "log" else ""))
    ax.set_title(f"{metric} against {x_param} (mean, {confidence:.0%} CI)")
    ax.grid(True, alpha=0.3)


def _save(fig, path: Path) -> Path:
    """Write the figure under a temporary name and rename it into place."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial.png")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
