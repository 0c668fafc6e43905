"""Response time by scope in metrics.parquet: API latency, time to first token, and the
columns of scoped alert rules, each checked against the requests of its window."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simscale.model.runner import run
from simscale.model.scopes import linear_quantiles
from simscale.spec import spec_from_dict

MIX = {
    "chat": {"weight": 2, "llm": True, "prompt_tokens": {"mean": 400, "cv": 0.5, "max": 4000},
             "output_tokens": {"mean": 80, "cv": 0.5, "max": 400}},
    "history": {"weight": 1, "service": {"kind": "exponential", "mean_s": 0.02}},
    "profile": {"weight": 1, "service": {"kind": "exponential", "mean_s": 0.01}},
}
RULES = [
    {"name": "SlowChat", "kinds": ["chat"], "warning": 100},
    {"name": "SlowReads", "kinds": ["history", "profile"], "latency": "latency",
     "percentile": 99, "warning": 100},
]


def spec(mix: dict | None, rules: list | None = None, duration_s: float = 60.0):
    workload = {"arrivals": {"kind": "poisson", "rate_rps": 40}}
    if mix is not None:
        workload["mix"] = mix
    data = {"name": "scopes", "duration_s": duration_s, "seed": 4, "workload": workload,
            "instances": {"count": 2, "slots": 64, "cores": 2}}
    if rules is not None:
        data["alerts"] = {"rules": rules}
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scopes")
    result = run(spec(MIX, RULES), out)
    requests = pq.read_table(out / "requests.parquet").to_pylist()
    metrics = pq.read_table(out / "metrics.parquet").to_pylist()
    return result.summary, requests, metrics


def window(requests: list[dict], row: dict, keep) -> np.ndarray:
    """The values `keep(request)` gives for the ok requests that ended in the row's window."""
    start, end = row["t_s"], row["t_s"] + row["interval_s"]
    values = [keep(r) for r in requests if r["status"] == "ok" and start <= r["end_s"] < end]
    return np.array([v for v in values if v is not None], float)


def p(values: np.ndarray, q: float = 95) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def test_each_row_splits_its_responses_into_api_and_streamed(mixed_run):
    summary, requests, metrics = mixed_run
    assert len(metrics) >= 6
    for row in metrics:
        api = window(requests, row, lambda r: r["latency_s"] if r["ttft_s"] is None else None)
        ttft = window(requests, row, lambda r: r["ttft_s"])
        assert row["api_latency_p95_s"] == pytest.approx(p(api), rel=1e-9)
        assert row["ttft_p95_s"] == pytest.approx(p(ttft), rel=1e-9)
    # a streamed chat lasts its whole answer: the plain p95 is far above both scopes
    busy = [r for r in metrics if r["ttft_p95_s"] is not None]
    assert all(r["latency_p95_s"] > 2 * r["ttft_p95_s"] for r in busy)
    every_api = np.array([r["latency_s"] for r in requests
                          if r["status"] == "ok" and r["ttft_s"] is None])
    assert summary["api_latency_p95_s"] == pytest.approx(p(every_api), rel=1e-9)
    assert summary["api_latency_p99_s"] == pytest.approx(p(every_api, 99), rel=1e-9)


def test_a_scoped_rule_gets_its_own_column(mixed_run):
    _, requests, metrics = mixed_run
    for row in metrics:
        chat = window(requests, row, lambda r: r["ttft_s"] if r["kind"] == "chat" else None)
        reads = window(requests, row, lambda r: r["latency_s"]
                       if r["kind"] in ("history", "profile") else None)
        assert row["response_p95_s[chat]"] == pytest.approx(p(chat), rel=1e-9)
        assert row["latency_p99_s[history,profile]"] == pytest.approx(p(reads, 99), rel=1e-9)
        # chat is the only kind that streams: its response time is the run's first-token p95
        assert row["response_p95_s[chat]"] == row["ttft_p95_s"]


def test_without_streamed_kinds_the_api_columns_are_the_latency_columns(tmp_path):
    result = run(spec(None, duration_s=30.0), tmp_path)
    metrics = pq.read_table(tmp_path / "metrics.parquet").to_pylist()
    assert "ttft_p95_s" not in metrics[0]
    assert all(r["api_latency_p95_s"] == r["latency_p95_s"] for r in metrics)
    summary = result.summary
    assert (summary["api_latency_p50_s"], summary["api_latency_p95_s"],
            summary["api_latency_p99_s"]) == (summary["latency_p50_s"],
                                              summary["latency_p95_s"],
                                              summary["latency_p99_s"])
    assert "ttft_p95_s" not in summary


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=300),
       st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_window_percentiles_are_numpys_linear_quantiles_bit_for_bit(values, qs):
    array = np.array(values)
    assert linear_quantiles(array, tuple(qs)) == np.quantile(array, qs).tolist()
