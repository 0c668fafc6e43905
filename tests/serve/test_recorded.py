"""From production back to the simulator: a fleet's recorded rate replayed as a workload."""

from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from simscale.cli import app as cli
from simscale.serve.fleet import Fleet
from simscale.serve.recorded import rate_points
from tests.serve.clock import SteppedClock
from tests.serve.conftest import fleet_spec

START_S = 1_700_000_000.0  # a Unix time, as a production clock gives
RATES_RPS = [40.0, 40.0, 120.0, 120.0, 80.0, 10.0]


def record(folder, rates=RATES_RPS, cluster=False):
    """A fleet that saw `rates` (one per 15 s scrape), as simscale serve records them."""
    clock = SteppedClock(START_S)
    fleet = Fleet(fleet_spec(), folder, clock=clock, sleep=clock.sleep)
    for k, rate in enumerate(rates):
        clock.set(START_S + 15.0 * k + 7.0)
        if cluster:
            fleet.add_cluster({"arrivals_rps": rate})
        else:  # two instances sharing the load
            fleet.add_samples([{"instance": f"pod-{i}", "request_rps": rate / 2}
                               for i in range(2)])
        clock.set(START_S + 15.0 * (k + 1))
        fleet.refresh()
    fleet.store.close()
    return folder


@pytest.mark.parametrize("cluster", [False, True])
def test_the_recorded_rate_is_piecewise_per_interval(tmp_path, cluster):
    folder = record(tmp_path / "web", cluster=cluster)
    points = rate_points(folder)
    steps = [(points[i][0], points[i + 1][0], points[i][1]) for i in range(0, len(points), 2)]
    # the first scrape (at the fleet's start) saw nothing; then one interval per rate
    assert steps == [(15.0 * k, 15.0 * (k + 1), rate) for k, rate in enumerate(RATES_RPS)]
    window = rate_points(folder, START_S + 22.5, START_S + 60.0, rate_scale=2.0)
    assert window == ((0.0, 80.0), (7.5, 80.0), (7.5, 240.0), (22.5, 240.0), (22.5, 240.0),
                      (37.5, 240.0))


def test_a_run_replays_the_recorded_rate(tmp_path):
    record(tmp_path / "fleets" / "web")
    spec = tmp_path / "replay.toml"
    spec.write_text("""\
name = "replay"
duration_s = 90
seed = 3
[workload]
arrivals = { kind = "recorded", path = "fleets/web" }
service = { kind = "exponential", mean_s = 0.01 }
[instances]
count = 4
slots = 8
[metrics]
interval_s = 15
""")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    arrivals = pq.read_table(out / "requests.parquet", columns=["arrival_s"]).column(
        "arrival_s").to_numpy()
    for k, rate in enumerate(RATES_RPS):
        count = ((arrivals >= 15 * k) & (arrivals < 15 * (k + 1))).sum()
        expected = rate * 15
        assert abs(count - expected) < 5 * math.sqrt(expected), (k, count, expected)


@pytest.mark.parametrize("arrivals, message", [
    ('{ kind = "recorded", path = "nowhere" }', "no recorded metrics"),
    ('{ kind = "recorded", path = "fleets/web", start_s = 1800000000 }',
     "no recorded interval between start_s and end_s"),
    ('{ kind = "recorded", path = "fleets/web", start_s = 10, end_s = 5 }',
     "must be after start_s"),
])
def test_bad_recordings_exit_2_naming_the_field(tmp_path, arrivals, message):
    record(tmp_path / "fleets" / "web")
    spec = tmp_path / "bad.toml"
    spec.write_text(f"name = 'bad'\nduration_s = 10\n[workload]\narrivals = {arrivals}\n"
                    "[instances]\ncount = 1\nslots = 1\n")
    result = CliRunner().invoke(cli, ["run", str(spec), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"{spec}: workload.arrivals: " in result.output and message in result.output
    assert not (tmp_path / "o").exists()
