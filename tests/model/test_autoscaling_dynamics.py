"""Autoscaling over time: the boot delay in a flash crowd, predictive ahead of the ramp."""

from __future__ import annotations

import pytest

from simscale.model.runner import run
from simscale.spec import spec_from_dict

SPIKE = "autoscaling/spike_flash_crowd.toml"
SPIKE_AT_S = 600.0


def scale_ups(events: list[tuple]) -> list[tuple[float, int, int]]:
    """(t_s, current, desired) of every autoscaler decision that asked for more instances."""
    out = []
    for t_s, kind, _subject, reason in events:
        if kind == "autoscaler":
            fields = dict(p.split("=", 1) for p in reason.split(";") if "=" in p)
            if int(fields["desired"]) > int(fields["current"]):
                out.append((t_s, int(fields["current"]), int(fields["desired"])))
    return out


def recovered_at(rows: list[dict], after_s: float, p95_s: float = 3.0) -> float:
    """Start of the first metrics row after `after_s` whose p95 latency is back under p95_s."""
    return next(r["t_s"] for r in rows if r["t_s"] > after_s
                and r["latency_p95_s"] is not None and r["latency_p95_s"] < p95_s)


# ---------------------------------------------------------------- flash crowd


BOOTS_S = (60.0, 120.0, 240.0)  # 120 s is the shipped spec's
SPIKE_RUNS = [(SPIKE, f"autoscaling.boot_delay.value_s={boot}") for boot in BOOTS_S]


@pytest.fixture
def spike_runs(shipped) -> dict[float, object]:
    return {boot: shipped(*run).result for boot, run in zip(BOOTS_S, SPIKE_RUNS, strict=True)}


@pytest.mark.shipped(*SPIKE_RUNS)
def test_latency_stays_high_until_the_new_instances_have_booted(spike_runs):
    result = spike_runs[120.0]
    rows = result.metric_rows
    before = [r["latency_p95_s"] for r in rows if 300.0 <= r["t_s"] < SPIKE_AT_S]
    baseline = max(before)
    first_up = scale_ups(result.events)[0][0]
    assert SPIKE_AT_S < first_up < SPIKE_AT_S + 120.0  # seen after the metrics lag
    booted = min(t for t, kind, _s, reason in result.events
                 if kind == "instance" and reason == "BootCompleted" and t > first_up)
    assert booted == pytest.approx(first_up + 120.0)
    # the whole boot delay goes by with the original two instances, swamped
    waiting = [r for r in rows if first_up <= r["t_s"] and r["t_s"] + r["interval_s"] < booted]
    assert len(waiting) >= 10
    assert all(r["instances_ready"] == 2 for r in waiting)
    assert all(r["latency_p95_s"] > 5 * baseline for r in waiting)
    assert recovered_at(rows, SPIKE_AT_S) > booted


@pytest.mark.shipped(*SPIKE_RUNS)
def test_a_longer_boot_delay_keeps_latency_high_for_longer(spike_runs):
    recovery = {boot: recovered_at(r.metric_rows, SPIKE_AT_S) - SPIKE_AT_S
                for boot, r in spike_runs.items()}
    # target tracking grows the fleet once per boot (saturated CPU caps each step), so the
    # slow period stretches by at least the extra boot time
    assert recovery[120.0] - recovery[60.0] >= 60.0
    assert recovery[240.0] - recovery[120.0] >= 120.0
    timeouts = {boot: r.summary["timeout"] + r.summary["rejected"]
                for boot, r in spike_runs.items()}
    assert timeouts[60.0] < timeouts[120.0] < timeouts[240.0]


# ---------------------------------------------------------------- predictive vs reactive

PERIOD_S = 1800.0


def diurnal(policy: str, params: dict):
    """Two compressed 'days' (a 30-minute sinusoid, trough at 0 and 1800 s, peak 18 rps)."""
    return spec_from_dict({
        "name": f"diurnal_{policy}", "duration_s": 2 * PERIOD_S, "seed": 5,
        "workload": {"arrivals": {"kind": "sinusoid", "mean_rps": 10.0, "amplitude_rps": 8.0,
                                  "period_s": PERIOD_S, "phase_s": PERIOD_S / 2},
                     "service": {"kind": "lognormal", "mean_s": 0.3, "cv": 1.0}},
        "instances": {"count": 2, "slots": 8, "cores": 1, "queue_limit": 100},
        "balancer": {"policy": "least_connections"},
        "metrics": {"interval_s": 15.0},
        "autoscaling": {"enabled": True, "policy": policy, "params": params,
                        "boot_delay": {"kind": "deterministic", "value_s": 60.0}},
    })


CPU_70 = [{"metric": "cpu_util_frac", "target": 0.7}]
BOUNDS = {"min_replicas": 2, "max_replicas": 10, "sync_period_s": 15.0}


@pytest.fixture(scope="module")
def ramp_runs() -> dict[str, object]:
    reactive = diurnal("target_tracking", {**BOUNDS, "metrics": CPU_70})
    predictive = diurnal("predictive", {
        **BOUNDS, "method": "seasonal_naive", "bucket_s": 60.0, "season_s": PERIOD_S,
        "boot_delay_s": 90.0, "horizon_s": 300.0, "target_rps_per_instance": 2.33,
        "inner_policy": "target_tracking", "inner_config": {"metrics": CPU_70}})
    return {"target_tracking": run(reactive, None), "predictive": run(predictive, None)}


def test_predictive_scales_before_the_ramp_while_target_tracking_lags(ramp_runs):
    first = {name: next(t for t, *_ in scale_ups(r.events) if t >= PERIOD_S)
             for name, r in ramp_runs.items()}
    # the second cycle: the forecast (the first cycle) asks early; the metrics only late
    assert first["predictive"] <= first["target_tracking"] - 120.0
    assert first["predictive"] < PERIOD_S + 300.0  # within 5 minutes of the trough


def test_predictive_has_the_capacity_ready_when_the_load_arrives(ramp_runs):
    def ready_at(result, count: int) -> float:
        return next(r["t_s"] for r in result.metric_rows
                    if r["t_s"] >= PERIOD_S and r["instances_ready"] >= count)

    def hot_rows(result) -> int:
        return sum(1 for r in result.metric_rows
                   if PERIOD_S <= r["t_s"] < 1.5 * PERIOD_S and r["cpu_util_frac"] > 0.8)

    tt, pr = ramp_runs["target_tracking"], ramp_runs["predictive"]
    assert ready_at(pr, 6) <= ready_at(tt, 6) - 120.0
    assert hot_rows(tt) >= 5 and hot_rows(pr) <= hot_rows(tt) // 3
    # the first cycle has no forecast yet: both policies behave alike there
    assert "forecast=warming_up" in next(e[3] for e in pr.events if e[1] == "autoscaler")
