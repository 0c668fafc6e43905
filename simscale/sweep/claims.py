"""Performance claims judged against a sweep: claimed ranges or bounds vs. simulated intervals.

A claims file (TOML) has a `title` (shown above the table), a `description`, a list of
`[[claims]]` and a list of `[[not_judged]]` figures. A claim names a variant of the sweep,
a metric of its summary table, whether that metric is an `input` of the model or a
`result`, and what was claimed: `between = [low, high]`, `at_most = X` or `at_least = X`
(bounds are inclusive). A relative claim also names a `baseline` variant and how the two
compare: `ratio` (variant / baseline), `percent` (the change, 100·(ratio − 1)) or
`difference` (variant − baseline, in the metric's unit). A `[[not_judged]]` entry is a
figure the model cannot judge, with the reason. A sweep carries claims with its `claims`
field (a path to such a file, or the list inline); `simscale sweep` copies them into the
folder's manifest.json, and `simscale compare DIR` (or `--claims FILE`) judges them.

Judgement (Law, *Simulation Modeling and Analysis*, 5th ed., §9.4.1 and §10.2.1). An
absolute claim: the variant's complete runs give the metric's mean and its two-sided Student
t confidence interval. A relative claim: replications with the same index ran with the same
seed, so they pair; a difference is judged on the t interval of the paired differences, a
ratio (or percent change) on the t interval of the paired log-ratios ln(x/b), mapped back by
exp (the geometric mean ratio and its interval; pairs with a value <= 0 are left out). The
claim

- holds when the whole interval lies inside the claimed region,
- fails when the interval lies entirely outside it,
- is inconclusive when the interval straddles an edge, or when it is undefined (fewer than
  two complete runs or pairs);
- has no data when no complete run (or pair) has a value for the metric;
- is given when its metric is an input of the model: the model assumed it, so it neither
  holds nor fails (the value is shown);
- is not judged when it is a [[not_judged]] figure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simscale.errors import InputError
from simscale.inputs import problem_lines
from simscale.sweep.compare import Interval, t_interval
from simscale.sweep.table import SummaryData

HOLDS = "holds"
FAILS = "fails"
INCONCLUSIVE = "inconclusive"
NO_DATA = "no data"
GIVEN = "given"
NOT_JUDGED = "not judged"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NO_DATA, GIVEN, NOT_JUDGED)
MAX_CLAIMS = 1000
UNITS = {"ratio": " ×", "percent": " %", "difference": ""}


class Claim(BaseModel):
    """One claim: a metric of one variant (or its relation to a baseline variant) lies in a
    range, or on one side of a bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str = Field(description="what is claimed, as a short label")
    variant: str = Field(description="the sweep variant the claim is about")
    metric: str = Field(description="a numeric column of the sweep's summary table")
    metric_is: Literal["result", "input"] = Field(
        "result", description="result: the model measures it; input: the model assumes it "
                              "(reported as given, never as holding)")
    baseline: str | None = Field(
        None, description="a relative claim: the variant compared with this one, paired by "
                          "replication")
    compare: Literal["ratio", "percent", "difference"] | None = Field(
        None, description="with baseline: ratio (variant / baseline), percent (change in %) "
                          "or difference (variant - baseline)")
    between: tuple[float, float] | None = Field(
        None, description="claimed range [low, high], inclusive")
    at_most: float | None = Field(None, description="claimed upper bound, inclusive")
    at_least: float | None = Field(None, description="claimed lower bound, inclusive")
    note: str = Field("", description="how the claim was read, shown under the table")

    @model_validator(mode="after")
    def _one_bound(self) -> Claim:
        given = [k for k in ("between", "at_most", "at_least") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of between, at_most, at_least")
        if self.between is not None:
            low, high = self.between
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise ValueError(f"between: [{low}, {high}] is not a range (low <= high)")
        for key in ("at_most", "at_least"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{key}: {value} is not a finite number")
        if (self.baseline is None) != (self.compare is None):
            raise ValueError("a relative claim gives both baseline and compare")
        if self.baseline is not None and self.baseline == self.variant:
            raise ValueError(f"baseline: {self.baseline!r} is the claim's own variant")
        return self

    @property
    def region(self) -> tuple[float, float]:
        """The claimed region as [low, high] (±inf for an open side)."""
        if self.between is not None:
            return self.between
        if self.at_most is not None:
            return (-math.inf, self.at_most)
        return (self.at_least, math.inf)

    @property
    def variants(self) -> list[str]:
        """The variants the claim reads: its own, and its baseline's."""
        return [self.variant] if self.baseline is None else [self.variant, self.baseline]

    @property
    def label(self) -> str:
        """'after: cache hit rate 90%+' or 'after vs before: response time -33 %'."""
        who = self.variant if self.baseline is None else f"{self.variant} vs {self.baseline}"
        return f"{who}: {self.claim}"

    @property
    def measure(self) -> str:
        """What is measured: the metric, or e.g. 'api_latency_p95_s, % change'."""
        if self.compare is None:
            return self.metric
        how = {"ratio": f"{self.variant} / {self.baseline}", "percent": "% change",
               "difference": f"{self.variant} − {self.baseline}"}[self.compare]
        return f"{self.metric}, {how}"


class NotJudged(BaseModel):
    """A figure of the claims the model cannot judge, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str = Field(description="the figure, as a short label")
    variant: str = Field("", description="the system it is about (free text, e.g. after)")
    claimed: str = Field("", description="the figure as claimed, e.g. '15,000–25,000'")
    reason: str = Field(min_length=1, description="why the model cannot judge it")

    @property
    def label(self) -> str:
        return f"{self.variant}: {self.claim}" if self.variant else self.claim


class ClaimsFile(BaseModel):
    """A claims file: a title, a description, the claims, and the figures not judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("claims", description="shown above the table")
    description: str = ""
    claims: list[Claim] = Field(max_length=MAX_CLAIMS, description="the claims ([[claims]])")
    not_judged: list[NotJudged] = Field(
        default_factory=list, max_length=MAX_CLAIMS,
        description="figures the model cannot judge, with the reason ([[not_judged]])")

    @model_validator(mode="after")
    def _some(self) -> ClaimsFile:
        if not self.claims:
            raise ValueError("claims is empty: nothing to judge")
        return self


@dataclass(frozen=True)
class ClaimResult:
    """A judged claim (or a figure not judged): the simulated interval and the verdict."""

    claim: Claim | NotJudged
    interval: Interval | None
    verdict: str

    @property
    def relative(self) -> bool:
        return isinstance(self.claim, Claim) and self.claim.baseline is not None


def verdict(region: tuple[float, float], interval: Interval) -> str:
    """holds / fails / inconclusive / no data for a confidence interval against a region."""
    if interval.n == 0 or not math.isfinite(interval.mean):
        return NO_DATA
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return INCONCLUSIVE
    low, high = region
    if low <= interval.low and interval.high <= high:
        return HOLDS
    if interval.high < low or interval.low > high:
        return FAILS
    return INCONCLUSIVE


def claimed_text(claim: Claim | NotJudged) -> str:
    """The claimed region as text: '500–800', '≤ 1.5', '≥ 0.9', '5–10 ×', '≤ −33 %'."""
    from simscale.reports.numbers import fmt_number

    if isinstance(claim, NotJudged):
        return claim.claimed or "–"
    unit = UNITS[claim.compare] if claim.compare is not None else ""

    def num(x: float) -> str:
        return fmt_number(x).replace("-", "−")

    if claim.between is not None:
        return f"{num(claim.between[0])}–{num(claim.between[1])}{unit}"
    if claim.at_most is not None:
        return f"≤ {num(claim.at_most)}{unit}"
    return f"≥ {num(claim.at_least)}{unit}"


def ratio_interval(x: np.ndarray, base: np.ndarray, confidence: float) -> Interval:
    """Geometric mean of x/base with the t interval of the mean log-ratio, mapped by exp;
    pairs with a value <= 0 are left out."""
    keep = (x > 0) & (base > 0)
    logs = t_interval(np.log(x[keep] / base[keep]), confidence)
    return Interval(logs.n, math.exp(logs.mean) if logs.n else math.nan, logs.sd,
                    math.exp(logs.low) if math.isfinite(logs.low) else math.nan,
                    math.exp(logs.high) if math.isfinite(logs.high) else math.nan)


def relative_interval(x: np.ndarray, base: np.ndarray, how: str, confidence: float) -> Interval:
    """The paired relation of x to base: difference, ratio, or percent change."""
    if how == "difference":
        return t_interval(x - base, confidence)
    r = ratio_interval(x, base, confidence)
    if how == "ratio":
        return r
    return Interval(r.n, 100.0 * (r.mean - 1.0), r.sd, 100.0 * (r.low - 1.0),
                    100.0 * (r.high - 1.0))


def _values(data: SummaryData, variant: str, metric: str) -> dict[int, float]:
    """The metric of the variant's complete runs, by replication (runs without it left out)."""
    cols = data.columns
    if metric not in cols:
        return {}
    return {rep: float(v) for var, rep, st, v in zip(cols["variant"], cols["replication"],
                                                     cols["run_status"], cols[metric],
                                                     strict=True)
            if var == variant and st == "ok" and isinstance(v, int | float)
            and not isinstance(v, bool)}


def judge_one(data: SummaryData, c: Claim, confidence: float) -> ClaimResult:
    """One claim's interval and verdict."""
    x = _values(data, c.variant, c.metric)
    if c.baseline is None:
        interval = t_interval(np.array(list(x.values()), float), confidence)
    else:
        b = _values(data, c.baseline, c.metric)
        reps = sorted(set(x) & set(b))
        interval = relative_interval(np.array([x[r] for r in reps], float),
                                     np.array([b[r] for r in reps], float),
                                     c.compare, confidence)
    found = verdict(c.region, interval)
    if c.metric_is == "input" and found != NO_DATA:
        found = GIVEN
    return ClaimResult(c, interval, found)


def judge(data: SummaryData, claims: ClaimsFile | list[Claim],
          confidence: float = 0.95) -> list[ClaimResult]:
    """Judge each claim on the complete runs of its variants; then list the figures not
    judged.

    Raises InputError when a claim names a variant (or baseline) the sweep does not have. A
    metric the table lacks gives "no data".
    """
    listed = claims.claims if isinstance(claims, ClaimsFile) else claims
    variants = data.variants
    unknown = sorted({v for c in listed for v in c.variants if v not in variants})
    if unknown:
        raise InputError(f"{data.source}: claims name no variant of this sweep: "
                         f"{', '.join(map(repr, unknown))} (variants: {', '.join(variants)})")
    results = [judge_one(data, c, confidence) for c in listed]
    if isinstance(claims, ClaimsFile):
        results += [ClaimResult(n, None, NOT_JUDGED) for n in claims.not_judged]
    return results


def gate_fails(results: list[ClaimResult], strict: bool = False) -> list[ClaimResult]:
    """The results that make `compare` exit 1: fails; with strict also inconclusive and
    no data."""
    bad = (FAILS, INCONCLUSIVE, NO_DATA) if strict else (FAILS,)
    return [r for r in results if r.verdict in bad]


def parse_claims(data: dict, source: str = "<claims>") -> ClaimsFile:
    """Validate a parsed claims table; InputError with one 'source: field: problem' line each."""
    try:
        return ClaimsFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(problem_lines(exc, source)) from None


def read_claims(path: str | Path) -> ClaimsFile:
    """Read and validate a claims file (TOML)."""
    from simscale.inputs import read_toml

    return parse_claims(read_toml(Path(path)), str(path))


def claims_of_folder(folder: str | Path) -> ClaimsFile | None:
    """The claims a sweep folder's manifest.json carries (None when none). `folder` may be
    the sweep folder or its summary.parquet."""
    folder = Path(folder)
    manifest = (folder if folder.is_dir() else folder.parent) / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    raw = data.get("claims")
    return parse_claims(raw, str(manifest)) if raw else None
