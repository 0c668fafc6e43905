"""Performance claims judged against a sweep: claimed ranges or bounds vs. simulated intervals.

A claims file (TOML) has a `title` (shown above the table), a `description` and a list of
`[[claims]]`, each naming a variant of the sweep, a metric of its
summary table and what was claimed: `between = [low, high]`, `at_most = X` or
`at_least = X` (bounds are inclusive). A sweep carries claims with its `claims` field (a
path to such a file, or the list inline); `simscale sweep` copies them into the folder's
manifest.json, and `simscale compare DIR` (or `--claims FILE`) judges them.

Judgement: the variant's complete runs give the metric's mean and its two-sided Student t
confidence interval (simscale.sweep.compare.t_interval). The claim

- holds when the whole interval lies inside the claimed region,
- fails when the interval lies entirely outside it,
- is inconclusive when the interval straddles an edge, or when it is undefined (fewer than
  two complete runs);
- has no data when the variant has no complete run with a value for the metric.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simscale.errors import InputError
from simscale.sections.base import problem_lines
from simscale.sweep.compare import Interval, t_interval
from simscale.sweep.table import SummaryData

HOLDS = "holds"
FAILS = "fails"
INCONCLUSIVE = "inconclusive"
NO_DATA = "no data"


class Claim(BaseModel):
    """One claim: a metric of one variant lies in a range, or on one side of a bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claim: str = Field(description="what is claimed, as a short label")
    variant: str = Field(description="the sweep variant the claim is about")
    metric: str = Field(description="a numeric column of the sweep's summary table")
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
        return self

    @property
    def region(self) -> tuple[float, float]:
        """The claimed region as [low, high] (±inf for an open side)."""
        if self.between is not None:
            return self.between
        if self.at_most is not None:
            return (-math.inf, self.at_most)
        return (self.at_least, math.inf)


class ClaimsFile(BaseModel):
    """A claims file: a title, a description and the list of claims."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field("claims", description="shown above the table")
    description: str = ""
    claims: list[Claim] = Field(description="the claims ([[claims]] tables)")

    @model_validator(mode="after")
    def _some(self) -> ClaimsFile:
        if not self.claims:
            raise ValueError("claims is empty: nothing to judge")
        return self


@dataclass(frozen=True)
class ClaimResult:
    """A judged claim: the simulated interval and the verdict."""

    claim: Claim
    interval: Interval
    verdict: str


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


def claimed_text(claim: Claim) -> str:
    """The claimed region as text: '500–800', '≤ 1.5', '≥ 0.9'."""
    from simscale.sweep.report import fmt

    if claim.between is not None:
        return f"{fmt(claim.between[0])}–{fmt(claim.between[1])}"
    if claim.at_most is not None:
        return f"≤ {fmt(claim.at_most)}"
    return f"≥ {fmt(claim.at_least)}"


def judge(data: SummaryData, claims: list[Claim], confidence: float = 0.95) -> list[ClaimResult]:
    """Judge each claim on the complete runs of its variant.

    Raises InputError when a claim names a variant the sweep does not have. A metric the
    table lacks gives "no data" (e.g. a metric derived from requests.parquet in a sweep run
    with outputs = "summary").
    """
    variants = data.variants
    unknown = sorted({c.variant for c in claims if c.variant not in variants})
    if unknown:
        raise InputError(f"{data.source}: claims name no variant of this sweep: "
                         f"{', '.join(map(repr, unknown))} (variants: {', '.join(variants)})")
    cols = data.columns
    results = []
    for c in claims:
        values = []
        if c.metric in cols:
            values = [v for var, st, v in zip(cols["variant"], cols["run_status"],
                                              cols[c.metric], strict=True)
                      if var == c.variant and st == "ok" and isinstance(v, int | float)
                      and not isinstance(v, bool)]
        interval = t_interval(np.array(values, float), confidence)
        results.append(ClaimResult(c, interval, verdict(c.region, interval)))
    return results


def parse_claims(data: dict, source: str = "<claims>") -> ClaimsFile:
    """Validate a parsed claims table; InputError with one 'source: field: problem' line each."""
    try:
        return ClaimsFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(problem_lines(exc, source)) from None


def read_claims(path: str | Path) -> ClaimsFile:
    """Read and validate a claims file (TOML)."""
    from simscale.spec import read_toml

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
