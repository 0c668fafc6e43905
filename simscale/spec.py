"""Experiment specs: TOML files validated by pydantic at the edge, with `--set` overrides.

`load_spec` is the one way in: it reads the file and applies overrides (simscale.inputs),
validates, and turns every problem into an InputError line that names the file (or the
override) and the field path. Policy parameters are validated against the policy's own
frozen config dataclass. Validation is strict (no string or boolean for a number) and every
number is finite and bounded (simscale.limits); the spec as a whole must fit a run
(simscale.sections.budget).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from simscale.errors import InputError
from simscale.inputs import apply_overrides, problem_lines, read_toml, too_deep
from simscale.limits import (
    MAX_BYTES_PER_TOKEN,
    MAX_CORES,
    MAX_DURATION_S,
    MAX_INSTANCES,
    MAX_KINDS,
    MAX_LIST,
    MAX_MEMORY_MB,
    MAX_METRICS_ROWS,
    MAX_PRICE_USD,
    MAX_QUEUE,
    MAX_RESTART_BACKOFF_S,
    MAX_RING_POINTS,
    MAX_ROW_GROUP_ROWS,
    MAX_SEED,
    MAX_SLOTS,
    MAX_SPEC_DEPTH,
    MAX_TIME_S,
    Period,
    PositiveSeconds,
)
from simscale.sections.affinity import ContextCacheSpec
from simscale.sections.alerts import AlertsSpec
from simscale.sections.autoscaling import AutoscalingSpec
from simscale.sections.base import BalancerRef, Maybe, Section, plain_name
from simscale.sections.budget import budget_problem, horizon_s, largest_fleet
from simscale.sections.cache import CacheSpec, DatabaseSpec
from simscale.sections.network import NetworkSpec, check_kind_table
from simscale.sections.resilience import ResilienceSpec
from simscale.sections.upstream import UpstreamSpec
from simscale.sections.workload import WorkloadSpec
from simscale.workload.distributions import Empirical

# ---------------------------------------------------------------- instances


class InstancesSpec(Section):
    """The app instances behind the load balancer (a fixed count; autoscaling changes it)."""

    count: Annotated[int, Field(gt=0, le=MAX_INSTANCES)] = Field(
        description="instances running from t=0")
    slots: Annotated[int, Field(gt=0, le=MAX_SLOTS)] = Field(
        description="requests an instance serves at once")
    cores: Annotated[Annotated[int, Field(gt=0, le=MAX_CORES)] | None, Maybe] = Field(
        None, description="CPU cores per instance (default: as many as slots)"
    )
    queue_limit: Annotated[Annotated[int, Field(ge=0, le=MAX_QUEUE)] | None, Maybe] = Field(
        None, description="FIFO queue bound per instance; a full queue rejects (none = unbounded)"
    )
    latency_ewma_alpha: float = Field(
        0.2, gt=0, le=1, description="weight of the newest response in latency_ewma_s"
    )
    memory_base_mb: float = Field(
        512.0, ge=0, le=MAX_MEMORY_MB,
        description="memory of an idle instance, MB (below memory_limit_mb)")
    memory_per_request_mb: float = Field(
        8.0, ge=0, le=MAX_MEMORY_MB,
        description="memory a request holds while on an instance (queued or served), MB")
    memory_mb_by_kind: dict[str, Annotated[float, Field(ge=0, le=MAX_MEMORY_MB)]] = Field(
        default_factory=dict, max_length=MAX_KINDS,
        description="memory a request of a kind holds instead, MB (kinds of workload.mix)")
    memory_per_token_bytes: float = Field(
        0.0, ge=0, le=MAX_BYTES_PER_TOKEN,
        description="memory each prompt and output token of a request adds while it is held, "
                    "bytes")
    memory_limit_mb: float = Field(
        2048.0, gt=0, le=MAX_MEMORY_MB,
        description="memory limit of one instance, MB: taking a request past it OOM-kills "
                    "the instance (what it holds fails), which restarts after a back-off")
    max_memory_frac: Annotated[Annotated[float, Field(gt=0, le=1)] | None, Maybe] = Field(
        None, description="refuse (503, reason MemoryShed) a request that would take an "
                          'instance\'s memory above this fraction of its limit ("none": never)')
    restart_backoff_s: Annotated[float, Field(gt=0, le=MAX_RESTART_BACKOFF_S)] = Field(
        10.0, description="wait before the first restart of an OOM-killed instance, s; it "
                          "doubles with each kill (Kubernetes CrashLoopBackOff)")
    restart_backoff_max_s: Annotated[float, Field(gt=0, le=MAX_RESTART_BACKOFF_S)] = Field(
        300.0, description="cap of the doubling restart back-off, s")
    restart_backoff_reset_s: Annotated[float, Field(gt=0, le=MAX_TIME_S)] = Field(
        600.0, description="an instance that ran this long since its last restart starts "
                           "again from restart_backoff_s, s")
    zones: list[str] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="zones assigned to instances in turn (fault targets)")
    price_per_instance_hour_usd: float = Field(
        0.10, ge=0, le=MAX_PRICE_USD,
        description="price of one instance-hour (booting and draining time included)")

    @model_validator(mode="after")
    def _memory_fits(self) -> InstancesSpec:
        if self.memory_base_mb > self.memory_limit_mb:
            raise ValueError(f"memory_base_mb: {self.memory_base_mb:g} MB is above "
                             f"memory_limit_mb ({self.memory_limit_mb:g} MB): an idle "
                             "instance would not fit its limit")
        shed = self.max_memory_frac
        if shed is not None and self.memory_base_mb >= shed * self.memory_limit_mb:
            raise ValueError(f"max_memory_frac: {shed:g} × memory_limit_mb is not above "
                             f"memory_base_mb ({self.memory_base_mb:g} MB): every request "
                             "would be refused")
        if self.restart_backoff_max_s < self.restart_backoff_s:
            raise ValueError(f"restart_backoff_max_s: {self.restart_backoff_max_s:g} s is "
                             f"below restart_backoff_s ({self.restart_backoff_s:g} s)")
        return self

    @property
    def cores_effective(self) -> int:
        return self.cores if self.cores is not None else self.slots



# ---------------------------------------------------------------- the rest


class TimeoutsSpec(Section):
    request_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        30.0, description='a request with no response by then ends as timeout ("none": never)'
    )


class MetricsSpec(Section):
    interval_s: Period = Field(
        10.0, description="length of one metrics.parquet row (at most "
        f"{MAX_METRICS_ROWS:,} rows per run, the drain included)")


class OutputSpec(Section):
    row_group_rows: Annotated[int, Field(gt=0, le=MAX_ROW_GROUP_ROWS)] = Field(
        1_000_000, description="rows buffered per Parquet row group (bounds memory)"
    )


class Spec(Section):
    """One experiment: what runs, for how long, from which seed."""

    name: str = Field(description="experiment name; the default output is runs/<name>/")
    description: str = ""
    app_version: Annotated[str | None, Maybe] = Field(
        None, max_length=128,
        description='the service version the exports deploy (APP_VERSION); "none": the '
                    "simscale version")
    duration_s: float = Field(gt=0, le=MAX_DURATION_S,
                              description="simulated seconds of arrivals")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="root seed of every random stream")
    workload: WorkloadSpec
    instances: InstancesSpec
    balancer: BalancerRef = Field(default_factory=BalancerRef)
    timeouts: TimeoutsSpec = Field(default_factory=TimeoutsSpec)
    resilience: ResilienceSpec = Field(default_factory=ResilienceSpec)
    cache: CacheSpec = Field(default_factory=CacheSpec)
    database: DatabaseSpec = Field(default_factory=DatabaseSpec)
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    alerts: AlertsSpec = Field(default_factory=AlertsSpec)
    upstream: UpstreamSpec = Field(default_factory=UpstreamSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    context_cache: ContextCacheSpec | None = Field(
        None, description="a conversation-context cache on each instance (off unless given)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_name(value)

    @model_validator(mode="after")
    def _cross_section(self) -> Spec:
        """Checks between sections; a message starts with the field path it is about."""
        self.resilience.check_targets(self.instances.count, self.instances.zones)
        wl = self.workload  # a trace may bring its own kinds: known only when it is read
        kinds = None if wl.arrivals.kind == "trace" else wl.kind_names()
        self.alerts.check_kinds(kinds)
        self.resilience.check_kinds(kinds)
        if self.context_cache is not None:
            self.context_cache.check_kinds(kinds)
        for field, table in (("instances.memory_mb_by_kind", self.instances.memory_mb_by_kind),
                             ("network.request_bytes_by_kind", self.network.request_bytes_by_kind),
                             ("network.response_bytes_by_kind",
                              self.network.response_bytes_by_kind)):
            check_kind_table(table, field, kinds)
        run_s = horizon_s(self)
        rows = run_s / self.metrics.interval_s
        if rows > MAX_METRICS_ROWS:
            raise ValueError(
                f"metrics.interval_s: {self.metrics.interval_s:g} s rows over duration_s and "
                f"the drain ({run_s:g} s) make {rows:.3g} metrics rows; at most "
                f"{MAX_METRICS_ROWS:,} per run (a longer interval or a shorter run)")
        vnodes = getattr(self.balancer.config, "vnodes", None)
        fleet = largest_fleet(self)
        if vnodes is not None and vnodes * fleet > MAX_RING_POINTS:
            raise ValueError(f"balancer.params.vnodes: {fleet:,} instances × {vnodes:,} vnodes "
                             f"make {vnodes * fleet:,} ring points; at most "
                             f"{MAX_RING_POINTS:,}")
        return self

    def sha256(self) -> str:
        """Hash of the resolved spec (after overrides and defaults)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- loading


