"""bench_sweep reports its figures (a smoke test: the numbers themselves are not checked)."""

from __future__ import annotations

from simscale.selfcheck.sweep_speed import bench_sweep, format_bench_sweep


def test_bench_sweep_returns_every_figure():
    figures = bench_sweep(runs=4, duration_s=2.0, workers=(1, 2))
    assert figures["runs"] == 4
    for key in ("runs_per_s_1", "runs_per_s_2", "speedup", "run_s", "overhead_per_run_s",
                "overhead_frac"):
        assert figures[key] == figures[key]  # a number, not NaN
    assert figures["runs_per_s_1"] > 0 and figures["run_s"] > 0
    lines = format_bench_sweep(figures)
    assert lines[0].startswith("sweep engine: 4 runs") and "speedup" in lines[-2]
