"""Every summary and metrics-row statistic equals the same statistic recomputed from the raw
rows of requests.parquet and events.parquet, for random small specs (and
api_latency_p50/p95/p99_s, the percentiles of the ok responses that streamed no LLM answer).

The recomputation is written out here rather than borrowed from simscale: quantiles are the
linear interpolation of the sorted values (Hyndman and Fan's type 7, what the runner asks
numpy for), a metrics row [t_s, next t_s) holds the requests that ended in it (the last row
also those that ended at its close) and the arrivals that arrived in it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.model.runner import run
from simscale.spec import spec_from_dict

QS = (0.5, 0.95, 0.99)
STATUSES = ("ok", "error", "timeout", "rejected")


def type7(values: np.ndarray, q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (Hyndman-Fan 7)."""
    ordered = np.sort(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (h - low) * (ordered[high] - ordered[low]))


def same(got, want) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def columns(path) -> dict[str, np.ndarray]:
    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        column = table[name]
        if column.type in ("string", "large_string") or str(column.type) == "string":
            out[name] = np.array(column.to_pylist(), dtype=object)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out


# ---------------------------------------------------------------- random small specs

service = st.one_of(
    st.builds(lambda m: {"kind": "exponential", "mean_s": m}, st.floats(0.005, 0.3)),
    st.builds(lambda m, cv: {"kind": "lognormal", "mean_s": m, "cv": cv},
              st.floats(0.005, 0.3), st.floats(0.2, 2.0)),
    st.builds(lambda m, cv: {"kind": "gamma", "mean_s": m, "cv": cv},
              st.floats(0.005, 0.3), st.floats(0.3, 2.0)),
)
LLM_MIX = {
    "chat": {"weight": 0.6, "llm": True, "service": {"kind": "exponential", "mean_s": 0.01},
             "prompt_tokens": {"mean": 300, "cv": 1.0, "max": 2000},
             "output_tokens": {"mean": 40, "cv": 0.8, "max": 300}},
    "api": {"weight": 0.4, "service": {"kind": "lognormal", "mean_s": 0.02, "cv": 1.0}},
}


@st.composite
def small_specs(draw) -> dict:
    duration_s = draw(st.floats(3.0, 30.0))
    data = {
        "name": "recomputed", "duration_s": duration_s, "seed": draw(st.integers(0, 2**31)),
        "workload": {"arrivals": {"kind": "poisson", "rate_rps": draw(st.floats(5.0, 150.0))},
                     "service": draw(service)},
        "instances": {"count": draw(st.integers(1, 4)), "slots": draw(st.integers(1, 4)),
                      "cores": draw(st.integers(1, 4)),
                      "queue_limit": draw(st.one_of(st.none(), st.integers(0, 10)))},
        "balancer": {"policy": draw(st.sampled_from(
            ["round_robin", "random", "least_connections", "power_of_two_choices"]))},
        "timeouts": {"request_s": draw(st.one_of(st.none(), st.floats(0.05, 3.0)))},
        "metrics": {"interval_s": draw(st.sampled_from([0.5, 1.0, 2.5, 5.0, 10.0]))},
    }
    if draw(st.booleans()):
        data["workload"] = {"arrivals": data["workload"]["arrivals"], "mix": LLM_MIX}
        data["upstream"] = {"ttft_base_s": draw(st.floats(0.01, 0.5)), "tpot_s": 0.005,
                            "max_streams": draw(st.one_of(st.none(), st.integers(1, 8))),
                            "on_limit": draw(st.sampled_from(["queue", "fail"]))}
    resilience = {}
    if draw(st.booleans()):
        resilience["retry"] = {"max_attempts": draw(st.integers(2, 3))}
    if draw(st.booleans()):
        # whole seconds as often as not: a fault on a metrics boundary ends requests there
        at_s = draw(st.one_of(st.integers(0, int(duration_s)).map(float),
                              st.floats(0.0, duration_s)))
        resilience["faults"] = [{"kind": draw(st.sampled_from(["crash", "errors", "hang"])),
                                 "target": 0, "at_s": at_s,
                                 "duration_s": draw(st.integers(1, 10).map(float))}]
        if resilience["faults"][0]["kind"] == "errors":
            resilience["faults"][0]["fraction"] = 0.5
    if resilience:
        data["resilience"] = resilience
    return data


# ---------------------------------------------------------------- the recomputation


