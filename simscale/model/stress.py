"""The breaking point of a stress staircase (of rates, or of closed-loop users)."""

from __future__ import annotations

import numpy as np

from simscale.sections.workload import StairsArrivals, UserStairsArrivals


class StressProbe:
    """Per-step SLO check of a staircase (of rates, or of closed-loop users), reported as the
    breaking point.

    Each request counts for the step in which it arrived (the load it was offered under),
    unless it arrived in the step's first settle_s seconds. A step's p95 is over its ok
    responses: their latency, their time to first token (`ttft`: those that streamed an
    answer), or both (`api_and_ttft`: the p95 latency of those that streamed none and the
    p95 time to first token of those that did, the larger counting); its error fraction is
    (error + timeout + rejected) / arrivals. A step holds when its p95 is at most slo_p95_s
    and its error fraction at most slo_error_frac. summary.json, with U the unit (rps for a
    rate staircase, users for a user staircase): stress_steps_held (steps that held before
    the first one broke), stress_max_ok_<U> (the level of the last of those; null when the
    first broke), stress_breaking_<U> (the first that broke; null when none did),
    stress_breaking_p95_s (its p95) and stress_max_ok_throughput_rps (ok responses per
    judged second in the last step that held).
    """

    def __init__(self, spec: StairsArrivals | UserStairsArrivals, horizon_s: float) -> None:
        self.spec = spec
        self.horizon_s = horizon_s
        self.unit = "users" if isinstance(spec, UserStairsArrivals) else "rps"
        self.levels = spec.levels() if self.unit == "users" else spec.rates_rps()
        self.settle_s = spec.settle_s if isinstance(spec, UserStairsArrivals) else 0.0
        self.metric = spec.slo_metric
        steps = len(self.levels)
        self.api: list[list[float]] = [[] for _ in range(steps)]
        self.first: list[list[float]] = [[] for _ in range(steps)]
        self.arrived = [0] * steps
        self.bad = [0] * steps

    def on_end(self, req, status: int, now: float) -> None:
        """Count a request for the step in which it arrived."""
        arrival = req.info.arrival_s
        step = min(int(arrival // self.spec.step_s), len(self.levels) - 1)
        if arrival - step * self.spec.step_s < self.settle_s:
            return
        self.arrived[step] += 1
        if status != 0:
            self.bad[step] += 1
        elif self.metric == "latency":
            self.api[step].append(now - arrival)
        elif req.ttft_s >= 0:
            self.first[step].append(req.ttft_s)
        elif self.metric == "api_and_ttft":
            self.api[step].append(now - arrival)

    def steps(self) -> list[dict]:
        """One row per step offered during the run: its level, arrivals and ok responses
        judged, p95 of the SLO metric, error fraction, judged seconds."""
        rows = []
        step_s = self.spec.step_s
        for k, level in enumerate(self.levels):
            if k * step_s >= self.horizon_s:
                break
            n = self.arrived[k]
            p95s = [float(np.quantile(v, 0.95)) for v in (self.api[k], self.first[k]) if v]
            end = (k + 1) * step_s if k < len(self.levels) - 1 else self.horizon_s
            rows.append({"level": level, "arrivals": n, "p95_s": max(p95s) if p95s else None,
                         "ok": len(self.api[k]) + len(self.first[k]),
                         "error_frac": self.bad[k] / n if n else 0.0,
                         "judged_s": max(0.0, min(end, self.horizon_s) - k * step_s
                                         - self.settle_s)})
        return rows

    def summary(self, summary: dict) -> None:
        """The breaking point into summary.json (only with slo_p95_s)."""
        slo = self.spec.slo_p95_s
        if slo is None:
            return
        held, max_ok, breaking, breaking_p95, throughput = 0, None, None, None, None
        for row in self.steps():
            p95 = row["p95_s"]
            good = p95 is not None and p95 <= slo and row["error_frac"] <= self.spec.slo_error_frac
            if not good:
                breaking, breaking_p95 = row["level"], p95
                break
            held += 1
            max_ok = row["level"]
            throughput = row["ok"] / row["judged_s"] if row["judged_s"] > 0 else None
        summary["stress_steps_held"] = held
        summary[f"stress_max_ok_{self.unit}"] = max_ok
        summary[f"stress_breaking_{self.unit}"] = breaking
        summary["stress_breaking_p95_s"] = breaking_p95
        summary["stress_max_ok_throughput_rps"] = throughput
