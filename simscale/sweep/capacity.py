"""Capacity planning: the cheapest setting that meets an SLO with confidence; stress-to-break.

A point (one value of the varied field) runs R replications with seeds seed..seed+R-1, the
same at every point (common random numbers). An SLO `metric<=threshold` holds at a point
when the one-sided upper confidence bound of the metric's mean over the replications,
mean + t(c, R-1)·s/√R, is at most the threshold (`>=`: the lower bound is at least it);
see Law, *Simulation Modeling and Analysis*, 5th ed., §9.4.1. A point where any run did not
complete, or lacks the metric, fails.

Search (`bisect`, the default) assumes the SLO metric is monotone in the varied field: it
evaluates both ends, and if the SLO holds at one end only, bisects to the feasible point
nearest the failing end (to a tolerance: 1 for integers, 1% of the range for floats). The
answer is the cheaper (by the objective's mean) of that boundary and the feasible end.
`grid` evaluates evenly spaced points and makes no monotonicity assumption.

Stress-to-break finds the highest value of a field (by default the arrival rate,
workload.arrivals.rate_rps) at which the SLO still holds: from a LOW:HIGH range, or by
doubling (or halving) the base value until the SLO fails (holds), then bisecting to 1%.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simscale.errors import InputError
from simscale.monitoring.slo import Slo
from simscale.sweep.compare import COST_METRICS, one_sided_bound
from simscale.sweep.engine import execute
from simscale.sweep.pools import open_pool
from simscale.sweep.runlist import RunTask, base_data

STRESS_PATH = "workload.arrivals.rate_rps"
MAX_BRACKET_STEPS = 12
_VARY = re.compile(r"^\s*([^=\s]+)\s*=\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Vary:
    """The varied field and its range; integer when both ends are written as integers."""

    path: str
    low: float
    high: float
    integer: bool


def parse_vary(text: str) -> Vary:
    """'instances.count=2:12' → Vary; InputError when it does not parse or LOW > HIGH."""
    m = _VARY.match(text)
    if not m:
        raise InputError(f"--vary {text}: expected PATH=LOW:HIGH")
    path, lo_text, hi_text = m.groups()
    integer = all(re.fullmatch(r"[-+]?\d+", t) for t in (lo_text, hi_text))
    try:
        low, high = float(lo_text), float(hi_text)
    except ValueError:
        raise InputError(f"--vary {text}: LOW and HIGH must be numbers") from None
    if low >= high:
        raise InputError(f"--vary {text}: LOW must be below HIGH")
    if not all(path.split(".")):
        raise InputError(f"--vary {text}: {path!r} is not a dotted field path")
    return Vary(path, low, high, integer)


@dataclass
class Point:
    """One evaluated value: the SLO checks over its replications and the objective's mean."""

    value: float
    runs: int
    checks: list[tuple[Slo, float, float, bool]]  # (slo, mean, bound, holds)
    objective: float
    feasible: bool
    problem: str | None = None


@dataclass
class PlanResult:
    """The search and its answer (best is None when no evaluated point meets the SLO)."""

    mode: str  # "minimize" or "stress"
    path: str
    slos: list[Slo]
    objective: str | None
    confidence: float
    replications: int
    points: list[Point]
    best: Point | None
    message: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "path": self.path, "slos": [str(s) for s in self.slos],
            "objective": self.objective, "confidence": self.confidence,
            "replications": self.replications, "message": self.message, "notes": self.notes,
            "best": self.best.value if self.best else None,
            "points": [
                {"value": p.value, "runs": p.runs, "feasible": p.feasible,
                 "objective": _json_float(p.objective), "problem": p.problem,
                 "checks": [{"slo": str(s), "mean": _json_float(m), "bound": _json_float(b),
                             "holds": h} for s, m, b, h in p.checks]}
                for p in self.points
            ],
        }


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


