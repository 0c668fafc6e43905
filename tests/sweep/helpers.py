"""Small sweeps over the quickstart at a short horizon, for the sweep tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.toml"

BALANCER_SWEEP = """
replications = 2
seed = 7
baseline = "round_robin"
metrics = ["latency_p95_s", "throughput_rps"]

[[parameters]]
path = "balancer.policy"
values = ["round_robin", "least_connections", "power_of_two_choices"]
"""


def write_sweep(folder: Path, body: str, name: str = "small") -> Path:
    """A sweep file over the quickstart (10 simulated seconds) with `body` appended."""
    path = folder / f"{name}.toml"
    path.write_text(
        f'base = "{QUICKSTART}"\n'
        # requests hold no memory: a variant with fewer instances would be OOM-killed
        'set = ["duration_s=10", "balancer.params={}", "instances.memory_per_request_mb=0"]\n'
        + body
    )
    return path
