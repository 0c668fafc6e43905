"""Trace replay through `simscale run`: exact arrivals, options, --lenient, and bad traces."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.model.runner import run
from simscale.workload.traces import read_trace
from tests.conftest import ROOT, small_spec

TRACES = ROOT / "data" / "traces"
REPLAYS = [("azure_conv.toml", "azure_llm_2023_conv.csv"),
           ("azure_code.toml", "azure_llm_2023_code.csv"),
           ("mooncake_conversation.toml", "mooncake_fast25_conversation_trace.jsonl")]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def requests_of(out):
    table = pq.read_table(out / "requests.parquet").sort_by("request_id")
    return {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}


@pytest.mark.shipped(*[(f"traces/{spec}",) for spec, _ in REPLAYS])
@pytest.mark.parametrize("spec, trace", REPLAYS, ids=[s for s, _ in REPLAYS])
def test_replay_at_speed_1_reproduces_the_trace_exactly(shipped, spec, trace):
    """Same arrival times (bit for bit), so the same count in every second, and the same
    token sizes, read back from requests.parquet of the replay (the whole spec, as
    `simscale run` runs it)."""
    run = shipped(f"traces/{spec}")
    table = run.table("requests").sort_by("request_id")
    got = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    want = read_trace(TRACES / trace)
    assert np.array_equal(got["arrival_s"], want.arrival_s)
    seconds = int(want.arrival_s[-1]) + 1
    assert np.array_equal(np.bincount(got["arrival_s"].astype(int), minlength=seconds),
                          np.bincount(want.arrival_s.astype(int), minlength=seconds))
    assert np.array_equal(got["prompt_tokens"], want.prompt_tokens)
    assert np.array_equal(got["output_tokens"], want.output_tokens)
    summary = run.summary
    assert summary["ok"] == summary["arrivals"] == len(want)  # ample capacity
    assert summary["trace_rows"] == len(want) and summary["trace_skipped_rows"] == 0
    assert summary["ttft_p50_s"] > 0 and summary["output_tokens_per_s"] > 0


def write_spec(folder, trace_name, body="", arrivals=""):
    spec = folder / "spec.toml"
    spec.write_text(f"""name = "t"
duration_s = 100
[workload]
arrivals = {{ kind = "trace", path = "{trace_name}"{arrivals} }}
{body}
[instances]
count = 1
slots = 16
""")
    return spec


GOOD_CSV = ("arrival_s,prompt_tokens,output_tokens,kind,user_id,session_id\n"
            "5.0,10,1,chat,1,11\n5.5,20,2,chat,1,11\n6.0,30,3,health,2,22\n"
            "7.25,40,4,chat,3,33\n9.0,50,5,chat,1,12\n")


def test_generic_csv_gives_kinds_ids_and_tokens(tmp_path):
    (tmp_path / "trace.csv").write_text(GOOD_CSV)
    spec = write_spec(tmp_path, "trace.csv", body="""
