"""Run `simscale run` in a subprocess and judge its outcome: exit 0 with every arrival in
exactly one status, or exit 2 with every error line naming the place; nothing else (no
traceback, no other exit code, no run longer than TIMEOUT_S)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import currently_in_test_context, event

TIMEOUT_S = 60.0
"""Longest a fuzzed run may take: the runs are small (a few simulated seconds of a 30-row
sample), so one that is still going after a minute hangs."""

STATUSES = ("ok", "error", "timeout", "rejected")
# a spec problem: `<spec>: <field path>: <what is wrong>`, e.g. workload.arrivals.speed
FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+|\[[0-9]+\])*: \S")


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def note(what: str) -> None:
    """Count `what` in Hypothesis's statistics (--hypothesis-show-statistics), in a property."""
    if currently_in_test_context():
        event(what)


def run_cli(spec: Path, out: Path, *options: str) -> Outcome:
    """`python -m simscale run SPEC --out OUT --quiet [OPTIONS]`; fails the test (a hang)
    when it is still running after TIMEOUT_S (the process is killed)."""
    command = [sys.executable, "-m", "simscale", "run", str(spec), "--out", str(out),
               "--quiet", *options]
    try:
        proc = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace",
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        note("hang")
        raise AssertionError(f"hang: {' '.join(command)} ran over {TIMEOUT_S:g} s") from None
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def check(outcome: Outcome, out: Path, spec: Path, trace: Path, lenient: bool) -> None:
    """Exit 0 and conservation, or exit 2 naming the trace (file:line or file: problem) or
    the spec's field path; anything else fails, a traceback first."""
    assert "Traceback" not in outcome.stderr, outcome.stderr[-4000:]
    assert outcome.code in (0, 2), f"exit {outcome.code}: {outcome.stderr[-4000:]}"
    note(f"exit {outcome.code}")
    if outcome.code == 0:
        check_conservation(out, lenient)
        return
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error: ")]
    assert errors, f"exit 2 without an error line: {outcome.stderr[-4000:]}"
    for line in errors:
        text = line.removeprefix("error: ")
        if text.startswith(f"{trace}:"):
            note("exit 2: the trace named")
        elif text.startswith(f"{spec}: ") and FIELD_PATH.match(text, len(str(spec)) + 2):
            note("exit 2: a spec field named")
        else:
            raise AssertionError(f"names neither {trace}: nor {spec}: <field>: {line}")
    assert not out.exists() or not any(out.iterdir()), f"exit 2 wrote {sorted(out.iterdir())}"


def check_conservation(out: Path, lenient: bool) -> None:
    """summary.json is strict JSON; every arrival ended in exactly one status, in the summary
    and in requests.parquet alike (one row per arrival); a strict read skipped nothing."""
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_not_json)
    assert summary["complete"] is True, summary.get("failure")
    arrivals = summary["arrivals"]
    assert arrivals == sum(summary[status] for status in STATUSES), summary
    statuses = Counter(pq.read_table(out / "requests.parquet", columns=["status"])
                       ["status"].to_pylist())
    assert sum(statuses.values()) == arrivals
    assert set(statuses) <= set(STATUSES), statuses
    assert all(statuses[status] == summary[status] for status in STATUSES), (statuses, summary)
    assert summary["trace_rows"] >= 1
    if not lenient:
        assert summary["trace_skipped_rows"] == 0, summary
    note("exit 0: arrivals" if arrivals else "exit 0: no arrival in the run")


def _not_json(constant: str):
    raise AssertionError(f"summary.json holds {constant}, which is not JSON")
