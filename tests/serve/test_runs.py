"""Load tests: a posted experiment runs in a worker process and writes what `simscale run`
writes; a cancel keeps outputs marked incomplete; the dashboard shows the TUI's numbers."""

from __future__ import annotations

import json
import re
import time

import pyarrow.parquet as pq
from typer.testing import CliRunner

from simscale.cli import app as cli
from simscale.outputs.rundirs import resolve_run_dir
from simscale.reports.rundir import load_run
from tests.serve.conftest import AUTH, TOKEN, spec_text, wait_for

TABLES = ("requests", "metrics", "events")
STAMP_HASH = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")
VOLATILE = ("wall_s",)


def finished(run):
    return run["state"] not in ("queued", "running", "stopping")


def test_posted_experiment_equals_simscale_run(serve, tmp_path, monkeypatch):
    running = serve(token=TOKEN)
    client = running.client
    r = client.post("/api/monitoring/load-test", headers=AUTH,
                    json={"spec": spec_text("probe", 60), "set": ["workload.arrivals.rate_rps=80"],
                          "seed": 5})
    assert r.status_code == 202, r.text
    run = r.json()
    assert r.headers["location"] == f"/api/monitoring/load-test/{run['id']}"
    assert run["state"] in ("queued", "running")
    done = wait_for(client, r.headers["location"], finished)
    assert done["state"] == "finished" and done["summary"]["complete"] is True

    # `simscale run` without --out, in a folder of its own: runs/probe/<time>-<hash>/
    cli_root = tmp_path / "cli"
    cli_root.mkdir()
    monkeypatch.chdir(cli_root)
    (cli_root / "probe.toml").write_text(spec_text("probe", 60))
    result = CliRunner().invoke(cli, ["run", "probe.toml", "--quiet", "--seed", "5",
                                      "--set", "workload.arrivals.rate_rps=80"])
    assert result.exit_code == 0, result.output
    out = resolve_run_dir(cli_root / "runs" / "probe")
    assert out.parent.name == "probe" and out.is_dir()

    # the served run: the same layout, its id the directory under --runs, latest pointing there
    runs_dir = running.services.settings.runs_dir
    served = runs_dir / run["id"]
    name, stamp_hash = run["id"].split("/")
    assert name == "probe" and STAMP_HASH.fullmatch(stamp_hash), run["id"]
    assert stamp_hash[-8:] == out.name[-8:]  # the same resolved spec: the same hash
    assert resolve_run_dir(runs_dir / "probe") == served
    assert sorted(p.name for p in (runs_dir / "probe").iterdir()) == sorted(["latest",
                                                                              stamp_hash])
    for name in TABLES:
        a, b = pq.read_table(served / f"{name}.parquet"), pq.read_table(out / f"{name}.parquet")
        assert a.num_rows > 0 or name == "events"
        assert a.equals(b), name
        assert a.schema.metadata == b.schema.metadata
    summary_a = json.loads((served / "summary.json").read_text())
    summary_b = json.loads((out / "summary.json").read_text())
    for key in VOLATILE:
        summary_a.pop(key), summary_b.pop(key)
    assert summary_a == summary_b
    assert done["summary"]["arrivals"] == summary_b["arrivals"]