[workload.mix.chat]
llm = true
[workload.mix.health]
""")
    res = cli("run", spec, "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 0, res.output
    got = requests_of(tmp_path / "out")
    assert got["arrival_s"].tolist() == [0.0, 0.5, 1.0, 2.25, 4.0]  # from the first row
    assert got["kind"].tolist() == ["chat", "chat", "health", "chat", "chat"]
    assert got["user_id"].tolist() == [1, 1, 2, 3, 1]
    assert got["session_id"].tolist() == [11, 11, 22, 33, 12]
    assert got["prompt_tokens"].tolist() == [10, 20, 30, 40, 50]
    ttft = got["ttft_s"]
    assert np.isnan(ttft[2]) and not np.isnan(ttft[[0, 1, 3, 4]]).any()  # health: no LLM


def test_a_trace_kind_missing_from_the_mix_is_bad_input(tmp_path):
    (tmp_path / "trace.csv").write_text(GOOD_CSV)
    spec = write_spec(tmp_path, "trace.csv", body="[workload.mix.chat]\n")
    res = cli("run", spec, "--out", tmp_path / "out")
    assert res.exit_code == 2 and "kind 'health' is not a kind of workload.mix" in res.output


def test_speed_window_loop_and_rate_scale():
    base = {"kind": "trace", "path": str(TRACES / "azure_llm_2023_conv.csv")}
    trace = read_trace(TRACES / "azure_llm_2023_conv.csv")

    def arrivals(duration_s, **options):
        spec = small_spec(duration_s=duration_s, workload={"arrivals": {**base, **options}},
                          instances={"count": 1, "slots": 64, "cores": 64})
        return run(spec, None).summary["arrivals"]

    in_window = np.count_nonzero((trace.arrival_s >= 600) & (trace.arrival_s < 900))
    assert arrivals(300.0, window_s=[600, 900]) == in_window
    assert arrivals(150.0, window_s=[600, 900], speed=2.0) == in_window
    assert arrivals(900.0, window_s=[600, 900], loop=True) == 3 * in_window
    assert arrivals(300.0, window_s=[600, 900], rate_scale=2.0) == 2 * in_window
    assert arrivals(300.0, window_s=[600, 900], rate_scale=0.5) == pytest.approx(
        in_window / 2, rel=0.15)


BAD_CSV_ROWS = ("arrival_s,prompt_tokens,output_tokens\n0,10,1\n1,-5,2\nsoon,3,3\n"
                "4,10,1\n2,10,1\n5,10,1\n")


def test_lenient_skips_and_counts_bad_rows(tmp_path):
    (tmp_path / "bad.csv").write_text(BAD_CSV_ROWS)
    spec = write_spec(tmp_path, "bad.csv")
    out = tmp_path / "out"
    res = cli("run", spec, "--out", out, "--quiet", "--lenient")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trace_skipped_rows"] == 3  # negative tokens, bad time, unsorted
    assert summary["arrivals"] == summary["trace_rows"] == 3
    assert requests_of(out)["arrival_s"].tolist() == [0.0, 4.0, 5.0]
    # the same through the spec field
    spec = write_spec(tmp_path, "bad.csv", arrivals=", lenient = true")
    assert cli("run", spec, "--out", tmp_path / "out2", "--quiet").exit_code == 0


AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
AZURE_ROW = "2023-11-16 18:15:46.6805900,374,44\n"
BAD_TRACES = [
    ("missing", None, "missing.csv: no such file"),
    ("empty", "", "empty.csv: empty file"),
    ("wrong_column", "arrival_s,prompt_tokenz\n0,1\n",
     "wrong_column.csv:1: unknown column 'prompt_tokenz'"),
    ("missing_column", "prompt_tokens,output_tokens\n1,2\n",
     "cannot tell the trace format"),
    ("bad_time", AZURE_HEADER + AZURE_ROW + "2023-11-16 18:61:00.0,5,5\n",
     "bad_time.csv:3: bad TIMESTAMP"),
    ("unsorted", AZURE_HEADER + AZURE_ROW + "2023-11-16 18:15:40.0,5,5\n",
     "unsorted.csv:3: TIMESTAMP 2023-11-16 18:15:40.0 is earlier than the time at line 2"),
    ("negative", AZURE_HEADER + AZURE_ROW + "2023-11-16 18:15:47.0,5,-1\n",
     "negative.csv:3: GeneratedTokens is negative: -1"),
]


def test_bad_traces_exit_2_naming_file_and_line(tmp_path):
    """Each bad trace, run as `python -m simscale run` (the processes run side by side)."""
    procs = {}
    for name, content, expected in BAD_TRACES:
        folder = tmp_path / name
        folder.mkdir()
        trace = folder / f"{name}.csv"
        if content is not None:
            trace.write_text(content)
        spec = write_spec(folder, trace.name)
        command = [sys.executable, "-m", "simscale", "run", str(spec), "--out",
                   str(folder / "out")]
        procs[name] = (subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True), expected, folder)
    for name, (proc, expected, folder) in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, (name, stdout + stderr)
        assert expected in stderr and str(folder) in stderr, (name, stderr)
        assert "Traceback" not in stderr, (name, stderr)
        assert not (folder / "out").exists(), name


# ---------------------------------------------------------------- bounds (issue 13)

MAX_TOKENS = 2**31 - 1


def token_trace(folder, fmt):
    """A trace whose second row has 3,000,000,000 prompt tokens and third the largest count
    requests.parquet holds; (file name, the problem its second row is)."""
    rows = [(10, 1), (3_000_000_000, 2), (MAX_TOKENS, MAX_TOKENS)]
    if fmt == "parquet":
        import pyarrow as pa

        name = "t.parquet"
        pq.write_table(pa.table({"arrival_s": [1.0, 2.0, 3.0],
                                 "prompt_tokens": [r[0] for r in rows],
                                 "output_tokens": [r[1] for r in rows]}), folder / name)
        return name, f"{name}: row 2: prompt_tokens"
    if fmt == "azure":
        lines = [AZURE_HEADER.strip()] + [f"2023-11-16 18:15:4{i}.1,{a},{b}"
                                          for i, (a, b) in enumerate(rows)]
        name, where = "t.csv", "t.csv:3: ContextTokens"
    elif fmt == "mooncake":
        lines = [json.dumps({"timestamp": 1000 * i, "input_length": a, "output_length": b})
                 for i, (a, b) in enumerate(rows)]
        name, where = "t.jsonl", "t.jsonl:2: 'input_length'"
    else:
        lines = ["arrival_s,prompt_tokens,output_tokens"] + [f"{i},{a},{b}"
                                                             for i, (a, b) in enumerate(rows)]
        name, where = "t.csv", "t.csv:3: prompt_tokens"
    (folder / name).write_text("\n".join(lines) + "\n")
    return name, where


@pytest.mark.parametrize("fmt", ["azure", "mooncake", "csv", "parquet"])
def test_a_token_count_above_int32_exits_2_or_is_skipped(tmp_path, fmt):
    """It used to pass the reader and crash the run at its end (ArrowInvalid)."""
    name, where = token_trace(tmp_path, fmt)
    spec = write_spec(tmp_path, name, body="[workload.mix.chat]\nllm = true\n")
    res = cli("run", spec, "--out", tmp_path / "strict", "--quiet")
    assert res.exit_code == 2, res.output
    assert f"{where} is out of range: 3000000000 (max 2,147,483,647)" in res.output
    res = cli("run", spec, "--out", tmp_path / "lenient", "--quiet", "--lenient")
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "lenient" / "summary.json").read_text())
    assert summary["trace_skipped_rows"] == 1 and summary["arrivals"] == 2
    got = requests_of(tmp_path / "lenient")
    assert got["prompt_tokens"].tolist() == [10, MAX_TOKENS]
    assert got["output_tokens"].tolist() == [1, MAX_TOKENS]


REPLAYS_REFUSED = [
    ("arrival_s\n5\n", {"loop": True}, "loop"),
    ("arrival_s\n5\n5\n5\n", {"loop": True}, "loop"),
    ("arrival_s\n5\n5\n5\n", {"rate_scale": 3.0}, "rate_scale"),
    (None, {"loop": True, "speed": 1e300}, "speed"),
    (None, {"loop": True, "window_s": [0, 1e-300]}, "window_s"),
    (None, {"rate_scale": 1e9}, "rate_scale"),
]


@pytest.mark.parametrize(("content", "options", "field"), REPLAYS_REFUSED)
def test_unbounded_replays_are_refused_naming_the_field(tmp_path, content, options, field):
    """They used to crash mid-run (a lap with no length) or never end (4 GB in 60 s). The spec
    refuses them at load; the replay itself refuses them too (a second line of defence)."""
    from simscale.errors import InputError
    from simscale.workload.chunks import Workload

    path = TRACES / "azure_llm_2023_code.csv"
    if content is not None:
        path = tmp_path / "t.csv"
        path.write_text(content)
    arrivals = {"kind": "trace", "path": str(path), **options}
    with pytest.raises(InputError) as caught:
        small_spec(duration_s=100.0, workload={"arrivals": arrivals})
    (problem,) = caught.value.problems
    assert f"workload.arrivals.{field}: " in problem
    valid = small_spec(duration_s=100.0, workload={"arrivals": {"kind": "trace",
                                                                "path": str(path)}})
    unchecked = valid.workload.arrivals.model_copy(update=options)
    with pytest.raises(InputError) as caught:
        Workload(valid.workload.model_copy(update={"arrivals": unchecked}), valid.seed,
                 valid.duration_s)
    (problem,) = caught.value.problems
    assert problem.startswith(f"workload.arrivals.{field}: ") and str(path) in problem


def test_a_looped_one_row_trace_exits_2_with_the_fix_in_the_message(tmp_path):
    (tmp_path / "one.csv").write_text("arrival_s\n5\n")
    spec = write_spec(tmp_path, "one.csv", arrivals=", loop = true")
    proc = subprocess.run([sys.executable, "-m", "simscale", "run", str(spec), "--out",
                           str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "spec.toml: workload.arrivals.loop: a loop needs a lap" in proc.stderr
    assert "set one with window_s = [start_s, end_s]" in proc.stderr
    spec = write_spec(tmp_path, "one.csv", arrivals=", loop = true, window_s = [0, 10]")
    res = cli("run", spec, "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 0, res.output
    assert requests_of(tmp_path / "out")["arrival_s"].tolist() == [10.0 * k for k in range(10)]
