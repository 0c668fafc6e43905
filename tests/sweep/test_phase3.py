"""The service's Phase 3 claims: the claims file, the verdict rule, sweeps over named bases, and
`simscale compare` printing the claims table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from simscale.commands.sweep import register
from simscale.errors import InputError
from simscale.model.runner import peak_throughput
from simscale.sweep.claims import (
    FAILS,
    GIVEN,
    HOLDS,
    INCONCLUSIVE,
    NO_DATA,
    NOT_JUDGED,
    Claim,
    judge,
    parse_claims,
    read_claims,
    verdict,
)
from simscale.sweep.compare import Interval
from simscale.sweep.runlist import load_sweep
from simscale.sweep.spec import parse_sweep
from simscale.sweep.table import SummaryData
from tests.sweep.helpers import QUICKSTART, ROOT

PHASE3_SWEEP = ROOT / "experiments" / "sweeps" / "phase3.toml"
PHASE3_CLAIMS = ROOT / "experiments" / "phase3" / "claims" / "phase3.toml"
PHASE3_RESULTS = ROOT / "experiments" / "phase3" / "results" / "compare.md"
README_BEGIN = "<!-- phase3-claims: begin -->"
README_END = "<!-- phase3-claims: end -->"

app = typer.Typer()
register(app)
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# ---------------------------------------------------------------- the shipped files


def test_the_claims_file_validates_and_names_the_sweeps_variants():
    claims = read_claims(PHASE3_CLAIMS)
    assert claims.title == "Phase 3 claims"
    assert {v for c in claims.claims for v in c.variants} == {
        "before", "after", "before_capacity", "after_capacity"}
    by = {(c.variant, c.baseline, c.metric): c for c in claims.claims}
    assert by[("before", None, "users")].between == (500, 800)
    assert by[("before", None, "peak_throughput_rps")].between == (150, 250)
    assert by[("before", None, "api_latency_p95_s")].at_most == 1.5
    assert by[("after", None, "users")].between == (2000, 5000)
    assert by[("after", None, "peak_throughput_rps")].between == (500, 1000)
    assert by[("after", None, "api_latency_p95_s")].at_most == 1.0
    assert by[("after", None, "ttft_p95_s")].at_most == 1.0
    assert by[("after", None, "cache_hit_rate")].at_least == 0.9
    # the concurrent users the runs are given are inputs; what each system holds is a result
    inputs = {(c.variant, c.baseline, c.metric) for c in claims.claims if c.metric_is == "input"}
    assert inputs == {("before", None, "users"), ("after", None, "users"),
                      ("after", "before", "users")}
    capacity = by[("after_capacity", "before_capacity", "stress_max_ok_users")]
    assert (capacity.compare, capacity.between) == ("ratio", (5, 10))
    faster = by[("after", "before", "api_latency_p95_s")]
    assert (faster.compare, faster.at_most) == ("percent", -33)
    # every figure of the notes left out says why
    assert len(claims.not_judged) >= 5
    assert all(len(n.reason) > 20 for n in claims.not_judged)
    assert any("daily active users" in n.claim for n in claims.not_judged)


def test_the_phase3_sweep_runs_before_and_after_and_carries_the_claims():
    sweep = load_sweep(PHASE3_SWEEP)
    assert [v.name for v in sweep.variants] == ["before", "after", "before_capacity",
                                                "after_capacity"]
    assert [v.params for v in sweep.variants][:2] == [{"base": "before"}, {"base": "after"}]
    assert sweep.parameters == ["base"]
    assert sweep.baseline == "before"
    assert sweep.spec.replications >= 3
    assert sweep.claims is not None and len(sweep.claims.claims) == 19
    data = {t.variant: t.spec_data for t in sweep.tasks if t.replication == 0}
    assert data["before"]["instances"]["count"] == 1
    assert data["before"]["workload"]["arrivals"]["users"] == 800
    assert data["after"]["workload"]["arrivals"]["users"] == 5000
    assert data["after"]["autoscaling"]["params"]["min_replicas"] == 2
    assert data["after"]["autoscaling"]["params"]["max_replicas"] == 10
    assert 600 <= data["after"]["duration_s"] <= 1800
    # the capacity variants: the same systems under a staircase of users, each judged
    # against its own target; after's fleet starts at its largest
    for name, target, fleet in (("before_capacity", 1.5, 1), ("after_capacity", 1.0, 10)):
        arrivals = data[name]["workload"]["arrivals"]
        assert arrivals["kind"] == "user_stairs" and arrivals["slo_p95_s"] == target
        assert data[name]["instances"]["count"] == fleet
    assert (data["after_capacity"]["autoscaling"]["params"]["max_replicas"]
            == data["after_capacity"]["instances"]["count"])


# ---------------------------------------------------------------- the verdict rule


def iv(low: float, high: float, n: int = 5) -> Interval:
    return Interval(n, (low + high) / 2, 1.0, low, high)


INF = math.inf


@pytest.mark.parametrize("region, interval, expected", [
    # a range
    ((150, 250), iv(160, 170), HOLDS),
    ((150, 250), iv(150, 250), HOLDS),                 # bounds are inclusive
    ((150, 250), iv(140, 160), INCONCLUSIVE),          # across the lower edge
    ((150, 250), iv(240, 260), INCONCLUSIVE),          # across the upper edge
    ((150, 250), iv(100, 300), INCONCLUSIVE),          # wider than the claim
    ((150, 250), iv(120, 149), FAILS),
    ((150, 250), iv(251, 270), FAILS),
    ((800, 800), iv(800, 800), HOLDS),                 # a point, a degenerate interval
    # an upper bound (at_most)
    ((-INF, 1.0), iv(0.2, 0.9), HOLDS),
    ((-INF, 1.0), iv(0.9, 1.1), INCONCLUSIVE),
    ((-INF, 1.0), iv(1.01, 1.2), FAILS),
    # a lower bound (at_least)
    ((0.9, INF), iv(0.92, 0.95), HOLDS),
    ((0.9, INF), iv(0.85, 0.95), INCONCLUSIVE),
    ((0.9, INF), iv(0.5, 0.89), FAILS),
    # no interval
    ((150, 250), Interval(1, 200.0, math.nan, math.nan, math.nan), INCONCLUSIVE),
    ((150, 250), Interval(0, math.nan, math.nan, math.nan, math.nan), NO_DATA),
    # an interval of a relative claim: the same rule (a ratio against "5-10x")
    ((5, 10), iv(8.5, 9.3), HOLDS),
    ((5, 10), iv(9.5, 10.5), INCONCLUSIVE),
    ((-INF, -33), iv(-2, 4), FAILS),                     # "-33 %" against no change
])
def test_verdict(region, interval, expected):
    assert verdict(region, interval) == expected


@pytest.mark.parametrize("bound, region", [
    ({"between": [1, 2]}, (1, 2)),
    ({"at_most": 1.5}, (-INF, 1.5)),
    ({"at_least": 0.9}, (0.9, INF)),
])
def test_each_kind_of_claim_has_its_region(bound, region):
    claim = Claim(claim="c", variant="v", metric="m", **bound)
    assert claim.region == region


@pytest.mark.parametrize("claim, message", [
    ({"between": [1, 2], "at_most": 3}, "exactly one of between, at_most, at_least"),
    ({}, "exactly one of between, at_most, at_least"),
    ({"between": [2, 1]}, "is not a range"),
    ({"at_most": 1, "bound": 2}, "unknown field"),
    ({"at_least": "nan"}, "not a finite number"),
])
def test_bad_claims_are_input_errors_naming_the_field(claim, message):
    data = {"claims": [{"claim": "c", "variant": "v", "metric": "m", **claim}]}
    with pytest.raises(InputError) as info:
        parse_claims(data, "c.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("c.toml: claims.0")


def test_a_claims_file_without_claims_is_an_input_error():
    with pytest.raises(InputError, match="claims is empty"):
        parse_claims({"claims": []})


def summary(rows: list[tuple[str, str, float | None]]) -> SummaryData:
    """A summary table of (variant, run_status, metric value) rows."""
    return SummaryData(
        columns={"variant": [r[0] for r in rows],
                 "replication": list(range(len(rows))),
                 "seed": list(range(len(rows))),
                 "run_status": [r[1] for r in rows],
                 "run_error": [None] * len(rows),
                 "m": [r[2] for r in rows]},
        meta={"variants": ["a", "b"]}, source=Path("summary.parquet"))


def test_judge_uses_the_t_interval_of_complete_runs_only():
    data = summary([("a", "ok", 10.0), ("a", "ok", 11.0), ("a", "ok", 12.0),
                    ("a", "error", 1000.0), ("b", "ok", 1.0), ("b", "incomplete", 2.0)])
    claims = [Claim(claim="a in range", variant="a", metric="m", between=(5, 20)),
              Claim(claim="a narrow", variant="a", metric="m", between=(10.5, 11.5)),
              Claim(claim="a below", variant="a", metric="m", at_most=8),  # CI 8.52..
              Claim(claim="b one run", variant="b", metric="m", at_most=9),
              Claim(claim="no such metric", variant="a", metric="x", at_most=9)]
    results = judge(data, claims)
    assert [r.verdict for r in results] == [HOLDS, INCONCLUSIVE, FAILS, INCONCLUSIVE, NO_DATA]
    assert results[3].interval.n == 1
    a = results[0].interval
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) · s / √n
    assert (a.n, a.mean) == (3, 11.0)
    assert np.isclose(a.low, 11.0 - half) and np.isclose(a.high, 11.0 + half)
    assert results[3].interval.n == 1


def test_judge_rejects_a_claim_about_a_variant_the_sweep_lacks():
    data = summary([("a", "ok", 1.0)])
    with pytest.raises(InputError, match="no variant of this sweep: 'c'"):
        judge(data, [Claim(claim="c", variant="c", metric="m", at_most=1)])


def test_peak_throughput_leaves_out_a_short_last_interval():
    rows = [{"interval_s": 10.0, "throughput_rps": r} for r in (5.0, 9.0, 7.0)]
    assert peak_throughput([*rows, {"interval_s": 0.5, "throughput_rps": 40.0}], 10.0) == 9.0
    assert peak_throughput([{"interval_s": 4.0, "throughput_rps": 3.0}], 10.0) == 3.0
    assert peak_throughput([], 10.0) is None


# ---------------------------------------------------------------- sweeps over named bases


def bases_sweep(**fields):
    data = {"name": "t", "bases": {"one": {}, "two": {}}}
    data.update(fields)
    return parse_sweep(data)


@pytest.mark.parametrize("fields, message", [
    ({"base": "x.toml"}, "give either base or bases"),
    ({"bases": None}, "give either base or bases"),
    ({"bases": {}}, "bases is empty"),
    ({"bases": {".hidden": {}}}, "base name '.hidden'"),
    ({"parameters": [{"path": "base", "values": [1]}]}, "'base' names the base experiment"),
    ({"design": "lhs", "samples": 2}, "needs parameters"),
    ({"claims": []}, "claims is empty"),
])
def test_bad_bases_are_input_errors(fields, message):
    with pytest.raises(InputError) as info:
        bases_sweep(**fields)
    assert message in str(info.value)


def test_bases_cross_the_design_and_claims_must_name_their_variants(tmp_path):
    path = tmp_path / "s.toml"
    head = (f'bases = {{ quick = "{QUICKSTART}", slow = "{QUICKSTART}" }}\n'
            'set = ["duration_s=5"]\nreplications = 2\n')
    param = '[[parameters]]\npath = "instances.count"\nvalues = [2, 3]\n'
    path.write_text(head + param)
    sweep = load_sweep(path)
    assert [v.name for v in sweep.variants] == ["quick,2", "quick,3", "slow,2", "slow,3"]
    assert sweep.variants[3].params == {"base": "slow", "instances.count": 3}
    assert sweep.parameters == ["base", "instances.count"]
    assert {t.spec_data["instances"]["count"] for t in sweep.tasks} == {2, 3}

    claim = '[[claims]]\nclaim = "c"\nvariant = "fast,2"\nmetric = "ok"\nat_least = 1\n'
    path.write_text(head + 'claims = [{ claim = "c", variant = "fast,2", metric = "ok", '
                           'at_least = 1 }]\n' + param)
    with pytest.raises(InputError, match="claims: 'c': no variant named 'fast,2'"):
        load_sweep(path)
    (tmp_path / "claims.toml").write_text(claim)
    path.write_text(head + 'claims = "claims.toml"\n' + param)
    with pytest.raises(InputError, match="no variant named 'fast,2'"):
        load_sweep(path)
    (tmp_path / "claims.toml").write_text(claim.replace("at_least = 1", "at_lest = 1"))
    with pytest.raises(InputError, match=r"s.toml: claims: .*claims.toml: claims.0.at_lest"):
        load_sweep(path)


# ---------------------------------------------------------------- sweep, then compare


@pytest.fixture(scope="module")
def phase3_short(tmp_path_factory) -> Path:
    """The shipped Phase 3 sweep at 20 simulated seconds, two replications per variant."""
    out = tmp_path_factory.mktemp("phase3") / "out"
    res = invoke("sweep", PHASE3_SWEEP, "--out", out, "--set", "duration_s=20",
                 "--replications", 2, "--workers", 2, "--quiet")
    assert res.exit_code == 0, res.output
    assert "8 runs (8 ok)" in res.output
    return out


def test_the_sweep_records_its_claims_and_the_metrics_they_judge(phase3_short):
    manifest = json.loads((phase3_short / "manifest.json").read_text())
    assert manifest["claims"]["title"] == "Phase 3 claims"
    assert len(manifest["claims"]["claims"]) == 19
    assert len(manifest["claims"]["not_judged"]) == 6
    from simscale.sweep.table import read_summary

    data = read_summary(phase3_short)
    cols = data.columns
    assert cols["param.base"] == [b for b in ("before", "after", "before_capacity",
                                              "after_capacity") for _ in range(2)]
    for metric in ("users", "peak_throughput_rps", "api_latency_p95_s", "ttft_p95_s",
                   "cache_hit_rate", "db_queries", "scale_ups"):
        values = [v for v, b in zip(cols[metric], cols["param.base"], strict=True)
                  if b in ("before", "after")]
        assert all(isinstance(v, float | int) for v in values), metric
    before = [i for i, v in enumerate(cols["variant"]) if v == "before"]
    assert all(cols["cache_hit_rate"][i] < 1e-3 for i in before)  # the pass-through
    # 20 s: the first step of each staircase, held or not (its first 15 s are not judged)
    firsts = {"before_capacity": 1200, "after_capacity": 13000}
    for v, b in zip(cols["stress_max_ok_users"], cols["param.base"], strict=True):
        if b in firsts:
            assert v in (None, firsts[b])


def claims_rows_of(markdown: str) -> list[list[str]]:
    """The cells of the claims table in compare's Markdown."""
    table = markdown.split("### Phase 3 claims")[1].split("\n\n")[1]
    return [[c.strip() for c in line.strip("| ").split(" | ")]
            for line in table.splitlines()[2:]]


