"""Service-time and size distributions: spec models and the samplers built from them.

Every distribution is given by the quantity users think in (a mean and a coefficient of
variation, cv = standard deviation / mean), converted to the parameters numpy expects.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simscale.limits import MAX_CV, MAX_SCALE, MIN_GAMMA_CV, PositiveSeconds, Seconds


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Exponential(_Dist):
    """Exponential with the given mean (cv = 1)."""

    kind: Literal["exponential"] = "exponential"
    mean_s: PositiveSeconds = Field(description="mean in seconds (or units for sizes)")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    def mean(self) -> float:
        return self.mean_s


class Deterministic(_Dist):
    """Always the same value."""

    kind: Literal["deterministic"] = "deterministic"
    value_s: Seconds = Field(description="the constant value")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value_s)

    def mean(self) -> float:
        return self.value_s


class Lognormal(_Dist):
    """Lognormal with the given mean and cv: sigma² = ln(1 + cv²), mu = ln(mean) − sigma²/2."""

    kind: Literal["lognormal"] = "lognormal"
    mean_s: PositiveSeconds
    cv: float = Field(gt=0, le=MAX_CV, description="standard deviation / mean")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2), n)

    def mean(self) -> float:
        return self.mean_s


class Gamma(_Dist):
    """Gamma with the given mean and cv: shape = 1/cv², scale = mean·cv²."""

    kind: Literal["gamma"] = "gamma"
    mean_s: PositiveSeconds
    cv: float = Field(ge=MIN_GAMMA_CV, le=MAX_CV,
                      description="standard deviation / mean (shape = 1/cv²)")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(1.0 / self.cv**2, self.mean_s * self.cv**2, n)

    def mean(self) -> float:
        return self.mean_s


class Empirical(_Dist):
    """Resampled with replacement from a file of values: one number per line ('#' comments).

    A relative path is resolved against the spec file's folder.
    """

    kind: Literal["empirical"] = "empirical"
    path: str
    scale: float = Field(1.0, gt=0, le=MAX_SCALE,
                         description="multiply every value (e.g. ms → s: 0.001)")

    def values(self) -> np.ndarray:
        return _load_values(self.path) * self.scale

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values = self.values()
        return values[rng.integers(0, len(values), n)]

    def mean(self) -> float:
        return float(self.values().mean())


Distribution = Annotated[
    Exponential | Deterministic | Lognormal | Gamma | Empirical, Field(discriminator="kind")
]

_VALUE_CACHE: dict[str, np.ndarray] = {}


def _load_values(path: str) -> np.ndarray:
    """Numbers from a text file, one per line; raises ValueError naming file:line."""
    if path in _VALUE_CACHE:
        return _VALUE_CACHE[path]
    values: list[float] = []
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip().rstrip(",")
        if not line:
            continue
        try:
            value = float(line)
        except ValueError:
            raise ValueError(f"{path}:{lineno}: not a number: {line!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{path}:{lineno}: values must be finite and >= 0, got {line}")
        values.append(value)
    if not values:
        raise ValueError(f"{path}: no values")
    _VALUE_CACHE[path] = np.asarray(values)
    return _VALUE_CACHE[path]