def test_cancel_keeps_outputs_marked_incomplete(serve):
    running = serve(token=TOKEN)
    client = running.client
    # long enough to be cancelled mid-way on a slow machine (about 10 s of work)
    r = client.post("/api/monitoring/load-test", headers=AUTH,
                    json={"spec": spec_text("long", 20000, 100)})
    run_id = r.json()["id"]
    wait_for(client, f"/api/monitoring/load-test/{run_id}",
             lambda run: run["state"] == "running" and run["sim_t_s"] > 0)
    live = client.get(f"/api/monitoring/dashboard?run={run_id}").json()
    assert live["live"] is True
    cancel = client.delete(f"/api/monitoring/load-test/{run_id}", headers=AUTH)
    assert cancel.status_code == 202 and cancel.json()["state"] == "stopping"
    done = wait_for(client, f"/api/monitoring/load-test/{run_id}", finished)
    assert done["state"] == "stopped"
    assert done["summary"]["complete"] is False
    assert done["summary"]["failure"].startswith("stopped at t=")
    assert 0 < done["summary"]["simulated_s"] < 20000
    data = load_run(running.services.settings.runs_dir / run_id)
    assert not data.complete
    assert any(p.startswith("run incomplete: stopped") for p in data.problems)
    assert data.metric_rows and (running.services.settings.runs_dir / run_id /
                                 "requests.parquet").exists()
    again = client.delete(f"/api/monitoring/load-test/{run_id}", headers=AUTH)
    assert again.status_code == 409


def test_pool_is_bounded_and_a_queued_run_cancels(serve):
    running = serve(token=TOKEN, workers=1, max_queued=1)
    client = running.client
    first = client.post("/api/monitoring/load-test", headers=AUTH,
                        json={"spec": spec_text("first", 20000, 100)}).json()
    wait_for(client, f"/api/monitoring/load-test/{first['id']}",
             lambda run: run["state"] == "running")
    second = client.post("/api/monitoring/load-test", headers=AUTH,
                         json={"spec": spec_text("second", 30)}).json()
    assert second["state"] == "queued"  # one worker: it waits
    full = client.post("/api/monitoring/load-test", headers=AUTH,
                       json={"spec": spec_text("third", 30)})
    assert full.status_code == 503 and full.headers["retry-after"]
    cancelled = client.delete(f"/api/monitoring/load-test/{second['id']}", headers=AUTH)
    assert cancelled.json()["state"] == "cancelled"
    assert not (running.services.settings.runs_dir / second["id"]).exists()
    client.delete(f"/api/monitoring/load-test/{first['id']}", headers=AUTH)
    listed = wait_for(client, "/api/monitoring/load-test",
                      lambda body: all(finished(r) for r in body["runs"]))
    states = {r["name"]: r["state"] for r in listed["runs"]}
    assert states == {"first": "stopped", "second": "cancelled"}


