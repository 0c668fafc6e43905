"""Load tests: a posted experiment runs in a worker process and writes what `simscale run`
writes; a cancel keeps outputs marked incomplete; the dashboard shows the TUI's numbers."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from simscale.cli import app as cli
from simscale.reports.rundir import load_run
from tests.serve.conftest import AUTH, TOKEN, spec_text, wait_for

TABLES = ("requests", "metrics", "events")
VOLATILE = ("wall_s",)


def finished(run):
    return run["state"] not in ("queued", "running", "stopping")


def test_posted_experiment_equals_simscale_run(serve, tmp_path):
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

    spec_file = tmp_path / "probe.toml"
    spec_file.write_text(spec_text("probe", 60))
    out = tmp_path / "cli-run"
    result = CliRunner().invoke(cli, ["run", str(spec_file), "--out", str(out), "--quiet",
                                      "--seed", "5", "--set", "workload.arrivals.rate_rps=80"])
    assert result.exit_code == 0, result.output
    served = running.services.settings.runs_dir / run["id"]
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


def test_listing_includes_run_directories_already_there(serve, tmp_path):
    spec_file = tmp_path / "old.toml"
    spec_file.write_text(spec_text("old", 20))
    result = CliRunner().invoke(cli, ["run", str(spec_file), "--out",
                                      str(tmp_path / "runs" / "old-run"), "--quiet"])
    assert result.exit_code == 0
    running = serve(token=TOKEN)
    runs = running.client.get("/api/monitoring/load-test").json()["runs"]
    assert [(r["id"], r["state"]) for r in runs] == [("old-run", "finished")]
    one = running.client.get("/api/monitoring/load-test/old-run").json()
    assert one["summary"]["name"] == "old"
    assert running.client.get("/api/monitoring/load-test/nope").status_code == 404


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