def test_compare_prints_the_claims_table_and_exits_1_on_a_failing_claim(phase3_short, tmp_path):
    md = tmp_path / "c.md"
    res = invoke("compare", phase3_short, "--markdown", md)
    assert res.exit_code == 1, res.output  # 20 s of users joining: far below the claims
    out = res.output
    assert "Phase 3 claims" in out
    assert "simulated mean [95% CI]" in out
    for label in ("before: peak requests ~150-250 req/s", "after: cache hit rate 90%+",
                  "after: response time < 1 s (API)",
                  "after_capacity vs before_capacity: 5-10x more concurrent users"):
        assert label in out
    assert "verdicts: " in out and "claims: " in out and " failed: " in out
    rows = claims_rows_of(md.read_text())
    assert len(rows) == 25
    assert {row[-1] for row in rows} <= {HOLDS, FAILS, INCONCLUSIVE, NO_DATA, GIVEN,
                                         NOT_JUDGED}
    by_label = {row[0]: row for row in rows}
    assert by_label["before: peak requests ~150-250 req/s"][1:3] == ["peak_throughput_rps",
                                                                     "150–250"]
    assert by_label["before: peak requests ~150-250 req/s"][-1] == FAILS
    users = by_label["before: concurrent users ~500-800"]
    assert users[3].endswith(" (the input)") and users[4] == GIVEN  # users started by 20 s
    assert by_label["after: daily active users ~15000-25000 (+200 %)"][3:] == ["–", NOT_JUDGED]
    ratio = by_label["after_capacity vs before_capacity: 5-10x more concurrent users"]
    assert ratio[1:3] == ["stress_max_ok_users, after_capacity / before_capacity", "5–10 ×"]