def test_listing_includes_run_directories_already_there(serve, tmp_path, monkeypatch):
    """Both layouts: a flat RUNS/ID/ (--out, earlier servers) and `simscale run`'s
    RUNS/<name>/<time>-<hash>/ with its `latest`, which is not listed as a run of its own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.toml").write_text(spec_text("old", 20))
    (tmp_path / "new.toml").write_text(spec_text("new", 20))
    for words in (["old.toml", "--out", "runs/old-run"], ["new.toml"]):
        result = CliRunner().invoke(cli, ["run", *words, "--quiet"])
        assert result.exit_code == 0, result.output
    nested = resolve_run_dir(tmp_path / "runs" / "new")
    nested_id = f"new/{nested.name}"
    assert (tmp_path / "runs" / "new" / "latest").exists()
    running = serve(token=TOKEN)
    runs = running.client.get("/api/monitoring/load-test").json()["runs"]
    assert sorted((r["id"], r["state"]) for r in runs) == [
        (nested_id, "finished"), ("old-run", "finished")]
    one = running.client.get("/api/monitoring/load-test/old-run").json()
    assert one["summary"]["name"] == "old"
    two = running.client.get(f"/api/monitoring/load-test/{nested_id}").json()
    assert two["summary"]["name"] == "new" and two["links"]["self"].endswith(nested_id)
    board = running.client.get("/api/monitoring/dashboard", params={"run": nested_id}).json()
    assert board["rows"] > 0 and board["problems"] == []
    assert running.client.get("/api/monitoring/load-test/nope").status_code == 404
    assert running.client.get("/api/monitoring/load-test/new/latest").status_code == 404


def test_dashboard_shows_the_tui_numbers_live_and_after(serve):
    running = serve(token=TOKEN)
    client = running.client
    run_id = client.post("/api/monitoring/load-test", headers=AUTH,
                         json={"spec": spec_text("board", 20000, 60)}).json()["id"]
    live = wait_for(client, f"/api/monitoring/dashboard?run={run_id}&window=1m",
                    lambda b: b.get("live") and b["rows"] >= 2)
    client.delete(f"/api/monitoring/load-test/{run_id}", headers=AUTH)
    wait_for(client, f"/api/monitoring/load-test/{run_id}", finished)
    after = client.get(f"/api/monitoring/dashboard?run={run_id}&window=1m&series=true").json()
    assert after["live"] is False
    assert after["problems"] and after["problems"][0].startswith("run incomplete: stopped")

    rows = pq.read_table(running.services.settings.runs_dir / run_id /
                         "metrics.parquet").to_pylist()
    by_t = {r["t_s"]: r for r in rows}
    # the live screen's newest row is the row the run wrote for that time
    assert live["latest"] == by_t[live["latest"]["t_s"]]
    assert after["latest"] == rows[-1]
    ends = [r["t_s"] + r["interval_s"] for r in rows]
    minute = [r for r, end in zip(rows, ends) if end > after["at_s"] - 60 + 1e-9]
    assert after["at_s"] == ends[-1] and after["window_rows"] == len(minute) > 1
    mean = (sum(r["throughput_rps"] * r["interval_s"] for r in minute)
            / sum(r["interval_s"] for r in minute))
    assert abs(after["aggregates"]["throughput_rps"]["value"] - mean) < 1e-9
    assert after["aggregates"]["errors"]["kind"] == "sum"
    assert after["aggregates"]["errors"]["value"] == sum(r["errors"] for r in minute)
    assert after["series"]["t_s"] == [r["t_s"] for r in minute]


def test_a_worker_that_dies_fails_its_run(serve):
    running = serve(token=TOKEN)
    client = running.client
    run_id = client.post("/api/monitoring/load-test", headers=AUTH,
                         json={"spec": spec_text("doomed", 20000, 100)}).json()["id"]
    wait_for(client, f"/api/monitoring/load-test/{run_id}",
             lambda run: run["state"] == "running" and run["sim_t_s"] > 0)
    running.services.pool._entries[run_id].process.kill()  # as the OOM killer would
    done = wait_for(client, f"/api/monitoring/load-test/{run_id}", finished)
    assert done["state"] == "failed" and done["error"] == "worker exited with code -9"
    assert client.get("/api/health").json()["runs"]["failed"] == 1


def test_ids_are_run_directories_unique_and_recovered(tmp_path):
    """Two runs of one spec accepted in the same second get two directories; a name that is
    not a plain id segment gets a folder of safe characters; a new pool finds the records."""
    import tomllib

    from simscale.serve.runs import RunPool
    from simscale.spec import spec_from_dict

    now_s = 1767225600.0
    pool = RunPool(tmp_path / "runs", clock=lambda: now_s)
    try:
        ids = []
        for name in ("same", "same", "two words"):
            data = tomllib.loads(spec_text(name, 20))
            ids.append(pool.submit(spec_from_dict(data, "test"), data)["id"])
    finally:
        pool.close()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now_s))
    first, second, spaced = ids
    assert first.startswith(f"same/{stamp}-") and second == f"{first}-2"
    assert spaced.startswith(f"two-words/{stamp}-")
    for run_id in ids:
        assert (tmp_path / "runs" / ".serve" / f"{run_id}.json").is_file()
        assert not (tmp_path / "runs" / run_id).exists()  # nothing written before it runs
    again = RunPool(tmp_path / "runs", clock=lambda: now_s)
    try:
        listed = again.list_runs(10)
        assert sorted(r["id"] for r in listed) == sorted(ids)
        assert {r["state"] for r in listed} == {"queued"}
        assert all(r["requeued"] for r in listed)
    finally:
        again.close()
