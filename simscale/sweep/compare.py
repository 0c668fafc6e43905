"""Statistics over a sweep's summary table: intervals, paired differences, ranking, Pareto front.

Methods (see Law, *Simulation Modeling and Analysis*, 5th ed., §9.4.1 and §10.2.1):

- Each variant's metric: the mean over its replications with a two-sided Student t
  confidence interval, mean ± t(1-α/2, n-1)·s/√n (n replications, s the sample SD).
- Difference from the baseline: replications with the same index ran with the same seed
  (common random numbers), so they are paired: d_r = x_variant,r − x_baseline,r, with a
  t interval on mean(d) and a paired t-test (scipy.stats.ttest_rel). The Wilcoxon
  signed-rank test (scipy.stats.wilcoxon) is an optional distribution-free alternative.
  If every d_r is equal the t statistic is undefined; p is then 1 when d = 0, else 0.
- Only complete runs (run_status "ok") count; a replication whose baseline or variant
  run did not complete is left out of the pairs.
- Ranking: variants ordered by the mean of one metric (lower is better unless its goal is
  "max"); ties keep design order.
- Pareto front of cost against p95 latency: the variants that no other variant beats on
  both mean cost and mean latency_p95_s. Cost is `cost_usd` when the runs report it, else
  `instance_hours` (Σ ready instances × metrics interval, computed from metrics.parquet).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simscale.errors import InputError
from simscale.sweep.table import PARAM_PREFIX, SummaryData

# Metrics where more is better; every other metric ranks lower-is-better by default.
HIGHER_IS_BETTER = frozenset({"ok", "throughput_rps", "goodput_rps", "utilization",
                              "cache_hit_frac", "hit_frac"})
SKIPPED_BY_DEFAULT = frozenset({"duration_s", "simulated_s"})
LATENCY_METRIC = "latency_p95_s"
COST_METRICS = ("cost_usd", "instance_hours")


@dataclass(frozen=True)
class Interval:
    """A sample mean with its two-sided t confidence interval (NaN bounds when n < 2)."""

    n: int
    mean: float
    sd: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedDiff:
    """variant − baseline over paired replications, with tests of mean difference = 0."""

    interval: Interval
    p_t: float
    p_wilcoxon: float | None = None


@dataclass
class Comparison:
    """Every statistic `simscale compare` shows."""

    metrics: list[str]
    variants: list[str]
    params: dict[str, dict[str, Any]]
    baseline: str
    confidence: float
    stats: dict[tuple[str, str], Interval]
    diffs: dict[tuple[str, str], PairedDiff]
    rank_metric: str
    rank_goal: str
    ranking: list[str]
    cost_metric: str | None
    pareto: list[str]
    runs_left_out: dict[str, int] = field(default_factory=dict)


def t_interval(values: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean and two-sided Student t interval of independent replications."""
    from scipy import stats

    n = int(values.size)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if n < 2:
        return Interval(1, mean, math.nan, math.nan, math.nan)
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(n, mean, sd, mean - half, mean + half)


