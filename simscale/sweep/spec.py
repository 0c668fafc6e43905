"""Sweep specs: a base experiment, the parameters to vary, replications and metrics (TOML).

A sweep file names a base experiment (a path to an experiment spec, or an inline table),
or several named ones (`bases`: each is a variant of its own, crossed with the design; one
spec file may serve several bases, each with its own `base_set` overrides), optional `set`
overrides applied to it, a design (`grid`, `zip`, `random` or `lhs`) over a
list of `[[parameters]]`, and how many replications each variant gets; `claims` (a claims
file or an inline list, see simscale.sweep.claims) says what the variants should show.
Replication r runs with seed `seed + r` for every variant, so comparisons between variants
are paired (common random numbers). The models here validate the file at the edge (unknown
fields are errors); `load_sweep` turns every problem into an InputError line naming the file
and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from simscale.errors import InputError
from simscale.inputs import problem_lines
from simscale.sections.base import plain_name
from simscale.sweep.claims import Claim

Design = Literal["grid", "zip", "random", "lhs"]
_BASE_NAME = re.compile(r"[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*")


class SweepSection(BaseModel):
    """Base of every sweep-spec table: unknown fields are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Parameter(SweepSection):
    """One varied spec field: explicit `values`, or a range `low`..`high`."""

    path: str = Field(description="dotted path of the experiment field, e.g. instances.count")
    values: list[Any] | None = Field(
        None, description="the values to try (any TOML value; a table replaces a whole table)"
    )
    labels: list[str] | None = Field(
        None, description="names of the values in variant names (default: the values)"
    )
    low: float | None = Field(None, description="lower end of a range")
    high: float | None = Field(None, description="upper end of a range (inclusive)")
    steps: PositiveInt | None = Field(
        None, description="grid/zip: evenly spaced points from low to high"
    )
    integer: bool = Field(False, description="a range of integers")
    log: bool = Field(False, description="space points (or samples) evenly in log(value)")

    @field_validator("path")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not value or not all(value.split(".")):
            raise ValueError(f"{value!r} is not a dotted field path")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        ranged = self.low is not None or self.high is not None
        if self.values is not None and ranged:
            raise ValueError("give either values or low/high, not both")
        if self.values is None and not ranged:
            raise ValueError("give values, or low and high")
        if self.values is not None:
            if not self.values:
                raise ValueError("values is empty: nothing to sweep")
            if self.labels is not None and len(self.labels) != len(self.values):
                raise ValueError(
                    f"{len(self.labels)} labels for {len(self.values)} values"
                )
            if self.steps is not None:
                raise ValueError("steps applies to a low/high range only")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a range needs both low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.labels is not None:
            raise ValueError("labels apply to explicit values only")
        return self

    @property
    def keys(self) -> list[str]:
        return self.path.split(".")


class Rank(SweepSection):
    """Which metric orders the variants in `simscale compare`, and which way is better."""

    metric: str
    goal: Literal["min", "max"] = "min"


class SweepSpec(SweepSection):
    """A batch of runs: variants of one base experiment, each replicated."""

    name: str = Field(description="sweep name; the default output is runs/sweeps/<name>/")
    description: str = ""
    base: str | dict[str, Any] | None = Field(
        None, description="the base experiment: a spec path (relative to this file) or a table"
    )
    bases: dict[str, str | dict[str, Any]] | None = Field(
        None, description="instead of base: named base experiments (paths or tables), each a "
                          "variant of its own, crossed with the parameters' design"
    )
    overrides: list[str] = Field(
        default_factory=list, alias="set",
        description="PATH=VALUE overrides applied to the base before the parameters",
    )
    base_set: dict[str, list[str]] = Field(
        default_factory=dict,
        description="with bases: PATH=VALUE overrides for one named base, applied after set")
    design: Design = Field("grid", description="grid | zip | random | lhs")
    samples: PositiveInt | None = Field(None, description="random/lhs: number of variants")
    design_seed: NonNegativeInt = Field(0, description="random/lhs: seed of the sample design")
    parameters: list[Parameter] = Field(
        default_factory=list, description="the varied fields (may be empty with bases)")
    replications: PositiveInt = Field(5, description="runs per variant (seeds seed..seed+R-1)")
    seed: NonNegativeInt | None = Field(
        None, description="seed of replication 0 (default: the base experiment's seed)"
    )
    metrics: list[str] = Field(
        default_factory=list, description="metrics compare reports (default: all numeric)"
    )
    baseline: str | None = Field(None, description="variant the others are compared with")
    rank: Rank | None = Field(None, description="ranking metric (default: first metric, min)")
    outputs: Literal["full", "summary"] = Field(
        "full", description="full: every run table; summary: no requests.parquet"
    )
    claims: str | list[Claim] | None = Field(
        None, description="claims compare judges: a claims file (relative to this file) or "
                          "an inline list of [[claims]]"
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_name(value)

    @field_validator("bases")
    @classmethod
    def _base_names(cls, value: dict | None) -> dict | None:
        if value is None:
            return value
        if not value:
            raise ValueError("bases is empty: name at least one base experiment")
        for name in value:
            if not _BASE_NAME.fullmatch(name):
                raise ValueError(f"base name {name!r}: use letters, digits, '_', '-', '+', "
                                 "'.' (not first)")
        return value

    @model_validator(mode="after")
    def _design_fits(self) -> SweepSpec:
        if (self.base is None) == (self.bases is None):
            raise ValueError("give either base or bases")
        unknown = [n for n in self.base_set if n not in (self.bases or {})]
        if unknown:
            raise ValueError(f"base_set: {unknown[0]!r} is not one of bases "
                             f"({', '.join(self.bases or {}) or 'none'})")
        if isinstance(self.claims, list) and not self.claims:
            raise ValueError("claims is empty: nothing to judge")
        if not self.parameters:
            if self.bases is None:
                raise ValueError("parameters is empty: a sweep varies at least one field")
            if self.design != "grid":
                raise ValueError(f"design {self.design!r} needs parameters")
            return self
        paths = [p.path for p in self.parameters]
        if self.bases is not None and "base" in paths:
            raise ValueError("parameter base: with bases, 'base' names the base experiment")
        if "seed" in paths:
            raise ValueError("parameter seed: each replication r runs with seed + r; "
                             "set seed and replications instead")
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"parameter varied twice: {', '.join(dupes)}")
        if self.design in ("random", "lhs"):
            if self.samples is None:
                raise ValueError(f"design {self.design!r} needs samples")
        else:
            if self.samples is not None:
                raise ValueError(f"samples applies to random/lhs designs, not {self.design!r}")
            for p in self.parameters:
                if p.values is None and p.steps is None:
                    raise ValueError(
                        f"parameter {p.path}: a {self.design} over a range needs steps"
                    )
        if self.design == "zip":
            lengths = {p.path: len(p.values) if p.values is not None else p.steps
                       for p in self.parameters}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k}: {v}" for k, v in lengths.items())
                raise ValueError(f"zip needs parameters of equal length ({shown})")
        return self


def parse_sweep(data: dict, source: str = "<sweep>") -> SweepSpec:
    """Validate an already-parsed sweep dictionary; raise InputError with one line per problem."""
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(problem_lines(exc, source)) from None


def read_sweep(path: str | Path) -> tuple[SweepSpec, Path]:
    """Read and validate a sweep file; returns the spec and the folder paths are relative to."""
    from simscale.inputs import read_toml

    path = Path(path)
    data = read_toml(path)
    data.setdefault("name", path.stem)
    return parse_sweep(data, str(path)), path.parent
