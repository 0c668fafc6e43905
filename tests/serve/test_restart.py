"""A server killed with SIGKILL and started again on the same folders: no accepted sample is
lost, finished runs are served again, an interrupted run starts again."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys

import httpx
import pyarrow.parquet as pq

from tests.serve.conftest import TOKEN, spec_text, wait_for

FLEET = """\
name = "web"
[autoscaling]
enabled = true
policy = "target_tracking"
params = { min_replicas = 2, max_replicas = 20 }
scrape_interval_s = 15
metrics_window_s = 60
metrics_delay_s = 0
"""


def start_server(tmp_path) -> tuple[subprocess.Popen, httpx.Client]:
    """`simscale serve --port 0` in a process of its own; returns once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simscale", "serve", "--port", "0", "--runs", "runs",
         "--fleets", "fleets", "--fleet", "web.toml", "--token-file", "token"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60.0)
    line = proc.stdout.readline() if ready else ""
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"the server did not start: {line!r}")
    client = httpx.Client(base_url=match.group(1), timeout=30.0,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    return proc, client


def test_killed_server_loses_no_sample_and_serves_runs_again(tmp_path):
    (tmp_path / "web.toml").write_text(FLEET)
    (tmp_path / "token").write_text(TOKEN)
    proc, client = start_server(tmp_path)
    try:
        short = client.post("/api/monitoring/load-test",
                            json={"spec": spec_text("short", 30)}).json()
        done = wait_for(client, f"/api/monitoring/load-test/{short['id']}",
                        lambda r: r["state"] == "finished")
        accepted, sent = 0, []
        for k in range(40):
            samples = [{"instance": f"pod-{i}", "cpu_util_frac": 0.1 * i + k / 100,
                        "request_rps": 10.0 + k} for i in range(5)]
            r = client.put("/api/scaling/auto-scale/metrics", json={"samples": samples})
            assert r.status_code == 202
            accepted += r.json()["accepted"]
            sent += [(s["instance"], s["cpu_util_frac"], s["request_rps"]) for s in samples]
        long = client.post("/api/monitoring/load-test",
                           json={"spec": spec_text("long", 20000, 100)}).json()
        wait_for(client, f"/api/monitoring/load-test/{long['id']}",
                 lambda r: r["state"] == "running" and r["sim_t_s"] > 0)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        client.close()

    proc, client = start_server(tmp_path)
    try:
        runs = {r["id"]: r for r in client.get("/api/monitoring/load-test").json()["runs"]}
        again = runs[short["id"]]
        assert again["state"] == "finished"
        assert again["summary"] == done["summary"]
        board = client.get(f"/api/monitoring/dashboard?run={short['id']}").json()
        assert board["rows"] > 0 and board["problems"] == []
        # the interrupted run is queued again, runs, and can be stopped as usual
        assert runs[long["id"]]["requeued"] is True
        wait_for(client, f"/api/monitoring/load-test/{long['id']}",
                 lambda r: r["state"] == "running" and r["sim_t_s"] > 0)
        client.delete(f"/api/monitoring/load-test/{long['id']}")
        stopped = wait_for(client, f"/api/monitoring/load-test/{long['id']}",
                           lambda r: r["state"] not in ("running", "stopping"))
        assert stopped["state"] == "stopped"

        # the killed server's log was compacted when the new one opened the fleet
        parts = sorted((tmp_path / "fleets" / "web" / "samples").glob("part-*.parquet"))
        stored = [(r["instance"], r["cpu_util_frac"], r["request_rps"])
                  for p in parts for r in pq.read_table(p).to_pylist()]
        assert len(stored) == accepted == 200
        assert stored == sent
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        client.close()
