"""Experiment specs: TOML files validated by pydantic at the edge, with `--set` overrides.

`load_spec` is the one way in: it reads the file, applies overrides, validates, and turns
every problem into an InputError line that names the file (or the override) and the field
path. Policy parameters are validated against the policy's own frozen config dataclass.
Validation is strict (no string or boolean for a number) and every number is finite and
bounded (simscale.limits); the spec as a whole must fit a run (simscale.sections.budget).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from simscale.alerts import AlertsSpec
from simscale.errors import InputError
from simscale.limits import (
    MAX_CORES,
    MAX_DURATION_S,
    MAX_INSTANCES,
    MAX_LIST,
    MAX_MEMORY_MB,
    MAX_METRICS_ROWS,
    MAX_PRICE_USD,
    MAX_QUEUE,
    MAX_RING_POINTS,
    MAX_ROW_GROUP_ROWS,
    MAX_SEED,
    MAX_SLOTS,
    MAX_SPEC_BYTES,
    MAX_SPEC_DEPTH,
    Period,
    PositiveSeconds,
)
from simscale.sections.autoscaling import AutoscalingSpec
from simscale.sections.base import BalancerRef, Maybe, Section, error_message, plain_name
from simscale.sections.budget import budget_problem, horizon_s, largest_fleet
from simscale.sections.cache import CacheSpec, DatabaseSpec
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
        512.0, ge=0, le=MAX_MEMORY_MB, description="memory of an idle instance, MB")
    memory_per_request_mb: float = Field(
        8.0, ge=0, le=MAX_MEMORY_MB,
        description="memory per request held (queued or served), MB")
    memory_limit_mb: float = Field(
        2048.0, gt=0, le=MAX_MEMORY_MB, description="memory of one instance, MB")
    zones: list[str] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="zones assigned to instances in turn (fault targets)")
    price_per_instance_hour_usd: float = Field(
        0.10, ge=0, le=MAX_PRICE_USD,
        description="price of one instance-hour (booting and draining time included)")

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
        wl = self.workload  # a trace may bring its own kinds: known only when it is read
        self.alerts.check_kinds(None if wl.arrivals.kind == "trace" else set(wl.mix) or {wl.kind})
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


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.c=value' → (['a','b','c'], value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise InputError(f"--set {text}: expected PATH=VALUE")
    if len(text) > MAX_SPEC_BYTES:
        raise InputError(f"--set {text[:40]}…: longer than {MAX_SPEC_BYTES:,} characters")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if not all(keys):
        raise InputError(f"--set {text}: empty field name in {path!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:
        value = None  # deeper than the parser goes: refused just below
    if value is None or len(keys) > MAX_SPEC_DEPTH or too_deep(value,
                                                               MAX_SPEC_DEPTH - len(keys)):
        raise InputError(f"--set {path}: nested deeper than {MAX_SPEC_DEPTH} levels")
    return keys, value


def too_deep(data: Any, limit: int = MAX_SPEC_DEPTH) -> bool:
    """Whether tables and lists nest more than `limit` levels in `data` (walked without
    recursion, so any depth is safe to ask about)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list | tuple):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


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
    """Parse a TOML file of at most MAX_SPEC_BYTES nested at most MAX_SPEC_DEPTH levels;
    errors name the file (and the line and column of a syntax error)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise InputError(f"{path}: larger than {MAX_SPEC_BYTES:,} bytes (a spec is settings; "
                         "data goes in trace files)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (TOML is UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}:{_toml_error_position(str(exc), text)}") from None
    except RecursionError:
        data = None
    if data is None or too_deep(data):
        raise InputError(f"{path}: tables or lists nested deeper than {MAX_SPEC_DEPTH} levels")
    return data


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
                        override_paths: list[list[str]], data: Any = None) -> list[str]:
    """One line per pydantic error: 'source: field.path: message' (`data`, the validated
    input, tells a union's tag from a field of the same name)."""
    lines = []
    for error in exc.errors():
        loc = _strip_union_tags([str(p) for p in error["loc"]], data)
        msg = error_message(error)
        if error["type"] == "value_error":  # a check between fields names the one it is about
            head, sep, rest = msg.partition(": ")
            if sep and re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*", head) and head not in (
                    "policy", "params") and not head.startswith("params."):
                loc, msg = [*loc, *head.split(".")], rest
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


def _strip_union_tags(loc: list[str], data: Any = None) -> list[str]:
    """Drop pydantic's union markers from an error location: the discriminator tag it inserts
    after a tagged-union field (workload.arrivals.poisson.rate_rps) and validator wrappers.

    Walking `data` along the location keeps a key that is really there (cache.keys.users),
    and drops at most one tag per table."""
    tags = _union_tags()
    out: list[str] = []
    node, tag_dropped = data, False
    for part in loc:
        if part.startswith(("function-", "tagged-union")):
            continue
        if part in tags and not tag_dropped and _is_tag_of(node, part):
            tag_dropped = True
            continue
        if isinstance(node, dict) and part in node:
            node, tag_dropped = node[part], False
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node, tag_dropped = node[int(part)], False
        else:
            node, tag_dropped = None, True
        out.append(part)
    return out


def _is_tag_of(node: Any, tag: str) -> bool:
    """Whether `tag` is the union tag of the table `node` (its kind, or the default of a
    table without one); without the data, any tag name counts as one."""
    if not isinstance(node, dict):
        return node is None
    kind = node.get("kind")
    return kind == tag if kind is not None else tag not in node


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
