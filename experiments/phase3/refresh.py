"""Refresh the stored Phase 3 results and the README's claims table from a fresh sweep.

    python experiments/phase3/refresh.py [--out runs/sweeps/phase3] [--workers N] [--skip-sweep]

Runs `simscale sweep experiments/sweeps/phase3.toml --out OUT` (unless --skip-sweep: OUT
holds a finished sweep), writes `simscale compare OUT --markdown` to
experiments/phase3/results/compare.md, with the claims file and the sweep's metrics as they
are now (the sweep folder keeps the copies of when it ran), and puts its claims table into
README.md between the phase3-claims markers. tests/sweep/test_phase3.py checks that the
README shows the stored table and that the stored rows are those compare prints for the
current claims.
The full sweep took 16 minutes on two cores shared with other work (load average 7–9).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "experiments" / "sweeps" / "phase3.toml"
CLAIMS = ROOT / "experiments" / "phase3" / "claims" / "phase3.toml"
RESULTS = ROOT / "experiments" / "phase3" / "results" / "compare.md"
README = ROOT / "README.md"
HEADING = "### Phase 3 claims"
BEGIN, END = "<!-- phase3-claims: begin -->", "<!-- phase3-claims: end -->"


def simscale(*args: str) -> int:
    """Run a simscale command; its exit code (compare exits 1 when a claim fails)."""
    return subprocess.run([sys.executable, "-m", "simscale", *args], cwd=ROOT,
                          check=False).returncode


def claims_block(markdown: str) -> str:
    """The claims table and its notes from compare's Markdown (the heading left out)."""
    return markdown.split(HEADING, 1)[1].split("\n", 1)[1].strip()


def put_in_readme(block: str) -> None:
    text = README.read_text()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    tmp = README.with_name(f".{README.name}.partial")
    tmp.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")
    tmp.replace(README)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "sweeps" / "phase3")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    if not args.skip_sweep:
        workers = ["--workers", str(args.workers)] if args.workers else []
        if simscale("sweep", str(SWEEP), "--out", str(args.out), "--quiet", *workers) != 0:
            return 1
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_name(f".{RESULTS.name}.partial")
    from simscale.sweep.spec import read_sweep

    metrics = [arg for m in read_sweep(SWEEP)[0].metrics for arg in ("--metric", m)]
    if simscale("compare", str(args.out), "--claims", str(CLAIMS), *metrics, "--markdown",
                str(tmp)) not in (0, 1):
        return 1
    tmp.replace(RESULTS)
    put_in_readme(claims_block(RESULTS.read_text()))
    print(f"wrote {RESULTS.relative_to(ROOT)} and the claims table of README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