def _resolve_empirical_paths(data: Any, base: Path) -> Any:
    """Make relative `path` fields of empirical distributions and traces absolute against
    `base`."""
    if isinstance(data, dict):
        out = {k: _resolve_empirical_paths(v, base) for k, v in data.items()}
        if out.get("kind") in ("empirical", "trace", "recorded") and isinstance(
                out.get("path"), str):
            path = Path(out["path"])
            out["path"] = str(path if path.is_absolute() else (base / path))
        return out
    if isinstance(data, list):
        return [_resolve_empirical_paths(v, base) for v in data]
    return data


def validation_problems(exc: ValidationError, source: str,
                        override_paths: Sequence[list[str]] = (), data: Any = None) -> list[str]:
    """One line per pydantic error of a spec (or of a part of one): 'source: field.path:
    message' (simscale.inputs.problem_lines, told the spec's union tags)."""
    return problem_lines(exc, source, override_paths, data, _union_tags())


_TAGS: set[str] | None = None


def _union_tags() -> set[str]:
    """Every `kind` value of a tagged-union member anywhere in the Spec schema."""
    global _TAGS
    if _TAGS is None:
        defs = Spec.model_json_schema().get("$defs", {})
        _TAGS = {d["properties"]["kind"]["const"] for d in defs.values()
                 if "const" in d.get("properties", {}).get("kind", {})}
    return _TAGS


