"""The run list of a sweep: every variant × replication as a RunTask, each variant's spec
validated before anything runs (a bad variant is named with its parameters)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.sweep.claims import ClaimsFile, read_claims
from simscale.sweep.design import Variant, param_text, variants
from simscale.sweep.spec import SweepSpec, read_sweep

# With `bases`, the parameter (and summary column param.base) naming each run's base.
BASE_PARAMETER = "base"
MAX_PROBLEM_LINES = 20


@dataclass(frozen=True)
class RunTask:
    """One run of the sweep: a variant at one replication, with its validated spec data."""

    variant: str
    variant_index: int
    replication: int
    seed: int
    params: dict[str, Any]
    spec_data: dict[str, Any]
    spec_sha256: str
    outputs: str = "full"

    @property
    def folder(self) -> str:
        """Path of the run folder under DIR/runs."""
        return f"{self.variant}/{self.replication:03d}"


@dataclass(frozen=True)
class Sweep:
    """A loaded, fully validated sweep: its spec, variants and run list."""

    spec: SweepSpec
    source: str
    variants: list[Variant]
    tasks: list[RunTask]
    claims: ClaimsFile | None = None

    @property
    def parameters(self) -> list[str]:
        paths = [p.path for p in self.spec.parameters]
        return [BASE_PARAMETER, *paths] if self.spec.bases is not None else paths

    @property
    def baseline(self) -> str:
        return self.spec.baseline or self.variants[0].name


def load_sweep(path: str | Path, overrides: Iterable[str] = (),
               replications: int | None = None) -> Sweep:
    """Read a sweep file and validate every variant's spec before anything runs.

    `overrides` (PATH=VALUE, as `--set`) apply to the base after the sweep's own `set` and
    `base_set`;
    `replications` replaces the sweep's count. Raises InputError naming each bad variant
    with its parameters.
    """
    spec, base_dir = read_sweep(path)
    return build_sweep(spec, base_dir, str(path), overrides, replications)


def build_sweep(spec: SweepSpec, base_dir: Path, source: str = "<sweep>",
                overrides: Iterable[str] = (), replications: int | None = None) -> Sweep:
    """The run list of a validated sweep spec (paths in it are relative to base_dir).

    With `bases`, each base crossed with each point of the design is a variant, named
    `<base>` (no parameters) or `<base>,<point>`, with parameter `base` = the base's name.
    """
    bases = _bases(spec, base_dir, source, overrides)
    design = _design(spec, bases)
    design_variants = [v for _, _, v in design]
    claims = _claims(spec, base_dir, source, design_variants)
    if spec.baseline is not None and spec.baseline not in {v.name for v in design_variants}:
        known = ", ".join(v.name for v in design_variants[:20])
        raise InputError(f"{source}: baseline: no variant named {spec.baseline!r} "
                         f"(variants: {known})")
    checked = _checked(design, bases, source)
    reps = replications if replications is not None else spec.replications
    if reps < 1:
        raise InputError(f"{source}: replications must be at least 1")
    seed0 = spec.seed if spec.seed is not None else checked[0][2].seed
    tasks = []
    for v, data, validated in checked:
        for r in range(reps):
            seeded = validated.model_copy(update={"seed": seed0 + r})
            tasks.append(RunTask(v.name, v.index, r, seed0 + r, v.params,
                                 {**data, "seed": seed0 + r}, seeded.sha256(), spec.outputs))
    return Sweep(spec, source, design_variants, tasks, claims)


def _bases(spec: SweepSpec, base_dir: Path, source: str,
           overrides: Iterable[str]) -> dict[str, dict]:
    """Each base experiment's data by label ("" for a sweep's one `base`), overrides applied."""
    named = spec.bases if spec.bases is not None else {"": spec.base}
    bases: dict[str, dict] = {}
    for label, entry in named.items():
        where = f"bases.{label}" if spec.bases is not None else "base"
        sets = [*spec.overrides, *spec.base_set.get(label, []), *overrides]
        try:
            if isinstance(entry, str):
                bases[label] = base_data(base_dir / entry, sets)
            else:
                bases[label] = base_data(base_dir / f"{label or spec.name}.toml", sets,
                                         data=dict(entry))
        except InputError as exc:
            raise InputError([f"{source}: {where}: {p}" for p in exc.problems]) from None
    return bases


def _design(spec: SweepSpec, bases: dict[str, dict]) -> list[tuple[str, Variant, Variant]]:
    """(base label, design point, the variant as named and recorded) for every variant."""
    points = variants(spec) if spec.parameters else [Variant(0, "", {})]
    design: list[tuple[str, Variant, Variant]] = []
    for label in bases:
        for v in points:
            if spec.bases is None:
                design.append((label, v, v))
                continue
            name = f"{label},{v.name}" if v.name else label
            design.append((label, v, Variant(len(design), name,
                                             {BASE_PARAMETER: label, **v.params})))
    return design


def _checked(design: list[tuple[str, Variant, Variant]], bases: dict[str, dict],
             source: str) -> list[tuple[Variant, dict, Any]]:
    """Every variant with its data and validated Spec; InputError naming each bad variant
    (at most MAX_PROBLEM_LINES lines)."""
    from simscale.spec import spec_from_dict

    problems: list[str] = []
    checked: list[tuple[Variant, dict, Any]] = []
    for label, point, v in design:
        where = f"{source}: variant {v.name!r} ({param_text(v.params)})"
        data = _with_params(bases[label], point.params, where, problems)
        if data is None:
            continue
        try:
            checked.append((v, data, spec_from_dict(data, where)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        if len(problems) > MAX_PROBLEM_LINES:
            more = len(problems) - MAX_PROBLEM_LINES
            problems = [*problems[:MAX_PROBLEM_LINES], f"{source}: … and {more} more problems"]
        raise InputError(problems)
    return checked


def _claims(spec: SweepSpec, base_dir: Path, source: str,
            design: list[Variant]) -> ClaimsFile | None:
    """The sweep's claims (read from their file when `claims` is a path); InputError when one
    names a variant the sweep does not have."""
    if spec.claims is None:
        return None
    if isinstance(spec.claims, str):
        try:
            claims = read_claims(base_dir / spec.claims)
        except InputError as exc:
            raise InputError([f"{source}: claims: {p}" for p in exc.problems]) from None
    else:
        claims = ClaimsFile(claims=list(spec.claims))
    names = [v.name for v in design]
    problems = [f"{source}: claims: {c.claim!r}: no variant named {v!r} "
                f"(variants: {', '.join(names[:20])})"
                for c in claims.claims for v in c.variants if v not in names]
    if problems:
        raise InputError(problems)
    return claims


def base_data(path: Path, overrides: Iterable[str] = (), seed: int | None = None,
              data: dict | None = None) -> dict:
    """An experiment spec as a dictionary, prepared as load_spec prepares it (read, default
    name, overrides, seed, relative file paths made absolute) but not yet validated.

    `data` stands for the file's content when the spec is inline (paths are then relative
    to path's folder).
    """
    from simscale.spec import prepare_spec_data

    return prepare_spec_data(path, list(overrides), seed, data=data)[0]


def _with_params(base: dict, params: dict[str, Any], where: str,
                 problems: list[str]) -> dict | None:
    """A copy of `base` with each dotted path set to its value (None, with a problem, if not)."""
    import copy

    from simscale.inputs import set_path

    data = copy.deepcopy(base)
    for path, value in params.items():
        blocked = set_path(data, path.split("."), copy.deepcopy(value))
        if blocked is not None:
            problems.append(f"{where}: {blocked} is not a table")
            return None
    return data