class Evaluator:
    """Runs R replications of the base spec with one field set, and caches each point."""

    def __init__(self, spec_path: str | Path, overrides: list[str], seed: int | None,
                 path: str, integer: bool, slos: list[Slo], objective: str | None,
                 replications: int, confidence: float, pool,
                 on_point: Callable[[Point], None] | None = None) -> None:
        self.base = base_data(Path(spec_path), overrides, seed)
        self.source = str(spec_path)
        self.path = path
        self.integer = integer
        self.slos = slos
        self.objective = objective
        self.replications = replications
        self.confidence = confidence
        self.pool = pool
        self.on_point = on_point
        self.cache: dict[float, Point] = {}
        self.seed0 = self.validate(None).seed

    def cast(self, value: float) -> float | int:
        return int(round(value)) if self.integer else float(value)

    def data(self, value: float | None) -> dict:
        import copy

        data = copy.deepcopy(self.base)
        if value is None:
            return data
        node = data
        keys = self.path.split(".")
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise InputError(f"--vary {self.path}: {'.'.join(keys[:i + 1])} is not a table")
            node = child
        node[keys[-1]] = self.cast(value)
        return data

    def validate(self, value: float | None):
        """The validated spec at `value` (the base when None); InputError names the value."""
        from simscale.spec import spec_from_dict

        where = self.source if value is None else f"--vary {self.path}={self.cast(value)}"
        return spec_from_dict(self.data(value), where)

    def base_value(self) -> float:
        node: Any = self.validate(None).model_dump(mode="json")
        for key in self.path.split("."):
            if not isinstance(node, dict) or key not in node:
                raise InputError(f"{self.source}: {self.path}: no such field in the spec")
            node = node[key]
        if not isinstance(node, int | float) or isinstance(node, bool):
            raise InputError(f"{self.source}: {self.path}: not a number ({node!r})")
        return float(node)

    def __call__(self, value: float) -> Point:
        value = float(self.cast(value))
        if value in self.cache:
            return self.cache[value]
        spec = self.validate(value)
        data = self.data(value)
        tasks = []
        for r in range(self.replications):
            seed = self.seed0 + r
            sha = spec.model_copy(update={"seed": seed}).sha256()
            tasks.append(RunTask(f"{self.path}={self.cast(value)}", len(self.cache), r, seed,
                                 {self.path: self.cast(value)}, {**data, "seed": seed}, sha,
                                 "summary"))
        records: list[dict] = []
        execute(tasks, self.pool, None, records.append)
        point = self.judge(value, sorted(records, key=lambda rec: rec["replication"]))
        self.cache[value] = point
        if self.on_point is not None:
            self.on_point(point)
        return point

    def judge(self, value: float, records: list[dict]) -> Point:
        failed = [r for r in records if r["status"] != "ok"]
        problem = None
        if failed:
            problem = f"{len(failed)} run(s) did not complete: {failed[0].get('error')}"
        metrics = [{**r.get("summary", {}), **r.get("derived", {})} for r in records
                   if r["status"] == "ok"]
        if metrics:
            if self.objective == "cost":
                self.objective = resolve_objective("cost", metrics[0])
            self._check_names(metrics[0])
        checks = []
        for slo in self.slos:
            values = np.array([m[slo.metric] for m in metrics if m.get(slo.metric) is not None],
                              float)
            mean = float(values.mean()) if values.size else math.nan
            if values.size < len(records):
                bound, holds = math.nan, False
                problem = problem or f"{slo.metric} missing in {len(records) - values.size} run(s)"
            else:
                bound = one_sided_bound(values, self.confidence, slo.upper)
                holds = slo.holds(bound)
            checks.append((slo, mean, bound, holds))
        objective = math.nan
        if self.objective is not None:
            obj = [m[self.objective] for m in metrics if m.get(self.objective) is not None]
            objective = float(np.mean(obj)) if obj else math.nan
        feasible = problem is None and all(c[3] for c in checks)
        return Point(value, len(records), checks, objective, feasible, problem)

    def _check_names(self, metrics: dict) -> None:
        known = sorted(k for k, v in metrics.items()
                       if isinstance(v, int | float) and not isinstance(v, bool))
        names = [s.metric for s in self.slos] + ([self.objective] if self.objective else [])
        for name in names:
            if name not in metrics:
                raise InputError(f"no metric {name!r} in the run summary "
                                 f"(metrics: {', '.join(known)})")


