"""/api/scaling: a fleet's autoscaler status and config, and its instances' metric pushes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from simscale.errors import InputError
from simscale.serve.app import authorized, problems_response, services_of
from simscale.serve.models import MetricsPush

router = APIRouter(prefix="/api/scaling", tags=["scaling"], dependencies=[Depends(authorized)])

FleetName = Query(None, description="the fleet (optional when the server has one)")


def fleet_of(services, name: str | None):
    """The named fleet, or the only one; 404 / 422 otherwise."""
    fleets = services.fleets
    if not fleets:
        raise HTTPException(404, "no fleet is configured (start with --fleet SPEC)")
    if name is None:
        if len(fleets) == 1:
            return next(iter(fleets.values()))
        raise HTTPException(422, f"fleet: required (fleets: {', '.join(sorted(fleets))})")
    fleet = fleets.get(name)
    if fleet is None:
        raise HTTPException(404, f"no fleet {name!r} (fleets: {', '.join(sorted(fleets))})")
    return fleet


@router.get("/auto-scale")
def status(request: Request, fleet: str | None = FleetName):
    """The policy, its config, current and desired replicas, the last decisions and reasons."""
    services = services_of(request)
    if fleet is None and len(services.fleets) != 1:
        return {"fleets": [f.status() for f in services.fleets.values()]}
    return fleet_of(services, fleet).status()


@router.post("/auto-scale")
def update_config(request: Request, fleet: str | None = FleetName,
                  body: dict[str, Any] = Body(
                      ..., examples=[{"policy": "target_tracking",
                                      "params": {"min_replicas": 2, "max_replicas": 20}}],
                      description="[autoscaling] fields to change; a new policy without "
                                  "params takes that policy's defaults")):
    """Change the fleet's [autoscaling] section, validated by the policy's own config."""
    from simscale.serve.fleetspec import fleet_from_dict

    target = fleet_of(services_of(request), fleet)
    current = target.section.model_dump(mode="json")
    if "policy" in body and body["policy"] != current["policy"] and "params" not in body:
        current["params"] = {}
    merged = {**current, **body}
    try:
        spec = fleet_from_dict({"name": target.name, "autoscaling": merged,
                                "alerts": target.spec.alerts.model_dump(mode="json")}, "body")
    except InputError as exc:
        return problems_response(InputError(
            [line.replace("body: autoscaling.", "body: ", 1) for line in exc.problems]))
    target.reconfigure(spec.autoscaling)
    return target.status()


@router.put("/auto-scale/metrics", status_code=202)
async def add_metrics(request: Request, body: MetricsPush, fleet: str | None = FleetName):
    """Per-instance samples (cpu, memory, in flight, request rate, latency, readiness); each
    is stored before the answer, stamped with the server's clock."""
    target = fleet_of(services_of(request), fleet)
    accepted = target.add_samples([s.model_dump() for s in body.samples])
    return {"fleet": target.name, "accepted": accepted}
