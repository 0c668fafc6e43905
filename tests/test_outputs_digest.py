"""The shipped experiments write what they wrote before the package was reshaped: table
contents and summary numbers, for the same spec and seed (tests/outputs_digest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.outputs_digest import differences, run_dir_digest
from tests.shipped import spec_files

RECORD = Path(__file__).parent / "data" / "outputs_short.json"


def test_the_record_covers_every_shipped_spec():
    assert sorted(json.loads(RECORD.read_text())) == sorted(spec_files())


@pytest.mark.shipped(*[(rel,) for rel in spec_files()])
def test_every_shipped_run_matches_its_recorded_digest(shipped):
    recorded = json.loads(RECORD.read_text())
    got = {rel: run_dir_digest(shipped(rel).out) for rel in spec_files()}
    assert differences(recorded, got) == []


def test_a_difference_names_the_table_or_the_summary_number_with_both_values():
    recorded = {"a.toml": {"requests": "r1", "events": "e", "summary": {"ok": 10, "p95": 0.5}}}
    got = {"a.toml": {"requests": "r2", "events": "e", "summary": {"ok": 10, "p95": 0.25}},
           "b.toml": {}}
    assert differences(recorded, got) == [
        "a.toml: requests differs",
        "a.toml: summary p95 differs: 0.5 recorded, 0.25 now",
        "b.toml: only in this run",
    ]
