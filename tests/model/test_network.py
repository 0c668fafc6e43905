"""The network: bytes per request add up to the metrics columns, and a NIC bandwidth costs the
time queueing theory says it does (M/D/1 on the outgoing link)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_tables, small_spec

NET = {"request_bytes": 700, "response_bytes": 1500,
       "request_bytes_by_kind": {"chat": 3000}, "response_bytes_by_kind": {"profile": 900},
       "client_bytes_per_token": 90.0, "upstream_bytes_per_token": 210.0,
       "prompt_bytes_per_token": 4.5}
SIZES = {"user": 1024, "session": 512, "conversation": 16384, "response": 4096}
MIX = {"chat": {"weight": 1.0, "service": {"kind": "exponential", "mean_s": 0.01},
                "reads": ["user", "conversation"], "writes": ["conversation"], "llm": True,
                "db_queries": 1, "prompt_tokens": {"mean": 800, "cv": 1.0},
                "output_tokens": {"mean": 120, "cv": 0.5}},
       "profile": {"weight": 2.0, "service": {"kind": "exponential", "mean_s": 0.005},
                   "reads": ["user"], "db_queries": 1},
       "health": {"weight": 0.5, "service": {"kind": "deterministic", "value_s": 0.0005}}}


def expected_bytes(req: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each request's bytes in and out, from requests.parquet and the spec's figures."""
    kind = np.array(req["kind"])
    prompt, output = np.array(req["prompt_tokens"]), np.array(req["output_tokens"])
    streamed = np.array([t is not None for t in req["ttft_s"]])
    chat, profile = kind == "chat", kind == "profile"
    bytes_in = np.where(chat, 3000, 700) + np.where(
        chat, SIZES["user"] + SIZES["conversation"], np.where(profile, SIZES["user"], 0))
    bytes_in = bytes_in + np.where(chat & streamed, output * 210.0, 0.0)
    bytes_out = np.where(profile, 900, 1500) + np.where(chat, SIZES["conversation"], 0)
    bytes_out = bytes_out + np.where(chat, output * 90.0, 0.0) + np.where(
        chat & streamed, prompt * 4.5, 0.0)
    return bytes_in.astype(float), bytes_out.astype(float)


def test_bytes_per_request_add_up_to_the_network_columns(tmp_run):
    spec = small_spec(duration_s=40.0, workload={
        "arrivals": {"kind": "poisson", "rate_rps": 30.0}, "mix": MIX},
        instances={"count": 2, "slots": 64, "cores": 4}, network=NET,
        cache={"capacity_items": 5000, "size_bytes_by_type": SIZES},
        upstream={"ttft_base_s": 0.05, "tpot_s": 0.002}, timeouts={"request_s": "none"})
    result, t = run_tables(spec, tmp_run)
    req = t["requests"].to_pydict()
    assert set(req["status"]) == {"ok"} and set(req["kind"]) == set(MIX)
    bytes_in, bytes_out = expected_bytes(req)
    end = np.array(req["end_s"])
    rows = t["metrics"].to_pylist()
    for row in rows:  # a request's bytes count in the row where it ends
        t0, t1 = row["t_s"], row["t_s"] + row["interval_s"]
        inside = (end >= t0) & (end < t1)
        assert row["network_in_bps"] * row["interval_s"] == pytest.approx(
            8.0 * bytes_in[inside].sum(), rel=1e-9, abs=1e-6)
        assert row["network_out_bps"] * row["interval_s"] == pytest.approx(
            8.0 * bytes_out[inside].sum(), rel=1e-9, abs=1e-6)
        assert row["network_util_frac"] is None  # no bandwidth, nothing to use up
    assert result.summary["network_in_bytes"] == pytest.approx(bytes_in.sum(), rel=1e-12)
    assert result.summary["network_out_bytes"] == pytest.approx(bytes_out.sum(), rel=1e-12)
    assert "HighNetwork" not in result.summary["alerts"]["rules"]


