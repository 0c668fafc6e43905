"""Claims judged honestly: inputs are given, relative claims pair replications, figures the
model cannot judge are listed, and `simscale compare` exits 1 on a failing claim."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

from simscale.commands.sweep import register
from simscale.errors import InputError
from simscale.sweep.claims import (
    FAILS,
    GIVEN,
    HOLDS,
    INCONCLUSIVE,
    NO_DATA,
    NOT_JUDGED,
    VERDICTS,
    Claim,
    claimed_text,
    gate_fails,
    judge,
    parse_claims,
)
from simscale.sweep.table import SummaryData
from tests.sweep.helpers import write_sweep

app = typer.Typer()
register(app)
runner = CliRunner()

BEFORE = [10.0, 12.0, 11.0, 13.0]
AFTER = [31.0, 35.0, 33.5, 36.0]


def table(rows: dict[str, list[float | None]], status: dict[str, list[str]] | None = None
          ) -> SummaryData:
    """A summary table: per variant, metric m by replication (and run statuses)."""
    cols: dict[str, list] = {"variant": [], "replication": [], "seed": [], "run_status": [],
                             "run_error": [], "m": [], "given": []}
    for variant, values in rows.items():
        for r, v in enumerate(values):
            cols["variant"].append(variant)
            cols["replication"].append(r)
            cols["seed"].append(r)
            cols["run_status"].append((status or {}).get(variant, ["ok"] * 9)[r])
            cols["run_error"].append(None)
            cols["m"].append(v)
            cols["given"].append(800)
    return SummaryData(columns=cols, meta={"variants": list(rows)}, source=Path("s.parquet"))


def claim(**fields) -> Claim:
    base = {"claim": "c", "variant": "after", "metric": "m"}
    return Claim(**{**base, **fields})


def t_half(values: np.ndarray, confidence: float = 0.95) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)
                 * values.std(ddof=1) / math.sqrt(len(values)))


def test_a_ratio_is_the_geometric_mean_with_the_interval_of_the_paired_log_ratios():
    data = table({"before": BEFORE, "after": AFTER})
    (result,) = judge(data, [claim(baseline="before", compare="ratio", between=(2, 4))])
    logs = np.log(np.array(AFTER) / np.array(BEFORE))
    half = t_half(logs)
    iv = result.interval
    assert iv.n == 4
    assert iv.mean == pytest.approx(math.exp(logs.mean()))
    assert (iv.low, iv.high) == pytest.approx((math.exp(logs.mean() - half),
                                               math.exp(logs.mean() + half)))
    assert result.verdict == HOLDS


def test_a_percent_change_and_a_difference_pair_by_replication():
    data = table({"before": BEFORE, "after": AFTER})
    pct, diff = judge(data, [
        claim(baseline="before", compare="percent", at_least=150),
        claim(baseline="before", compare="difference", at_most=20),
    ])
    ratio = judge(data, [claim(baseline="before", compare="ratio", at_least=0)])[0].interval
    assert pct.interval.mean == pytest.approx(100 * (ratio.mean - 1))
    assert pct.interval.low == pytest.approx(100 * (ratio.low - 1))
    assert pct.verdict == HOLDS
    d = np.array(AFTER) - np.array(BEFORE)
    assert diff.interval.mean == pytest.approx(d.mean())
    assert diff.interval.high == pytest.approx(d.mean() + t_half(d))
    assert diff.verdict == FAILS  # the difference is about 22, all of its interval above 20


def test_pairs_need_both_runs_complete_and_positive_values_for_a_ratio():
    data = table({"before": [10.0, 0.0, 11.0, 12.0], "after": [20.0, 25.0, 23.0, 26.0]},
                 status={"before": ["ok"] * 4, "after": ["ok", "ok", "ok", "incomplete"]})
    ratio, diff = judge(data, [claim(baseline="before", compare="ratio", at_least=0),
                               claim(baseline="before", compare="difference", at_least=0)])
    assert ratio.interval.n == 2   # replication 1 has 0 (no log-ratio), 3 is incomplete
    assert diff.interval.n == 3    # a difference can use the 0


@pytest.mark.parametrize("fields, verdict", [
    ({"at_least": 2.5}, HOLDS),
    ({"at_least": 3.5}, FAILS),
    ({"between": (2.9, 3.3)}, INCONCLUSIVE),   # the interval straddles an edge
])
def test_the_verdict_of_a_ratio_follows_its_interval(fields, verdict):
    data = table({"before": BEFORE, "after": AFTER})
    (result,) = judge(data, [claim(baseline="before", compare="ratio", **fields)])
    assert result.verdict == verdict


def test_an_input_is_given_whatever_its_value():
    data = table({"before": BEFORE, "after": AFTER})
    inside, outside = judge(data, [
        claim(metric="given", metric_is="input", between=(500, 800)),
        claim(metric="given", metric_is="input", at_least=1000),
    ])
    assert inside.verdict == outside.verdict == GIVEN
    assert inside.interval.mean == 800


def test_every_verdict_class_appears_in_one_table():
    data = table({"before": BEFORE, "after": AFTER, "single": [5.0, None, None, None]})
    claims = parse_claims({
        "claims": [
            {"claim": "holds", "variant": "after", "metric": "m", "at_least": 30},
            {"claim": "fails", "variant": "after", "metric": "m", "at_most": 20},
            {"claim": "straddles", "variant": "after", "metric": "m", "at_least": 34},
            {"claim": "one run", "variant": "single", "metric": "m", "at_least": 1},
            {"claim": "missing", "variant": "after", "metric": "nope", "at_least": 1},
            {"claim": "users", "variant": "after", "metric": "given", "metric_is": "input",
             "at_least": 1},
        ],
        "not_judged": [{"claim": "daily users", "claimed": "15,000–25,000",
                        "reason": "a day-long figure"}],
    })
    results = judge(data, claims)
    assert [r.verdict for r in results] == [HOLDS, FAILS, INCONCLUSIVE, INCONCLUSIVE, NO_DATA,
                                            GIVEN, NOT_JUDGED]
    assert set(VERDICTS) == {r.verdict for r in results}
    assert results[-1].interval is None
    assert [r.claim.claim for r in gate_fails(results)] == ["fails"]
    assert [r.claim.claim for r in gate_fails(results, strict=True)] == [
        "fails", "straddles", "one run", "missing"]


@pytest.mark.parametrize("fields, text", [
    ({"between": (5, 10), "baseline": "before", "compare": "ratio"}, "5–10 ×"),
    ({"at_most": -33, "baseline": "before", "compare": "percent"}, "≤ −33 %"),
    ({"at_least": 0.9}, "≥ 0.9"),
])
def test_claimed_text_carries_the_unit_of_a_relative_claim(fields, text):
    assert claimed_text(claim(**fields)) == text


@pytest.mark.parametrize("fields, message", [
    ({"baseline": "before", "at_least": 1}, "gives both baseline and compare"),
    ({"compare": "ratio", "at_least": 1}, "gives both baseline and compare"),
    ({"baseline": "after", "compare": "ratio", "at_least": 1}, "is the claim's own variant"),
    ({"compare": "factor", "baseline": "before", "at_least": 1}, "'ratio', 'percent'"),
    ({"metric_is": "assumed", "at_least": 1}, "'result' or 'input'"),
])
def test_bad_relative_claims_are_input_errors(fields, message):
    data = {"claims": [{"claim": "c", "variant": "after", "metric": "m", **fields}]}
    with pytest.raises(InputError, match=message):
        parse_claims(data, "c.toml")


def test_a_figure_not_judged_needs_a_reason():
    data = {"claims": [{"claim": "c", "variant": "a", "metric": "m", "at_least": 1}],
            "not_judged": [{"claim": "x"}]}
    with pytest.raises(InputError, match="c.toml: not_judged.0.reason: required"):
        parse_claims(data, "c.toml")


def test_a_baseline_the_sweep_lacks_is_an_input_error():
    data = table({"before": BEFORE, "after": AFTER})
    with pytest.raises(InputError, match="no variant of this sweep: 'during'"):
        judge(data, [claim(baseline="during", compare="ratio", at_least=1)])


# ---------------------------------------------------------------- the compare gate


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("claims")
    path = write_sweep(folder, 'replications = 3\nseed = 3\n[[parameters]]\n'
                               'path = "instances.count"\nvalues = [2, 4]\n')
    out = folder / "out"
    res = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--quiet", "-w", "1"])
    assert res.exit_code == 0, res.output
    return out


def claims_file(folder: Path, body: str) -> Path:
    path = folder / "claims.toml"
    path.write_text(body)
    return path


def compare(out: Path, claims: Path, *extra: str):
    return runner.invoke(app, ["compare", str(out), "--claims", str(claims), *extra],
                         env={"COLUMNS": "200"})


HOLDING = ('[[claims]]\nclaim = "twice the instances, more instance-hours"\nvariant = "4"\n'
           'baseline = "2"\ncompare = "ratio"\nmetric = "instance_hours"\nbetween = [1.9, 2.1]\n'
           '[[not_judged]]\nclaim = "daily users"\nreason = "a day-long figure"\n')
FAILING = ('[[claims]]\nclaim = "no instance-hours"\nvariant = "4"\nmetric = "instance_hours"\n'
           'at_most = 0.001\n')
STRADDLING = ('[[claims]]\nclaim = "p95 exactly as before"\nvariant = "4"\nbaseline = "2"\n'
              'compare = "percent"\nmetric = "latency_p95_s"\nbetween = [-1000, {}]\n')


def test_compare_exits_0_when_every_claim_holds(small_sweep, tmp_path):
    res = compare(small_sweep, claims_file(tmp_path, HOLDING))
    assert res.exit_code == 0, res.output
    assert "4 vs 2: twice the instances, more instance-hours" in res.output
    assert "not judged" in res.output and "a day-long figure" in res.output
    assert "verdicts: holds 1, not judged 1" in res.output


def test_compare_exits_1_when_a_claim_fails(small_sweep, tmp_path):
    res = compare(small_sweep, claims_file(tmp_path, FAILING))
    assert res.exit_code == 1
    assert "claims: 1 failed: 4: no instance-hours (fails)" in res.output


def test_an_inconclusive_claim_fails_only_with_strict(small_sweep, tmp_path):
    # the latency change's interval straddles its midpoint: put the bound there
    data_claims = claims_file(tmp_path, STRADDLING.format(1000))
    from simscale.sweep.claims import read_claims
    from simscale.sweep.table import read_summary

    (result,) = judge(read_summary(small_sweep), read_claims(data_claims))
    middle = result.interval.mean
    assert result.interval.low < middle < result.interval.high
    path = claims_file(tmp_path, STRADDLING.format(middle))
    res = compare(small_sweep, path)
    assert res.exit_code == 0, res.output
    assert "inconclusive" in res.output
    res = compare(small_sweep, path, "--strict")
    assert res.exit_code == 1
    assert "claims: 1 failed (--strict): 4 vs 2: p95 exactly as before (inconclusive)" \
        in res.output