def resolve_objective(name: str, sample: dict) -> str:
    """'cost' → cost_usd when runs report it, else instance_hours; other names unchanged."""
    if name != "cost":
        return name
    return next((m for m in COST_METRICS if m in sample), COST_METRICS[-1])


def plan(spec_path: str | Path, slos: list[Slo], vary: Vary | None, *,
         minimize: str = "cost", stress: bool = False, replications: int = 5,
         confidence: float = 0.95, overrides: list[str] | None = None,
         seed: int | None = None, method: str = "bisect", points: int = 9,
         tolerance: float | None = None, workers: int | None = None, engine: str = "local",
         address: str | None = None,
         on_point: Callable[[Point], None] | None = None) -> PlanResult:
    """Search the varied field; see the module docstring. Raises InputError for bad input
    (an SLO or range that does not parse, a field the spec does not have, a metric the runs
    do not report) before or as soon as it is found."""
    if not slos:
        raise InputError("--slo: give at least one SLO, e.g. 'latency_p95_s<=1.0'")
    if replications < 2:
        raise InputError("--replications: a confidence bound needs at least 2")
    if not 0.5 <= confidence < 1:
        raise InputError(f"--confidence {confidence}: must lie in [0.5, 1)")
    if method not in ("bisect", "grid"):
        raise InputError(f"--method {method}: expected bisect or grid")
    if vary is None and not stress:
        raise InputError("--vary PATH=LOW:HIGH is required (or --stress)")
    if method == "grid" and (vary is None or points < 2):
        raise InputError("--method grid needs --vary and --points of at least 2")
    path = vary.path if vary is not None else STRESS_PATH
    integer = vary.integer if vary is not None else False
    objective = None if stress else minimize

    pool = None
    try:
        ev = Evaluator(spec_path, overrides or [], seed, path, integer, slos, objective,
                       replications, confidence, None, on_point)
        if vary is None:
            ev.base_value()
        else:
            ev.validate(vary.low)
            ev.validate(vary.high)
        pool = open_pool(engine, workers, address)
        ev.pool = pool
        if stress:
            result = _stress(ev, vary, tolerance)
        elif method == "grid":
            result = _grid(ev, vary, points)
        else:
            result = _bisect(ev, vary, tolerance)
    finally:
        if pool is not None:
            pool.close()
    result.points = sorted(ev.cache.values(), key=lambda p: p.value)
    return result


def _result(ev: Evaluator, mode: str, best: Point | None, message: str,
            notes: list[str] | None = None) -> PlanResult:
    return PlanResult(mode, ev.path, ev.slos, ev.objective, ev.confidence, ev.replications,
                      [], best, message, notes or [])


def _cheapest(candidates: list[Point]) -> Point | None:
    feasible = [p for p in candidates if p.feasible]
    if not feasible:
        return None
    return min(feasible, key=lambda p: (p.objective if math.isfinite(p.objective)
                                        else math.inf, p.value))


def _bisect(ev: Evaluator, vary: Vary, tolerance: float | None) -> PlanResult:
    lo, hi = ev(vary.low), ev(vary.high)
    slo_text = " and ".join(map(str, ev.slos))
    if not lo.feasible and not hi.feasible:
        return _result(ev, "minimize", None,
                       f"{slo_text} fails at both {ev.path}={_v(ev, vary.low)} and "
                       f"{_v(ev, vary.high)}: no setting in the range meets it")
    notes = []
    if lo.feasible and hi.feasible:
        best = _cheapest([lo, hi])
        notes.append("the SLO holds at both ends; with a monotone objective the cheaper end "
                     "is the answer (use --method grid to search inside)")
    else:
        ok, bad = (lo, hi) if lo.feasible else (hi, lo)
        tol = tolerance if tolerance is not None else (1.0 if ev.integer
                                                        else (vary.high - vary.low) / 100)
        ok_v, _ = _narrow(ev, ok.value, bad.value, lambda _ok_v: tol)
        best = _cheapest([ev(ok_v), ok])
    return _result(ev, "minimize", best, _answer(ev, best), notes)


