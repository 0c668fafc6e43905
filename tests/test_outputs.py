"""Run directory contents: columns, types, units, metadata, atomic files."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simscale import __version__
from tests.conftest import run_tables, small_spec

REQUEST_COLUMNS = {
    "request_id": pa.int64(), "arrival_s": pa.float64(), "end_s": pa.float64(),
    "latency_s": pa.float64(), "status": pa.string(), "instance_id": pa.int32(),
    "attempts": pa.int16(), "kind": pa.string(), "session_id": pa.int64(),
}
METRIC_COLUMNS = ("t_s", "instances_ready", "arrivals_rps", "throughput_rps", "latency_p50_s",
                  "latency_p95_s", "latency_p99_s", "error_rate", "utilization", "in_flight",
                  "queued")
SUMMARY_KEYS = ("arrivals", "ok", "error", "timeout", "rejected", "latency_p50_s",
                "latency_p95_s", "latency_p99_s", "throughput_rps", "utilization", "seed",
                "spec_sha256", "simscale_version")


def test_tables_have_the_documented_columns(tmp_run):
    _, t = run_tables(small_spec(), tmp_run)
    schema = t["requests"].schema
    for name, type_ in REQUEST_COLUMNS.items():
        assert schema.field(name).type == type_, name
    for name in METRIC_COLUMNS:
        assert name in t["metrics"].column_names
    assert t["events"].column_names == ["t_s", "kind", "subject", "reason"]


def test_summary_and_metadata_name_spec_seed_and_version(tmp_run):
    spec = small_spec()
    run_tables(spec, tmp_run)
    summary = json.loads((tmp_run / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert summary["seed"] == spec.seed and summary["spec_sha256"] == spec.sha256()
    assert summary["simscale_version"] == __version__ and summary["complete"] is True
    for name in ("requests", "metrics", "events"):
        meta = pq.read_schema(tmp_run / f"{name}.parquet").metadata
        assert json.loads(meta[b"simscale.spec"])["name"] == "small"
        assert meta[b"simscale.seed"] == str(spec.seed).encode()
        assert meta[b"simscale.version"] == __version__.encode()
        assert meta[b"simscale.spec_sha256"] == spec.sha256().encode()


def test_no_partial_files_remain_and_row_groups_are_bounded(tmp_run):
    spec = small_spec(output={"row_group_rows": 1000}, duration_s=120.0)
    result, _ = run_tables(spec, tmp_run)
    names = sorted(p.name for p in tmp_run.iterdir())
    assert names == ["events.parquet", "metrics.parquet", "requests.parquet", "summary.json"]
    meta = pq.ParquetFile(tmp_run / "requests.parquet").metadata
    assert meta.num_rows == result.summary["arrivals"]
    assert meta.num_row_groups >= 2
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_a_failing_policy_keeps_what_was_recorded_and_says_so(tmp_run, monkeypatch):
    from policies.balancers.round_robin import RoundRobin

    calls = {"n": 0}
    original = RoundRobin.choose

    def flaky(self, request, candidates, now_s):
        calls["n"] += 1
        if calls["n"] > 500:
            raise RuntimeError("boom")
        return original(self, request, candidates, now_s)

    monkeypatch.setattr(RoundRobin, "choose", flaky)
    result, t = run_tables(small_spec(), tmp_run)
    summary = result.summary
    assert summary["complete"] is False
    assert "round_robin" in summary["failure"] and "boom" in summary["failure"]
    assert 0 < t["requests"].num_rows <= 500
    assert "PolicyFailure:round_robin" in t["events"]["reason"].to_pylist()


def test_summary_is_the_same_with_or_without_files(tmp_run):
    """Totals come from the recorder, not from the files: a run without outputs agrees."""
    from simscale.model.runner import run
    from simscale.spec import load_spec
    from tests.conftest import ROOT

    spec = load_spec(ROOT / "experiments" / "load_tests" / "smoke.toml", ["duration_s=30"])
    with_files = run(spec, tmp_run).summary
    without = run(spec, None).summary
    for key in ("arrivals", "ok", "latency_p95_s", "ttft_p95_s", "output_tokens_per_s"):
        assert with_files[key] == without[key], key


def test_a_run_leaves_the_collector_as_it_found_it(tmp_run, monkeypatch):
    """run() freezes the objects that exist before it; it unfreezes them, also on error."""
    import gc

    from simscale.model.runner import run

    frozen = gc.get_freeze_count()
    seen = []
    run(small_spec(), None, on_start=lambda _model: seen.append(gc.get_freeze_count()))
    assert seen and seen[0] > frozen
    assert gc.get_freeze_count() == frozen

    def fail(_model):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(small_spec(), tmp_run, on_start=fail)
    assert gc.get_freeze_count() == frozen
    assert list(tmp_run.parent.iterdir()) == []  # no run folder, no staging folder beside it
