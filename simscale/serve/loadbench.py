"""Load benchmark of `simscale serve` itself: simulated instances pushing metrics over loopback.

`python -m simscale.serve.loadbench [--instances 100] [--seconds 60] [--interval-s 0]` starts
a server in a process of its own (127.0.0.1, a free port, temporary folders, one fleet),
then an asyncio httpx client runs one task per instance, each pushing its sample
(PUT /api/scaling/auto-scale/metrics) back to back, or every interval_s; one more task reads
the fleet's dashboard once a second. It reports pushes per second and route latencies (p50,
p99, max, as the client saw them), stops the server (which compacts its log) and checks that
the samples written to Parquet are exactly the samples accepted. Bounded in instances,
seconds and pushes; exit 1 when a sample is missing or extra.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FLEET = """\
name = "bench"
[autoscaling]
enabled = true
policy = "target_tracking"
params = { min_replicas = 2, max_replicas = 200 }
"""
MAX_INSTANCES = 1000
MAX_SECONDS = 600.0
MAX_PUSHES = 10_000_000


@dataclass
class Tally:
    """What the client saw."""

    push_s: list[float] = field(default_factory=list)
    board_s: list[float] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0
    exposition: str = ""


def start_server(folder: Path, token: str) -> tuple[subprocess.Popen, str]:
    (folder / "bench.toml").write_text(FLEET)
    (folder / "token").write_text(token)
    proc = subprocess.Popen(
        [sys.executable, "-m", "simscale", "serve", "--host", "127.0.0.1", "--port", "0",
         "--runs", "runs", "--fleets", "fleets", "--fleet", "bench.toml",
         "--token-file", "token"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60.0)
    line = proc.stdout.readline() if ready else ""
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, match.group(1)


async def push_loop(url: str, headers: dict, index: int, deadline: float, interval_s: float,
                    budget: list[int], tally: Tally) -> None:
    """One instance with its own connection: push a sample, wait for the answer, (wait
    interval_s,) again."""
    import httpx

    rng = np.random.default_rng(index)
    # plain HTTP on loopback: verify=False spares each client loading a CA bundle
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0, verify=False,
                                 limits=httpx.Limits(max_connections=1)) as client:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            sample = {"instance": f"pod-{index}", "cpu_util_frac": float(rng.uniform(0.2, 0.9)),
                      "memory_frac": float(rng.uniform(0.3, 0.6)),
                      "in_flight": float(rng.integers(10)),
                      "request_rps": float(rng.uniform(5, 50)),
                      "latency_s": float(rng.uniform(0.05, 1))}
            start = time.perf_counter()
            r = await client.put("/api/scaling/auto-scale/metrics", json={"samples": [sample]})
            tally.push_s.append(time.perf_counter() - start)
            if r.status_code == 202:
                tally.accepted += r.json()["accepted"]
            else:
                tally.refused += 1
            if interval_s:
                await asyncio.sleep(interval_s)


async def board_loop(client, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        start = time.perf_counter()
        await client.get("/api/monitoring/dashboard?fleet=bench&window=5m")
        tally.board_s.append(time.perf_counter() - start)
        await asyncio.sleep(1.0)


async def drive(url: str, token: str, instances: int, seconds: float, interval_s: float,
                max_pushes: int) -> tuple[Tally, float]:
    import httpx

    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as client:
        start = time.monotonic()
        deadline = start + seconds
        budget = [max_pushes]
        tasks = [push_loop(url, headers, i, deadline, interval_s, budget, tally)
                 for i in range(instances)]
        await asyncio.gather(*tasks, board_loop(client, deadline, tally))
        elapsed_s = time.monotonic() - start
        tally.exposition = (await client.get("/metrics")).text
        return tally, elapsed_s


def server_p99_s(exposition: str, route: str) -> float | None:
    """The bucket bound under which 99% of the route's handling times fell (server side)."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets = []
    for family in text_string_to_metric_families(exposition):
        if family.name != "simscale_serve_request_seconds":
            continue
        buckets = sorted((float(s.labels["le"]), s.value) for s in family.samples
                         if s.name.endswith("_bucket") and s.labels.get("route") == route)
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= 0.99 * total)


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None off Linux."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written_samples(folder: Path) -> int:
    import pyarrow.parquet as pq

    parts = (folder / "fleets" / "bench" / "samples").glob("part-*.parquet")
    return sum(pq.read_metadata(p).num_rows for p in parts)


def quantiles_ms(values: list[float]) -> str:
    if not values:
        return "no requests"
    p50, p99 = np.quantile(values, [0.5, 0.99]) * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(values) * 1000:.1f} ms"


def run(instances: int, seconds: float, interval_s: float, max_pushes: int) -> int:
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="simscale-loadbench-") as tmp:
        folder = Path(tmp)
        proc, url = start_server(folder, token)
        try:
            server_cpu_s, client_cpu_s = cpu_s(proc.pid), time.process_time()
            tally, elapsed_s = asyncio.run(drive(url, token, instances, seconds, interval_s,
                                                 max_pushes))
            client_cpu_s = time.process_time() - client_cpu_s
            if server_cpu_s is not None:
                server_cpu_s = cpu_s(proc.pid) - server_cpu_s
        finally:
            proc.send_signal(signal.SIGTERM)  # a graceful stop compacts the log
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        written = written_samples(folder)
    pushes = len(tally.push_s)
    print(f"simscale serve load benchmark: {instances} instances over loopback, "
          f"{elapsed_s:.1f} s, {'back to back' if not interval_s else f'every {interval_s} s'}")
    print(f"  pushes: {pushes} ({pushes / elapsed_s:,.0f}/s), refused {tally.refused}")
    if pushes and server_cpu_s is not None:
        print(f"  CPU per request: server {server_cpu_s / pushes * 1000:.2f} ms "
              f"({pushes / server_cpu_s:,.0f} requests per server CPU-second), client "
              f"{client_cpu_s / pushes * 1000:.2f} ms")
    print(f"  PUT /api/scaling/auto-scale/metrics (client): {quantiles_ms(tally.push_s)}")
    print(f"  GET /api/monitoring/dashboard (client, 1/s): {quantiles_ms(tally.board_s)}")
    for route in ("/api/scaling/auto-scale/metrics", "/api/monitoring/dashboard"):
        p99 = server_p99_s(tally.exposition, route)
        shown = "no data" if p99 is None else f"<= {p99 * 1000:g} ms"
        print(f"  {route} handling time on the server, p99: {shown}")
    same = "equal" if written == tally.accepted else "DIFFERENT"
    print(f"  samples accepted {tally.accepted}, written to Parquet {written} ({same})")
    return 0 if written == tally.accepted else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simscale.serve.loadbench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval-s", type=float, default=0.0,
                        help="seconds between one instance's pushes (0: back to back)")
    parser.add_argument("--max-pushes", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if not (1 <= args.instances <= MAX_INSTANCES and 0 < args.seconds <= MAX_SECONDS
            and 0 <= args.interval_s <= 60 and 1 <= args.max_pushes <= MAX_PUSHES):
        parser.error(f"bounds: 1..{MAX_INSTANCES} instances, 0..{MAX_SECONDS:g} s, "
                     f"interval 0..60 s, 1..{MAX_PUSHES} pushes")
    return run(args.instances, args.seconds, args.interval_s, args.max_pushes)


if __name__ == "__main__":
    sys.exit(main())
