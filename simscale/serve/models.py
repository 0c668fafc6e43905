"""Request bodies of the API, validated at the edge (unknown fields are errors; every number
has a bound)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

INSTANCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
METRIC_NAME = r"^[a-z][a-z0-9_]{0,63}$"
MAX_SAMPLES_PER_PUSH = 1000
MAX_METRICS_PER_PUSH = 64

Override = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
MetricName = Annotated[str, StringConstraints(pattern=METRIC_NAME)]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadTestRequest(Body):
    """POST /api/monitoring/load-test: an experiment spec and `simscale run`'s options."""

    spec: str | dict[str, Any] = Field(
        description="the experiment spec: TOML text, or the same content as a JSON object")
    set: list[Override] = Field(
        default_factory=list, max_length=100,
        description="overrides path.to.field=value, as `simscale run --set`")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="override the spec's seed")
    lenient: bool = Field(False, description="a replayed trace skips bad rows (as --lenient)")


class InstanceSample(Body):
    """One instance's gauges now; a missing value is no data."""

    instance: str = Field(pattern=INSTANCE_NAME, description="the instance's name (pod name)")
    state: Literal["booting", "ready", "draining"] = "ready"
    ready: bool = Field(True, description="passes its readiness check")
    cpu_util_frac: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    memory_frac: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    in_flight: float | None = Field(None, ge=0, le=1e6, allow_inf_nan=False)
    request_rps: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False)
    latency_s: float | None = Field(None, ge=0, le=86_400, allow_inf_nan=False)


class MetricsPush(Body):
    """PUT /api/scaling/auto-scale/metrics: samples of one or more instances."""

    samples: list[InstanceSample] = Field(min_length=1, max_length=MAX_SAMPLES_PER_PUSH)


class ClusterPush(Body):
    """POST /api/monitoring/dashboard: one cluster-level sample (metrics.parquet names, e.g.
    latency_p95_s, error_rate, arrivals_rps)."""

    metrics: dict[MetricName, Finite] = Field(min_length=1, max_length=MAX_METRICS_PER_PUSH)