def one_sided_bound(values: np.ndarray, confidence: float, upper: bool) -> float:
    """One-sided Student t bound on the mean: mean ± t(confidence, n-1)·s/√n (∓inf if n < 2)."""
    from scipy import stats

    n = int(values.size)
    if n < 2:
        return math.inf if upper else -math.inf
    mean = float(values.mean())
    half = float(stats.t.ppf(confidence, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean + half if upper else mean - half


def paired_difference(x: np.ndarray, base: np.ndarray, confidence: float = 0.95,
                      wilcoxon: bool = False) -> PairedDiff:
    """x − base, paired element by element: t interval, paired t-test, optional Wilcoxon."""
    from scipy import stats

    d = x - base
    interval = t_interval(d, confidence)
    if d.size < 2:
        p_t = math.nan
    elif float(d.std(ddof=1)) == 0.0:
        p_t = 1.0 if float(d.mean()) == 0.0 else 0.0
    else:
        p_t = float(stats.ttest_rel(x, base).pvalue)
    p_w = None
    if wilcoxon:
        if d.size == 0:
            p_w = math.nan
        elif not np.any(d != 0):
            p_w = 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p_w = float(stats.wilcoxon(d).pvalue)
    return PairedDiff(interval, p_t, p_w)


def default_metrics(data: SummaryData) -> list[str]:
    """The sweep's own metric list, else every numeric column worth comparing."""
    numeric = data.numeric_columns()
    wanted = [m for m in data.meta.get("metrics") or [] if m in numeric]
    return wanted or [m for m in numeric if m not in SKIPPED_BY_DEFAULT]


def cost_metric(data: SummaryData) -> str | None:
    """cost_usd when the runs report it, else instance_hours (None when neither exists)."""
    numeric = set(data.numeric_columns())
    return next((m for m in COST_METRICS if m in numeric), None)


def goal_of(metric: str) -> str:
    return "max" if metric in HIGHER_IS_BETTER or metric.endswith("_hit_frac") else "min"


def compare(data: SummaryData, metrics: list[str] | None = None, baseline: str | None = None,
            confidence: float = 0.95, rank_by: str | None = None, goal: str | None = None,
            wilcoxon: bool = False) -> Comparison:
    """All statistics of a sweep. Raises InputError for an unknown metric or variant."""
    if not 0 < confidence < 1:
        raise InputError(f"--confidence {confidence}: must lie between 0 and 1")
    numeric = data.numeric_columns()
    metrics = list(metrics) if metrics else default_metrics(data)
    unknown = [m for m in metrics if m not in numeric]
    if unknown:
        raise InputError(f"{data.source}: no numeric metric {', '.join(map(repr, unknown))} "
                         f"(metrics: {', '.join(numeric)})")
    variants = data.variants
    if not variants:
        raise InputError(f"{data.source}: the sweep has no runs")
    baseline = baseline or data.meta.get("baseline") or variants[0]
    if baseline not in variants:
        raise InputError(f"{data.source}: no variant {baseline!r} (variants: "
                         f"{', '.join(variants)})")
    rank_metric, rank_goal = _ranking_metric(data, metrics, rank_by, goal)
    ok_rows = _ok_rows(data)
    statuses = data.columns["run_status"]
    left_out = {v: sum(1 for var, st in zip(data.columns["variant"], statuses, strict=True)
                       if var == v and st != "ok") for v in variants}
    stats, diffs = _statistics(data, ok_rows, [*metrics, rank_metric], baseline, confidence,
                               wilcoxon)
    ranking = rank_variants(variants, {v: stats[(v, rank_metric)].mean for v in variants},
                            rank_goal)
    cost = cost_metric(data)
    pareto = _cost_latency_front(data, ok_rows, cost) if cost is not None else []
    params: dict[str, dict[str, Any]] = {}
    for i, v in enumerate(data.columns["variant"]):
        if v not in params:
            params[v] = {p: data.columns[PARAM_PREFIX + p][i] for p in data.parameters
                         if PARAM_PREFIX + p in data.columns}
    return Comparison(metrics, variants, params, baseline, confidence, stats, diffs,
                      rank_metric, rank_goal, ranking, cost, pareto, left_out)


def _ranking_metric(data: SummaryData, metrics: list[str], rank_by: str | None,
                    goal: str | None) -> tuple[str, str]:
    """The metric variants are ranked by and its goal (min or max): given, the sweep's own,
    or the first metric and the goal its name implies."""
    meta_rank = data.meta.get("rank") or {}
    rank_metric = rank_by or meta_rank.get("metric") or metrics[0]
    if rank_metric not in data.numeric_columns():
        raise InputError(f"{data.source}: no numeric metric {rank_metric!r} to rank by "
                         f"(metrics: {', '.join(data.numeric_columns())})")
    if goal is None:
        goal = meta_rank.get("goal") if rank_metric == meta_rank.get("metric") else None
    return rank_metric, goal or goal_of(rank_metric)


def _statistics(data: SummaryData, ok_rows: list[int], metrics: list[str], baseline: str,
                confidence: float, wilcoxon: bool):
    """Each (variant, metric)'s interval, and its paired difference from the baseline."""
    stats: dict[tuple[str, str], Interval] = {}
    diffs: dict[tuple[str, str], PairedDiff] = {}
    for metric in dict.fromkeys(metrics):
        by_rep = {v: _values_by_replication(data, ok_rows, v, metric) for v in data.variants}
        for v in data.variants:
            stats[(v, metric)] = t_interval(np.array(list(by_rep[v].values()), float),
                                            confidence)
            if v != baseline:
                reps = sorted(set(by_rep[v]) & set(by_rep[baseline]))
                x = np.array([by_rep[v][r] for r in reps], float)
                b = np.array([by_rep[baseline][r] for r in reps], float)
                diffs[(v, metric)] = paired_difference(x, b, confidence, wilcoxon)
    return stats, diffs


def _cost_latency_front(data: SummaryData, ok_rows: list[int], cost: str) -> list[str]:
    """The variants on the cost–latency Pareto front (none without the latency metric)."""
    if LATENCY_METRIC not in data.numeric_columns():
        return []
    points = {}
    for v in data.variants:
        c = _mean(data, ok_rows, v, cost)
        lat = _mean(data, ok_rows, v, LATENCY_METRIC)
        if math.isfinite(c) and math.isfinite(lat):
            points[v] = (c, lat)
    return pareto_front(points)


def rank_variants(variants: list[str], means: dict[str, float], goal: str) -> list[str]:
    """Variants best first by mean (NaN means last); ties keep the given order."""
    sign = -1.0 if goal == "max" else 1.0

    def key(item: tuple[int, str]) -> tuple[bool, float, int]:
        i, v = item
        m = means[v]
        return (not math.isfinite(m), sign * m if math.isfinite(m) else 0.0, i)

    return [v for _, v in sorted(enumerate(variants), key=key)]


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats on both coordinates (both minimized),
    cheapest first."""
    front = []
    for name, (c, lat) in points.items():
        dominated = any(c2 <= c and l2 <= lat and (c2 < c or l2 < lat)
                        for other, (c2, l2) in points.items() if other != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: points[n])


def _ok_rows(data: SummaryData) -> list[int]:
    return [i for i, st in enumerate(data.columns["run_status"]) if st == "ok"]


def _values_by_replication(data: SummaryData, rows: list[int], variant: str,
                           metric: str) -> dict[int, float]:
    variants = data.columns["variant"]
    reps = data.columns["replication"]
    values = data.columns[metric]
    return {reps[i]: float(values[i]) for i in rows
            if variants[i] == variant and values[i] is not None}


def _mean(data: SummaryData, rows: list[int], variant: str, metric: str) -> float:
    values = list(_values_by_replication(data, rows, variant, metric).values())
    return float(np.mean(values)) if values else math.nan
