"""Run every shipped experiment and list the alerts each one fires (for the README).

    python experiments/alerts_report.py [--only PATTERN] [--max-duration-s S]

Runs each spec under experiments/ (sweeps, claims and dashboards left out) at its own
horizon, or at --max-duration-s when that is shorter (soak: 3600 s by default), without
writing outputs, and prints one Markdown row per experiment: the rules that fired, each at
its worst severity with its seconds firing. The README's "Alerts in the shipped
experiments" table explains every row that is not empty. Takes about 20 minutes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_EXPERIMENTS = ("sweeps", "claims", "dashboards")


def specs(pattern: str) -> list[Path]:
    return sorted(p for p in (ROOT / "experiments").rglob("*.toml")
                  if not set(p.relative_to(ROOT / "experiments").parts) & set(NOT_EXPERIMENTS)
                  and pattern in str(p))


def fired(path: Path, max_duration_s: float) -> str:
    """'HighCPU critical 190 s, …' for one experiment ('' when nothing fired)."""
    from simscale.model.runner import run
    from simscale.spec import load_spec

    spec = load_spec(path)
    if spec.duration_s > max_duration_s:
        spec = load_spec(path, [f"duration_s={max_duration_s}"])
    alerts = run(spec, None).summary.get("alerts") or {}
    worst = alerts.get("worst_severity", {})
    seconds = alerts.get("firing_s", {})
    return ", ".join(f"{rule} {sev} {seconds.get(rule, 0):.0f} s"
                     for rule, sev in sorted(worst.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the specs whose path contains this")
    parser.add_argument("--max-duration-s", type=float, default=3600.0 * 48)
    parser.add_argument("--soak-s", type=float, default=3600.0,
                        help="horizon of load_tests/soak.toml (its rate is flat after 60 s)")
    args = parser.parse_args()
    print("| experiment | alerts fired (worst severity, seconds firing) |")
    print("|---|---|")
    for path in specs(args.only):
        limit = args.soak_s if path.name == "soak.toml" else args.max_duration_s
        shown = fired(path, limit)
        print(f"| `{path.relative_to(ROOT / 'experiments')}` | {shown or '–'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
