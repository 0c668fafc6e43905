"""Experimental designs: a sweep spec's parameters → the list of variants to run.

`grid` is the Cartesian product (the first parameter varies slowest), `zip` pairs the i-th
values, `random` draws independent uniform samples and `lhs` a Latin hypercube
(McKay, Beckman & Conover 1979, via scipy.stats.qmc). A sampled parameter with explicit
`values` picks one of them (each equally likely); a range is sampled uniformly, or uniformly
in log(value) with `log = true`, and rounded down to an integer with `integer = true`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from simscale.sweep.spec import Parameter, SweepSpec


@dataclass(frozen=True)
class Variant:
    """One point of the design: a name (a folder name) and the value of each varied path."""

    index: int
    name: str
    params: dict[str, Any]


def variants(sweep: SweepSpec) -> list[Variant]:
    """Expand the sweep's design into variants with unique, folder-safe names."""
    if sweep.design == "grid":
        columns = [_points(p) for p in sweep.parameters]
        rows = [list(combo) for combo in itertools.product(*columns)]
    elif sweep.design == "zip":
        columns = [_points(p) for p in sweep.parameters]
        rows = [list(combo) for combo in zip(*columns, strict=True)]
    else:
        unit = _unit_samples(sweep.design, sweep.samples or 0, len(sweep.parameters),
                             sweep.design_seed)
        rows = [[_from_unit(p, u) for p, u in zip(sweep.parameters, sample.tolist(),
                                                  strict=True)]
                for sample in unit]
    sampled = sweep.design in ("random", "lhs")
    leaves = _short_names(sweep.parameters)
    out: list[Variant] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        values = {p.path: value for p, (value, _) in zip(sweep.parameters, row, strict=True)}
        if sampled:  # named by their parameters, rounded to 3 digits (a clash gets ~i)
            name = ",".join(f"{leaf}={_rounded(value, label)}" for leaf, (value, label)
                            in zip(leaves, row, strict=True))
        elif len(row) == 1:
            name = row[0][1]
        else:
            name = ",".join(f"{leaf}={label}" for leaf, (_, label) in zip(leaves, row, strict=True))
        name = _folder_safe(name)
        if name in seen:
            name = f"{name}~{i}"
        seen.add(name)
        out.append(Variant(i, name, values))
    return out


def _points(p: Parameter) -> list[tuple[Any, str]]:
    """The (value, label) pairs of a grid/zip parameter."""
    if p.values is not None:
        labels = p.labels or [_label(v, p, i) for i, v in enumerate(p.values)]
        return list(zip(p.values, labels, strict=True))
    assert p.low is not None and p.high is not None and p.steps is not None
    if p.log:
        raw = np.geomspace(p.low, p.high, p.steps)
    else:
        raw = np.linspace(p.low, p.high, p.steps)
    values: list[Any] = []
    for x in raw.tolist():
        v = int(round(x)) if p.integer else float(x)
        if v not in values:
            values.append(v)
    return [(v, _label(v, p, i)) for i, v in enumerate(values)]


def _unit_samples(design: str, n: int, d: int, seed: int) -> np.ndarray:
    """n points in [0, 1)^d: independent uniforms, or a Latin hypercube."""
    if design == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d, rng=np.random.default_rng(seed)).random(n)
    return np.random.default_rng(seed).random((n, d))


def _from_unit(p: Parameter, u: float) -> tuple[Any, str]:
    """Map one coordinate in [0, 1) onto the parameter's values or range."""
    if p.values is not None:
        i = min(int(u * len(p.values)), len(p.values) - 1)
        return p.values[i], (p.labels[i] if p.labels else _label(p.values[i], p, i))
    assert p.low is not None and p.high is not None
    if p.integer:
        lo, hi = math.ceil(p.low), math.floor(p.high)
        if p.log:
            x = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
        else:
            x = lo + u * (hi - lo + 1)
        v: Any = min(int(math.floor(x)), hi)
    elif p.log:
        v = math.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low)))
    else:
        v = p.low + u * (p.high - p.low)
    return v, _label(v, p, 0)


def _label(value: Any, p: Parameter, i: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return f"{p.keys[-1]}{i}"


def _rounded(value: Any, label: str) -> str:
    return f"{value:.3g}" if isinstance(value, float) else label


def _short_names(parameters: list[Parameter]) -> list[str]:
    """Each parameter's last path component, or its full path where two would clash."""
    leaves = [p.keys[-1] for p in parameters]
    return [leaf if leaves.count(leaf) == 1 else p.path for leaf, p in zip(leaves, parameters,
                                                                          strict=True)]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+\-]")


def _folder_safe(name: str) -> str:
    name = _UNSAFE.sub("_", name)[:120] or "_"
    return "_" + name if name.startswith(".") else name


def param_text(params: dict[str, Any]) -> str:
    """The parameters as 'path=value, …' for messages."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