def load_spec(
    path: str | Path, overrides: list[str] | None = None, seed: int | None = None,
    lenient: bool = False,
) -> Spec:
    """Read, override and validate a spec; raise InputError with one line per problem.

    lenient: a replayed trace skips (and counts) bad rows instead of failing.
    """
    data, override_paths = prepare_spec_data(path, overrides or [], seed, lenient)
    return spec_from_dict(data, str(path), override_paths)


def prepare_spec_data(
    path: str | Path, overrides: list[str] | tuple = (), seed: int | None = None,
    lenient: bool = False, data: dict | None = None,
) -> tuple[dict, list[list[str]]]:
    """A spec as load_spec prepares it before validation: read (or `data`, the content of an
    inline spec whose relative paths are relative to `path`'s folder), default name,
    overrides, seed, lenient trace, relative file paths made absolute. Also the override
    paths (for error messages)."""
    path = Path(path)
    data = read_toml(path) if data is None else data
    data.setdefault("name", path.stem)
    data, override_paths = apply_overrides(data, list(overrides))
    if seed is not None:
        data["seed"] = seed
    arrivals = data.get("workload", {}).get("arrivals") if isinstance(
        data.get("workload"), dict) else None
    if lenient and isinstance(arrivals, dict) and arrivals.get("kind") == "trace":
        arrivals["lenient"] = True
    return _resolve_empirical_paths(data, path.parent), override_paths


def spec_from_dict(data: dict, source: str = "<spec>", override_paths=()) -> Spec:
    """Validate an already-parsed spec dictionary, strictly: a number must be a number (not
    a string or a boolean), an integer an integer; then read the files it names and check
    its size as a whole (simscale.sections.budget)."""
    if too_deep(data):
        raise InputError(f"{source}: tables or lists nested deeper than {MAX_SPEC_DEPTH} levels")
    try:
        text = json.dumps(data, default=_json_value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: {exc}") from None
    try:  # JSON mode: TOML arrays may stand for tuples, and strict mode holds
        spec = Spec.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source, list(override_paths), data)) from None
    _check_files(spec, source)
    problem = budget_problem(spec)
    if problem:
        field, why = problem
        where = next((f"--set {'.'.join(p)}" for p in override_paths
                      if ".".join(p) == field), source)
        raise InputError(f"{where}: {why}" if where != source else f"{where}: {field}: {why}")
    return spec


def _json_value(value: Any) -> Any:
    """The JSON form of a parsed value json cannot write itself (TOML dates, paths)."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not a spec value: {value!r}")


def _check_files(spec: Spec, source: str) -> None:
    """Read every file a spec names now, so that a bad file fails before anything runs."""
    service = spec.workload.service
    if isinstance(service, Empirical):
        try:
            service.values()
        except ValueError as exc:
            raise InputError(f"{source}: workload.service.path: {exc}") from None
    spec.workload.check_files(source)


def json_schema() -> dict:
    """The JSON Schema of a spec."""
    return Spec.model_json_schema()
