"""Experiment specs: TOML files validated by pydantic at the edge, with `--set` overrides.

`load_spec` is the one way in: it reads the file, applies overrides, validates, and turns
every problem into an InputError line that names the file (or the override) and the field
path. Policy parameters are validated against the policy's own frozen config dataclass.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from simscale.alerts import AlertsSpec
from simscale.distributions import Empirical
from simscale.errors import InputError
from simscale.sections.autoscaling import AutoscalingSpec
from simscale.sections.base import BalancerRef, Maybe, Section, error_message, plain_name
from simscale.sections.cache import CacheSpec, DatabaseSpec
from simscale.sections.resilience import ResilienceSpec
from simscale.sections.upstream import UpstreamSpec
from simscale.sections.workload import WorkloadSpec

# ---------------------------------------------------------------- instances


class InstancesSpec(Section):
    """The app instances behind the load balancer (a fixed count; autoscaling changes it)."""

    count: PositiveInt = Field(description="instances running from t=0")
    slots: PositiveInt = Field(description="requests an instance serves at once")
    cores: Annotated[PositiveInt | None, Maybe] = Field(
        None, description="CPU cores per instance (default: as many as slots)"
    )
    queue_limit: Annotated[NonNegativeInt | None, Maybe] = Field(
        None, description="FIFO queue bound per instance; a full queue rejects (none = unbounded)"
    )
    latency_ewma_alpha: float = Field(
        0.2, gt=0, le=1, description="weight of the newest response in latency_ewma_s"
    )
    memory_base_mb: NonNegativeFloat = Field(512.0, description="memory of an idle instance, MB")
    memory_per_request_mb: NonNegativeFloat = Field(
        8.0, description="memory per request held (queued or served), MB")
    memory_limit_mb: PositiveFloat = Field(2048.0, description="memory of one instance, MB")
    zones: list[str] = Field(
        default_factory=list, description="zones assigned to instances in turn (fault targets)")
    price_per_instance_hour_usd: NonNegativeFloat = Field(
        0.10, description="price of one instance-hour (booting and draining time included)")

    @property
    def cores_effective(self) -> int:
        return self.cores if self.cores is not None else self.slots



# ---------------------------------------------------------------- the rest


class TimeoutsSpec(Section):
    request_s: Annotated[PositiveFloat | None, Maybe] = Field(
        30.0, description='a request with no response by then ends as timeout ("none": never)'
    )


class MetricsSpec(Section):
    interval_s: PositiveFloat = Field(10.0, description="length of one metrics.parquet row")


class OutputSpec(Section):
    row_group_rows: PositiveInt = Field(
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
    duration_s: PositiveFloat = Field(description="simulated seconds of arrivals")
    seed: NonNegativeInt = Field(0, description="root seed of every random stream")
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
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_name(value)

    @model_validator(mode="after")
    def _cross_section(self) -> Spec:
        """Checks between sections; a message starts with the field path it is about."""
        self.resilience.check_targets(self.instances.count, self.instances.zones)
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


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.c=value' → (['a','b','c'], value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise InputError(f"--set {text}: expected PATH=VALUE")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if not all(keys):
        raise InputError(f"--set {text}: empty field name in {path!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return keys, value


def set_path(data: dict, keys: list[str], value: Any) -> str | None:
    """Set data[k1][k2]…[kn] = value in place, creating tables on the way; returns the path
    of the first part that exists but is not a table (nothing set), else None."""
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            return ".".join(keys[: i + 1])
        node = child
    node[keys[-1]] = value
    return None


def apply_overrides(data: dict, overrides: list[str]) -> tuple[dict, list[list[str]]]:
    """A copy of `data` with every override applied, and the override paths."""
    data = copy.deepcopy(data)
    paths = []
    for text in overrides:
        keys, value = parse_override(text)
        blocked = set_path(data, keys, value)
        if blocked is not None:
            raise InputError(f"--set {text}: {blocked} is not a table")
        paths.append(keys)
    return data, paths


def read_toml(path: Path) -> dict:
    """Parse a TOML file; errors name the file, line and column."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}:{_toml_error_position(str(exc), text)}") from None


def _toml_error_position(message: str, text: str) -> str:
    """'line:column: TOML syntax error: what' from tomllib's '<what> (at line L, column C)'."""
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
    if match:
        what, line, column = match.groups()
    else:  # "(at end of document)"
        what = message.replace(" (at end of document)", "")
        lines = text.splitlines() or [""]
        line, column = str(len(lines)), str(len(lines[-1]) + 1)
        what += " (at end of file)"
    return f"{line}:{column}: TOML syntax error: {what}"


def validation_problems(exc: ValidationError, source: str,
                        override_paths: list[list[str]]) -> list[str]:
    """One line per pydantic error: 'source: field.path: message'."""
    lines = []
    for error in exc.errors():
        loc = _strip_union_tags([str(p) for p in error["loc"]])
        msg = error_message(error)
        if not loc and error["type"] == "value_error":  # a cross-section check names its field
            head, sep, rest = msg.partition(": ")
            if sep and head and " " not in head:
                loc, msg = head.split("."), rest
        where = source
        for path in override_paths:
            if loc[: len(path)] == path or path[: len(loc)] == loc:
                where = f"--set {'.'.join(path)}"
        field = ".".join(loc)
        if msg.startswith(("policy:", "params:", "params.")):  # a PolicyRef names its sub-path
            sub, _, msg = msg.partition(": ")
            field = f"{field}.{sub}" if field else sub
        if not field or where == f"--set {field}":
            lines.append(f"{where}: {msg}")
        else:
            lines.append(f"{where}: {field}: {msg}")
    return lines


def _strip_union_tags(loc: list[str]) -> list[str]:
    """Drop pydantic's union markers from an error location: the discriminator tag it inserts
    after a tagged-union field (workload.arrivals.poisson.rate_rps) and validator wrappers."""
    tags = _union_tags()
    return [p for p in loc if p not in tags and not p.startswith(("function-", "tagged-union"))]


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
    """Validate an already-parsed spec dictionary."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source, list(override_paths))) from None
    _check_files(spec, source)
    return spec


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
