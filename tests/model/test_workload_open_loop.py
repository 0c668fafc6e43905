"""Open-loop workloads in the model: every arrival kind, the request mix, tokens, streams."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simscale.errors import InputError
from simscale.model.runner import run
from simscale.sections.workload import WorkloadSpec
from simscale.workload.chunks import Workload, arrival_chunks
from tests.conftest import run_tables, small_spec

CHAT_MIX = {
    "chat_message": {"weight": 0.5, "llm": True,
                     "service": {"kind": "deterministic", "value_s": 0.001},
                     "reads": ["user", "session", "conversation"],
                     "writes": ["conversation", "response"], "db_queries": 1,
                     "prompt_tokens": {"mean": 800, "cv": 1.0, "max": 4000},
                     "output_tokens": {"mean": 50, "cv": 0.5}},
    "load_history": {"weight": 0.25, "reads": ["session", "conversation"], "db_queries": 2,
                     "service": {"kind": "deterministic", "value_s": 0.002}},
    "user_profile": {"weight": 0.2, "reads": ["user"],
                     "service": {"kind": "deterministic", "value_s": 0.003}},
    "health": {"weight": 0.05, "service": {"kind": "deterministic", "value_s": 0.004}},
}


def workload(arrivals: dict, **fields) -> WorkloadSpec:
    return WorkloadSpec.model_validate({"arrivals": arrivals, **fields})


def all_times(spec: WorkloadSpec, horizon_s: float, seed: int = 1) -> np.ndarray:
    chunks = list(arrival_chunks(spec, seed, horizon_s))
    return np.concatenate([c.times_s for c in chunks]) if chunks else np.empty(0)


OPEN_LOOP = [
    ({"kind": "poisson", "rate_rps": 50.0}, 50.0 * 400),
    ({"kind": "schedule", "points": [[0, 10.0], [200, 90.0]]}, (10 + 90) / 2 * 200 + 90 * 200),
    ({"kind": "ramp_up", "start_rps": 10.0, "end_rps": 90.0, "ramp_s": 200.0},
     (10 + 90) / 2 * 200 + 90 * 200),
    ({"kind": "step", "base_rps": 20.0, "step_rps": 80.0, "at_s": 100.0}, 20 * 100 + 80 * 300),
    ({"kind": "spike", "base_rps": 20.0, "peak_rps": 120.0, "at_s": 100.0, "hold_s": 50.0},
     20 * 350 + 120 * 50),
    ({"kind": "soak", "rate_rps": 60.0, "ramp_s": 100.0}, 30 * 100 + 60 * 300),
    ({"kind": "stairs", "start_rps": 10.0, "step_rps": 10.0, "step_s": 100.0, "steps": 4},
     (10 + 20 + 30 + 40) * 100),
    ({"kind": "sinusoid", "mean_rps": 50.0, "amplitude_rps": 40.0, "period_s": 400.0},
     50.0 * 400),
    ({"kind": "hourly", "rates_rps": [50.0] * 24}, 50.0 * 400),
    # π = (0.8, 0.2): mean 36 rps; the tolerance comes from the MMPP count variance
    ({"kind": "mmpp2", "rate1_rps": 20.0, "rate2_rps": 100.0, "switch12_per_s": 0.05,
      "switch21_per_s": 0.2}, 36.0 * 400),
    ({"kind": "renewal", "rate_rps": 50.0, "cv": 0.5}, 50.0 * 400),
]


@pytest.mark.parametrize("arrivals, expected", OPEN_LOOP, ids=[a["kind"] for a, _ in OPEN_LOOP])
def test_every_open_loop_kind_offers_its_expected_count(arrivals, expected):
    times = all_times(workload(arrivals), 400.0)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < 400.0
    if arrivals["kind"] == "mmpp2":
        sd = 4 * np.sqrt(workload(arrivals).arrivals.process().count_variance(400.0))
    else:
        sd = 4 * np.sqrt(expected)
    assert abs(len(times) - expected) < sd


def test_mmpp2_spends_the_analytic_share_of_time_in_each_state():
    """Unequal switching rates, so the two states cannot be confused: state 1 (20 rps) is
    left at 0.02/s, state 2 (200 rps) at 0.2/s, so π2 = 0.02/0.22 = 1/11 and the mean is
    36.4 rps (swapped rates would give 184). One-second counts fall in two clusters, at the
    two rates; the share of seconds in the high one is π2 within four standard errors
    (sd ≈ √(2π1π2/(qT)) for an alternating Markov environment), and the index of dispersion
    of 10-second counts is the MMPP's (Fischer and Meier-Hellstern 1993), 400 against 1 for
    Poisson."""
    arrivals = {"kind": "mmpp2", "rate1_rps": 20.0, "rate2_rps": 200.0,
                "switch12_per_s": 0.02, "switch21_per_s": 0.2}
    process = workload(arrivals).arrivals.process()
    horizon_s = 100_000.0
    times = all_times(workload(arrivals), horizon_s, seed=2)
    mean_rps = 20.0 * 10 / 11 + 200.0 / 11
    assert abs(len(times) - mean_rps * horizon_s) < 4 * np.sqrt(
        process.count_variance(horizon_s))

    per_second = np.bincount(times.astype(int), minlength=int(horizon_s))
    high = per_second > 110
    q, pi1, pi2 = 0.22, 10 / 11, 1 / 11
    assert abs(high.mean() - pi2) < 4 * np.sqrt(2 * pi1 * pi2 / (q * horizon_s))
    assert np.median(per_second[~high]) == pytest.approx(20.0, rel=0.05)
    assert np.median(per_second[high]) == pytest.approx(200.0, rel=0.05)

    per_10s = np.bincount((times // 10).astype(int), minlength=int(horizon_s / 10))
    dispersion = per_10s.var(ddof=1) / per_10s.mean()
    assert dispersion == pytest.approx(process.count_variance(10.0) / (mean_rps * 10.0),
                                       rel=0.1)
    assert dispersion > 300


def test_stairs_rate_per_step():
    times = all_times(workload({"kind": "stairs", "start_rps": 20.0, "step_rps": 40.0,
                                "step_s": 100.0, "steps": 3}), 300.0)
    counts = np.bincount((times // 100).astype(int), minlength=3)
    assert np.allclose(counts, [2000, 6000, 10000], rtol=0.06)


@pytest.mark.parametrize("arrivals, problem", [
    ({"kind": "sinusoid", "mean_rps": 10.0, "amplitude_rps": 20.0}, "amplitude_rps"),
    ({"kind": "hourly", "rates_rps": [1.0] * 23}, "at least 24"),
    ({"kind": "schedule", "points": [[10, 1.0], [5, 2.0]]}, "before the previous point"),
    ({"kind": "trace", "path": "x.csv", "window_s": [10, 5]}, "window_s"),
    ({"kind": "ramp_up", "end_rps": 10.0}, "ramp_s"),
    ({"kind": "users", "users": 5, "opening": ["login"]}, "unknown kind 'login'"),
])
def test_bad_arrivals_are_spec_errors(arrivals, problem):
    with pytest.raises(InputError) as err:
        small_spec(workload={"arrivals": arrivals})
    assert problem in "\n".join(err.value.problems)


def test_the_default_workload_keeps_the_fast_path():
    """One kind, no tokens, no trace: chunks carry times and work only (after_cpu None)."""
    spec = small_spec()
    wl = Workload(spec.workload, spec.seed, spec.duration_s)
    assert not wl.rich
    chunk = next(wl.chunks())
    assert chunk.kind is None and chunk.prompt_tokens is None


def test_kind_mix_proportions_chi_square(tmp_run):
    spec = small_spec(duration_s=200.0, workload={
        "arrivals": {"kind": "poisson", "rate_rps": 100.0}, "mix": CHAT_MIX},
        instances={"count": 2, "slots": 64, "cores": 64}, timeouts={"request_s": 60})
    result, t = run_tables(spec, tmp_run)
    kinds = t["requests"]["kind"].to_pylist()
    names = list(CHAT_MIX)
    observed = np.array([kinds.count(k) for k in names])
    weights = np.array([CHAT_MIX[k]["weight"] for k in names])
    expected = weights / weights.sum() * len(kinds)
    assert observed.sum() == len(kinds) == result.summary["arrivals"] > 15_000
    assert stats.chisquare(observed, expected).pvalue > 0.001
    # each kind's own CPU cost shows in its latency (no queueing, deterministic work)
    req = t["requests"]
    lat = req["latency_s"].to_numpy(zero_copy_only=False)
    by_kind = {k: lat[np.array(kinds) == k] for k in names[1:]}
    for k, value in (("load_history", 0.002), ("user_profile", 0.003), ("health", 0.004)):
        assert np.allclose(by_kind[k], value)
    prompt = req["prompt_tokens"].to_numpy()
    chat = np.array(kinds) == "chat_message"
    assert prompt[~chat].max() == 0 and 1 <= prompt[chat].min() and prompt[chat].max() <= 4000
    assert prompt[chat].mean() == pytest.approx(800, rel=0.1)


def test_mix_sample_path_is_the_same_under_another_balancer():
    def arrivals(policy):
        spec = small_spec(workload={"arrivals": {"kind": "poisson", "rate_rps": 50.0},
                                    "mix": CHAT_MIX}, balancer={"policy": policy})
        return [list(zip(c.times_s, c.kind, c.work_s, c.prompt_tokens))
                for c in Workload(spec.workload, spec.seed, spec.duration_s).chunks()]

    assert arrivals("random") == arrivals("least_connections")


def test_adding_a_kind_leaves_the_other_kinds_token_streams_alone():
    """Tokens and work come from per-kind streams: a kind's values, in order, do not depend
    on the other kinds (only the kind draws change)."""
    one = {"chat_message": CHAT_MIX["chat_message"]}
    base = workload({"kind": "poisson", "rate_rps": 50.0}, mix=one)
    more = workload({"kind": "poisson", "rate_rps": 50.0}, mix=CHAT_MIX)

    def chat_prompts(spec):
        out = []
        for c in Workload(spec, 3, 100.0).chunks():
            out += c.prompt_tokens[c.kind == 0].tolist()
        return out

    a, b = chat_prompts(base), chat_prompts(more)
    assert len(b) < len(a) and a[: len(b)] == b


def test_token_distributions_any_kind():
    spec = workload({"kind": "poisson", "rate_rps": 100.0}, mix={"chat": {
        "llm": True, "prompt_tokens": {"kind": "deterministic", "value_s": 700.4},
        "output_tokens": {"kind": "exponential", "mean_s": 30.0}}})
    chunk = next(Workload(spec, 1, 100.0).chunks())
    assert set(chunk.prompt_tokens.tolist()) == {700}
    assert chunk.output_tokens.min() >= 0 and chunk.output_tokens.mean() == pytest.approx(30, 0.1)


def test_conservation_with_a_mix_and_llm_under_pressure():
    spec = small_spec(duration_s=30.0, workload={
        "arrivals": {"kind": "spike", "base_rps": 20.0, "peak_rps": 200.0, "at_s": 10.0,
                     "hold_s": 10.0}, "mix": CHAT_MIX},
        instances={"count": 2, "slots": 8, "queue_limit": 10}, timeouts={"request_s": 5.0},
        upstream={"max_streams": 4, "on_limit": "queue", "queue_limit": 3})
    s = run(spec, None).summary
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    assert s["error"] == s["upstream_limited"] > 0  # no retry policy: each ends as error