# One instance whose CPU never queues (1000 slots and cores, 1 µs of work); each response is
# 1250 bytes on a 1 Mbit/s interface: 10 ms on the outgoing link, a FIFO server. Poisson
# arrivals at 50/s make it M/D/1 at ρ = 0.5: mean wait ρD / (2(1 − ρ)) = 5 ms.
RATE, D_S = 50.0, 0.01


def nic_spec(duration_s: float):
    return small_spec(
        duration_s=duration_s, seed=5,
        workload={"arrivals": {"kind": "poisson", "rate_rps": RATE},
                  "service": {"kind": "deterministic", "value_s": 1e-6}},
        instances={"count": 1, "slots": 1000, "cores": 1000},
        network={"request_bytes": 0, "response_bytes": 1250, "nic_bandwidth_bps": 1e6},
        timeouts={"request_s": "none"}, metrics={"interval_s": 10.0})


def test_a_nic_bandwidth_costs_the_time_of_an_md1_queue(tmp_run):
    result, t = run_tables(nic_spec(1200.0), tmp_run)
    req = t["requests"].to_pydict()
    latency = np.array(req["latency_s"]) - 1e-6
    assert latency.min() == pytest.approx(D_S, rel=1e-9)  # an idle link: the send alone
    rho = RATE * D_S
    wait = rho * D_S / (2 * (1 - rho))
    assert latency.mean() - D_S == pytest.approx(wait, rel=0.12)
    # FIFO: a response waits exactly for the link's backlog when it arrives
    arrival = np.array(req["arrival_s"])
    free = 0.0
    for a, lat in zip(arrival[:2000], latency[:2000], strict=True):
        done = max(a + 1e-6, free) + D_S
        assert a + 1e-6 + lat == pytest.approx(done, abs=1e-9)
        free = done
    rows = t["metrics"].to_pylist()[:-1]
    util = np.array([r["network_util_frac"] for r in rows])
    assert util.mean() == pytest.approx(rho, rel=0.05) and util.max() <= 1.0
    sent_bits = sum(r["network_out_bps"] * r["interval_s"] for r in t["metrics"].to_pylist())
    assert sent_bits == pytest.approx(8 * 1250 * len(latency), rel=1e-9)
    assert all(r["network_in_bps"] == 0.0 for r in rows)
    assert "HighNetwork" in result.summary["alerts"]["rules"]


def test_a_saturated_interface_fires_high_network(tmp_run):
    spec = nic_spec(200.0).model_copy(deep=True)
    spec = small_spec(**{**spec.model_dump(mode="json"),
                         "workload": {"arrivals": {"kind": "poisson", "rate_rps": 95.0},
                                      "service": {"kind": "deterministic", "value_s": 1e-6}}})
    result, t = run_tables(spec, tmp_run)
    fired = [e for e in t["events"].to_pylist() if e["subject"] == "HighNetwork"]
    assert fired and fired[0]["reason"].startswith("Firing:critical network_util_frac=")
    assert fired[0]["t_s"] >= 60.0  # held for for_s = 60 s first
    assert result.summary["alerts"]["worst_severity"]["HighNetwork"] == "critical"


NETWORK = "load_tests/network.toml"
WIDE = (NETWORK, "network.nic_bandwidth_bps=1e8")


@pytest.mark.shipped((NETWORK,), WIDE)
def test_a_thin_interface_makes_the_network_the_bottleneck(shipped):
    """7 Mbit/s against 100 Mbit/s, same seed: the same requests, all ok; the thin link runs
    near 85 % busy, the API responses wait for it, and HighNetwork warns."""
    thin, wide = shipped(NETWORK), shipped(*WIDE)
    assert thin.summary["ok"] == thin.summary["arrivals"] == wide.summary["ok"]
    util = [r["network_util_frac"] for r in thin.rows][1:-2]
    assert 0.75 < np.mean(util) < 0.95 and max(util) <= 1.0
    assert np.mean([r["network_util_frac"] for r in wide.rows][1:-2]) < 0.1
    assert thin.summary["api_latency_p95_s"] > 4 * wide.summary["api_latency_p95_s"]
    assert thin.summary["alerts"]["worst_severity"].get("HighNetwork") == "warning"
    assert "HighNetwork" not in wide.summary["alerts"]["worst_severity"]