def _narrow(ev: Evaluator, ok_v: float, bad_v: float,
            tolerance_of: Callable[[float], float]) -> tuple[float, float]:
    """Bisect between a value where the SLO holds and one where it fails until they are
    within tolerance_of(ok_v) (whole numbers: until they are neighbours)."""
    while abs(ok_v - bad_v) > max(tolerance_of(ok_v), 1.0 if ev.integer else 0.0):
        mid = (ok_v + bad_v) / 2
        if ev.integer:
            mid = math.floor(mid)
            if mid in (ok_v, bad_v):
                break
        if ev(mid).feasible:
            ok_v = mid
        else:
            bad_v = mid
    return ok_v, bad_v


def _grid(ev: Evaluator, vary: Vary, n: int) -> PlanResult:
    values = np.linspace(vary.low, vary.high, n).tolist()
    if ev.integer:
        values = sorted({int(round(v)) for v in values})
    ev(values[0])
    best = _cheapest([ev(v) for v in values])
    if best is None:
        return _result(ev, "minimize", None,
                       f"{' and '.join(map(str, ev.slos))} fails at every point of the grid")
    return _result(ev, "minimize", best, _answer(ev, best))


def _stress(ev: Evaluator, vary: Vary | None, tolerance: float | None) -> PlanResult:
    slo_text = " and ".join(map(str, ev.slos))
    notes = []
    if vary is not None:
        ok_v, bad_v = vary.low, vary.high
        if not ev(ok_v).feasible:
            return _result(ev, "stress", None,
                           f"{slo_text} fails already at {ev.path}={_v(ev, ok_v)}")
        if ev(bad_v).feasible:
            best = ev(bad_v)
            return _result(ev, "stress", best,
                           f"{slo_text} still holds at the top of the range, "
                           f"{ev.path}={_v(ev, bad_v)}: raise HIGH to find where it breaks")
    else:
        x0 = ev.base_value()
        if ev(x0).feasible:
            ok_v, bad_v = x0, None
            for _ in range(MAX_BRACKET_STEPS):
                x = ok_v * 2
                if ev(x).feasible:
                    ok_v = x
                else:
                    bad_v = x
                    break
            if bad_v is None:
                return _result(ev, "stress", ev(ok_v),
                               f"{slo_text} still holds at {ev.path}={_v(ev, ok_v)} "
                               f"({2 ** MAX_BRACKET_STEPS}× the spec's value)")
        else:
            ok_v, bad_v = None, x0
            for _ in range(MAX_BRACKET_STEPS):
                x = bad_v / 2
                if ev(x).feasible:
                    ok_v = x
                    break
                bad_v = x
            if ok_v is None:
                return _result(ev, "stress", None,
                               f"{slo_text} fails even at {ev.path}={_v(ev, bad_v)}")
        notes.append(f"bracketed from the spec's {ev.path}={_v(ev, x0)}")
    ok_v, bad_v = _narrow(ev, ok_v, bad_v, lambda ok_v: (
        tolerance if tolerance is not None else (1.0 if ev.integer else 0.01 * ok_v)))
    best = ev(ok_v)
    return _result(ev, "stress", best,
                   f"highest {ev.path} at which {slo_text} holds with "
                   f"{ev.confidence:.0%} confidence: {_v(ev, ok_v)} (fails at {_v(ev, bad_v)})",
                   notes)


def _v(ev: Evaluator, value: float) -> str:
    v = ev.cast(value)
    return str(v) if isinstance(v, int) else f"{v:.6g}"


def _answer(ev: Evaluator, best: Point | None) -> str:
    slo_text = " and ".join(map(str, ev.slos))
    if best is None:
        return f"no evaluated setting meets {slo_text}"
    return (f"cheapest {ev.path} meeting {slo_text} with {ev.confidence:.0%} confidence: "
            f"{_v(ev, best.value)} ({ev.objective} {best.objective:.4g})")
