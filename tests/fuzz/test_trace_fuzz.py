"""Fuzzing trace replay end to end: a small real sample of each trace format simscale reads
(Azure 2023 CSV, Mooncake JSONL, the generic CSV and Parquet, each also gzip-compressed) is
mutated, replayed by a spec with drawn options (strict or lenient, loop, window, speed,
rate_scale), and run by `python -m simscale run` in a subprocess. The run either exits 0
with every arrival in exactly one status (summary.json and requests.parquet agree) or exits
2 naming the trace's file and line or the spec's field path; a traceback, another exit code
or a run over tests/fuzz/outcomes.TIMEOUT_S fails.

Each property runs SIMSCALE_FUZZ_EXAMPLES examples (tests/fuzz/settings.py); a few in the
suite, each one a subprocess of about a second.
"""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import outcomes
from tests.fuzz.parquet_mutations import parquet_trace
from tests.fuzz.replay_specs import Replay, replays, write_spec
from tests.fuzz.samples import ROWS, generic_table, parquet_bytes, text_samples
from tests.fuzz.settings import fuzz
from tests.fuzz.text_mutations import STRUCTURE_EDITS, VALUE_EDITS, text_trace

SUITE_EXAMPLES = 6
EXAMPLE_S = outcomes.TIMEOUT_S + 5


def replay_and_check(folder, file_name: str, data: bytes, replay) -> None:
    trace = folder / file_name
    trace.write_bytes(data)
    spec = write_spec(folder, file_name, replay)
    out = folder / "run"
    outcome = outcomes.run_cli(spec, out, *(["--lenient"] if replay.cli_lenient else []))
    outcomes.check(outcome, out, spec, trace, replay.lenient)


@fuzz(SUITE_EXAMPLES, EXAMPLE_S)
@given(data=st.data())
def test_a_trace_with_mutated_values_replays_or_exits_2(data, tmp_path_factory):
    sample, file_name, content = data.draw(text_trace(VALUE_EDITS), label="trace")
    replay = data.draw(replays(text_samples()[sample].format), label="replay")
    replay_and_check(tmp_path_factory.mktemp("fuzz"), file_name, content, replay)


@fuzz(SUITE_EXAMPLES, EXAMPLE_S)
@given(data=st.data())
def test_a_trace_with_mutated_structure_replays_or_exits_2(data, tmp_path_factory):
    sample, file_name, content = data.draw(text_trace(STRUCTURE_EDITS), label="trace")
    replay = data.draw(replays(text_samples()[sample].format), label="replay")
    replay_and_check(tmp_path_factory.mktemp("fuzz"), file_name, content, replay)


@fuzz(SUITE_EXAMPLES, EXAMPLE_S)
@given(data=st.data())
def test_a_mutated_parquet_trace_replays_or_exits_2(data, tmp_path_factory):
    file_name, content = data.draw(parquet_trace(), label="trace")
    replay = data.draw(replays("parquet"), label="replay")
    replay_and_check(tmp_path_factory.mktemp("fuzz"), file_name, content, replay)


@pytest.mark.parametrize(("sample", "service"), [
    ("azure_conv", "full"), ("azure_code", "bare"), ("mooncake", "full"), ("generic", "bare"),
    ("parquet", "full")])
def test_every_sample_replays_whole_as_the_fuzzing_starts_from_it(tmp_path, sample, service):
    """The seeds are good traces: unmutated (gzip-compressed, to cover that path too), each
    runs to exit 0 with all its rows read, so a mutation's exit 2 is the mutation's doing.
    Each service of the fuzz spec (tests/fuzz/replay_specs.SERVICES) runs too."""
    if sample == "parquet":
        name, content = "trace.parquet.gz", gzip.compress(parquet_bytes(generic_table()))
    else:
        name = "trace" + text_samples()[sample].suffix + ".gz"
        content = gzip.compress(text_samples()[sample].text().encode())
    replay_and_check(tmp_path, name, content, Replay(duration_s=10.0, service=service))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trace_rows"] == ROWS and summary["trace_skipped_rows"] == 0
    assert summary["arrivals"] > 0
