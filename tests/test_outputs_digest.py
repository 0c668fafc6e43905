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