def expected_summary(req: dict, events: dict, duration_s: float, resilience: bool) -> dict:
    ok = req["status"] == "ok"
    latency = req["latency_s"][ok]
    want = {"arrivals": len(req["status"])}
    want |= {s: int(np.count_nonzero(req["status"] == s)) for s in STATUSES}
    want["latency_mean_s"] = float(latency.mean()) if len(latency) else None
    for q in QS:
        want[f"latency_p{round(q * 100)}_s"] = type7(latency, q) if len(latency) else None
    want["throughput_rps"] = want["ok"] / duration_s
    ttft = req["ttft_s"][ok]
    ttft = ttft[~np.isnan(ttft)]
    if len(ttft):
        for q in QS:
            want[f"ttft_p{round(q * 100)}_s"] = type7(ttft, q)
        want["output_tokens_per_s"] = float(req["output_tokens"][ok].sum()) / duration_s
    if resilience:
        retry_events = (events["kind"] == "retry") & (events["subject"] != "budget")
        want["retries"] = int(np.count_nonzero(retry_events))
        want["faults"] = sum(1 for k, r in zip(events["kind"], events["reason"], strict=True)
                             if k == "fault" and r.endswith(":Started"))
    return want


def expected_rows(req: dict, bounds: np.ndarray) -> list[dict]:
    """One row per window [bounds[i], bounds[i+1]); the last window is closed."""
    rows = []
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        last = i == len(bounds) - 2
        ended = (req["end_s"] >= lo) & ((req["end_s"] <= hi) if last else (req["end_s"] < hi))
        arrived = (req["arrival_s"] >= lo) & (req["arrival_s"] < hi)
        status = req["status"][ended]
        ok_latency = req["latency_s"][ended & (req["status"] == "ok")]
        span = hi - lo
        row = {"arrivals_rps": np.count_nonzero(arrived) / span,
               "throughput_rps": len(ok_latency) / span,
               "errors": int(np.count_nonzero(status == "error")),
               "timeouts": int(np.count_nonzero(status == "timeout")),
               "rejected": int(np.count_nonzero(status == "rejected")),
               "error_rate": (len(status) - len(ok_latency)) / len(status) if len(status)
               else 0.0}
        for q in QS:
            row[f"latency_p{round(q * 100)}_s"] = (type7(ok_latency, q) if len(ok_latency)
                                                  else None)
        rows.append(row)
    return rows


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=small_specs())
def test_summary_and_metrics_rows_are_the_raw_rows_statistics(tmp_path_factory, data):
    spec = spec_from_dict(data)
    out = tmp_path_factory.mktemp("run")
    run(spec, out)
    summary = json.loads((out / "summary.json").read_text())
    req = columns(out / "requests.parquet")
    events = columns(out / "events.parquet")
    metrics = pq.read_table(out / "metrics.parquet").to_pylist()

    resilience = "resilience" in data
    for key, value in expected_summary(req, events, spec.duration_s, resilience).items():
        assert same(summary[key], value), (key, summary[key], value)

    starts = np.array([r["t_s"] for r in metrics])
    assert starts[0] == 0.0 and np.all(np.diff(starts) > 0)
    assert math.isclose(starts[-1] + metrics[-1]["interval_s"], summary["simulated_s"])
    bounds = np.append(starts, summary["simulated_s"])
    for i, (got, want) in enumerate(zip(metrics, expected_rows(req, bounds), strict=True)):
        for key, value in want.items():
            assert same(got[key], value), (i, got["t_s"], key, got[key], value)
    whole = [r["throughput_rps"] for r in metrics
             if r["interval_s"] >= spec.metrics.interval_s * (1 - 1e-9)]
    assert same(summary["peak_throughput_rps"],
                max(whole or [r["throughput_rps"] for r in metrics]))
    api = (req["status"] == "ok") & np.isnan(req["ttft_s"])  # ok, no streamed LLM answer
    for q in (50, 95, 99):
        assert same(summary.get(f"api_latency_p{q}_s"),
                    type7(req["latency_s"][api], q / 100) if api.any() else None), q
    if resilience:
        retry_t = events["t_s"][(events["kind"] == "retry") & (events["subject"] != "budget")]
        counted = np.histogram(retry_t, bounds)[0]
        assert [r["retries"] for r in metrics] == counted.tolist()


def test_type7_is_the_textbook_definition():
    values = np.array([7.0, 1.0, 3.0, 5.0])
    assert type7(values, 0.0) == 1.0 and type7(values, 1.0) == 7.0
    assert type7(values, 0.5) == 4.0              # halfway between 3 and 5
    assert type7(values, 0.95) == pytest.approx(5.0 + 0.85 * 2.0)  # h = 2.85
    assert type7(np.array([2.5]), 0.99) == 2.5
