"""A fleet as `simscale serve --fleet SPEC` declares it: a spec's [autoscaling] and [alerts].

A fleet spec is any TOML file with `name`, `[autoscaling]` (enabled, with its policy) and
optionally `[alerts]`; an experiment spec works as it is (its other sections describe the
simulated world and are not used by a fleet). Errors name the file and the field path, as
`simscale run` does.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from simscale.errors import InputError
from simscale.sections.alerts import AlertsSpec
from simscale.sections.autoscaling import AutoscalingSpec
from simscale.sections.base import Section, plain_name


class FleetSpec(Section):
    """One fleet: its name, its autoscaler and the metrics around it, its alert rules."""

    name: str = Field(description="fleet name; its records go to FLEETS/<name>/")
    description: str = ""
    autoscaling: AutoscalingSpec
    alerts: AlertsSpec = Field(default_factory=AlertsSpec)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_name(value)

    @model_validator(mode="after")
    def _enabled(self) -> FleetSpec:
        if not self.autoscaling.enabled:
            raise ValueError("autoscaling.enabled: a fleet runs its autoscaler: set it to true")
        return self


def fleet_data(data: dict) -> dict:
    """The fleet's part of a spec dictionary: an experiment spec's other sections are left
    out; a key that is neither a fleet field nor an experiment section stays (and fails)."""
    from simscale.spec import Spec

    return {k: v for k, v in data.items()
            if k in FleetSpec.model_fields or k not in Spec.model_fields}


def fleet_from_dict(data: dict, source: str) -> FleetSpec:
    """Validate a parsed fleet spec; InputError with one 'source: field: message' per problem."""
    from simscale.spec import validation_problems

    try:
        return FleetSpec.model_validate(fleet_data(data))
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source, [])) from None


def load_fleet(path: str | Path) -> FleetSpec:
    """Read and validate a fleet spec file (the name defaults to the file's stem)."""
    from simscale.inputs import read_toml

    path = Path(path)
    data = read_toml(path)
    data.setdefault("name", path.stem)
    return fleet_from_dict(data, str(path))