def test_the_readme_shows_the_stored_compare_output(phase3_short):
    """The README's claims table is the stored compare output, row for row, and that output
    has the rows compare prints now (labels, metrics and claimed figures: the numbers come
    from the full sweep that experiments/phase3/refresh.py runs)."""
    stored = PHASE3_RESULTS.read_text()
    readme = (ROOT / "README.md").read_text()
    block = readme.split(README_BEGIN)[1].split(README_END)[0]
    assert block.strip() == stored.split("### Phase 3 claims")[1].split("\n", 1)[1].strip()
    from simscale.sweep.claims import judge
    from simscale.sweep.report import claims_markdown
    from simscale.sweep.table import read_summary

    now = claims_markdown(judge(read_summary(phase3_short), read_claims(PHASE3_CLAIMS)), 0.95,
                          title="Phase 3 claims")
    assert [r[:3] for r in claims_rows_of(stored)] == [r[:3] for r in claims_rows_of(now)]


def test_compare_claims_option_judges_any_sweep_folder(phase3_short, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('title = "checks"\n[[claims]]\nclaim = "no errors"\nvariant = "after"\n'
                     'metric = "error"\nat_most = 0\n')
    res = invoke("compare", phase3_short, "--claims", other)
    assert res.exit_code == 0, res.output
    assert "checks" in res.output and "Phase 3 claims" not in res.output
    assert "after: no errors" in res.output

    other.write_text('[[claims]]\nclaim = "x"\nvariant = "during"\nmetric = "error"\n'
                     'at_most = 0\n')
    res = invoke("compare", phase3_short, "--claims", other)
    assert res.exit_code == 2
    assert "no variant of this sweep: 'during'" in res.output
