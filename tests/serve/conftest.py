"""Fixtures for the serve tests: a real uvicorn server on 127.0.0.1, port 0, and an httpx client."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from simscale.serve.app import create_app
from simscale.serve.fleetspec import fleet_from_dict
from simscale.serve.server import Server, bind
from simscale.serve.services import Services, Settings

TOKEN = "s3cret-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SPEC = """\
name = "{name}"
duration_s = {duration}
seed = 11

[workload]
arrivals = {{ kind = "poisson", rate_rps = {rate} }}
service = {{ kind = "exponential", mean_s = 0.02 }}

[instances]
count = 2
slots = 4

[metrics]
interval_s = 5
"""


def spec_text(name: str = "probe", duration: float = 60, rate: float = 50) -> str:
    return SPEC.format(name=name, duration=duration, rate=rate)


def fleet_spec(name: str = "web", policy: str = "target_tracking", params: dict | None = None,
               alerts: dict | None = None, **autoscaling):
    """A fleet whose scrapes each see only the samples of the last 15 s, without lag."""
    section = {"enabled": True, "policy": policy,
               "params": params if params is not None else {"min_replicas": 2,
                                                             "max_replicas": 40},
               "scrape_interval_s": 15, "metrics_window_s": 15, "metrics_delay_s": 0,
               **autoscaling}
    data = {"name": name, "autoscaling": section}
    if alerts is not None:
        data["alerts"] = alerts
    return fleet_from_dict(data, "test")


@dataclass
class Running:
    server: Server
    services: Services
    client: httpx.Client
    url: str


def wait_for(client: httpx.Client, path: str, condition, timeout_s: float = 60.0,
             headers=None) -> dict:
    """GET path until condition(json) holds; the last JSON. AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(path, headers=headers).json()
        if condition(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting on {path}: {body}")
        time.sleep(0.05)


def _servers(default_root: Path):
    """start(**settings) → Running, and the list of what was started."""
    started: list[tuple[Running, object]] = []

    def start(*, clock=None, root: Path | None = None, **changes) -> Running:
        root = root or default_root
        settings = Settings(runs_dir=root / "runs", fleets_dir=root / "fleets",
                            spec_root=root, **changes)
        services = Services(settings, clock=clock,
                            fleet_sleep=clock.sleep if clock is not None else None)
        server = Server(create_app(services), bind("127.0.0.1", 0))
        server.start()
        url = f"http://127.0.0.1:{server.port}"
        client = httpx.Client(base_url=url, timeout=30.0)
        running = Running(server, services, client, url)
        started.append((running, clock))
        return running

    return start, started


def _stop(started) -> None:
    for running, clock in started:
        if clock is not None:
            clock.close()
        running.client.close()
        running.server.stop()


@pytest.fixture
def serve(tmp_path):
    """start(**settings) → Running; servers and clocks are stopped at the end of the test."""
    start, started = _servers(tmp_path)
    yield start
    _stop(started)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One server for a module's read-only and refused requests: a token, fleet `web`, and a
    rate limit no test reaches."""
    start, started = _servers(tmp_path_factory.mktemp("api"))
    yield start(token=TOKEN, fleets=[fleet_spec()], rate_per_s=1e5, burst=1e5)
    _stop(started)
