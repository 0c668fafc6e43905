"""/api/monitoring: the dashboard (runs and fleets) and load tests (experiments)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from simscale.errors import InputError
from simscale.serve.app import authorized, problems_response, rate_limited, services_of
from simscale.serve.dashboard import view_payload
from simscale.serve.models import ClusterPush, LoadTestRequest
from simscale.serve.routes_scaling import fleet_of
from simscale.serve.runs import ID_PATTERN, QueueFull

router = APIRouter(prefix="/api/monitoring", tags=["monitoring"],
                   dependencies=[Depends(rate_limited)])

Window = Literal["1m", "5m", "1h", "all"]
RunId = Path(pattern=ID_PATTERN.pattern, description="a run id as listed")


@router.get("/dashboard")
def dashboard(request: Request,
              run: str | None = Query(None, pattern=ID_PATTERN.pattern,
                                      description="a load test's id"),
              fleet: str | None = Query(None, description="a fleet's name"),
              window: Window = Query("1h", description="the aggregates' window"),
              events: int = Query(50, ge=0, le=500, description="recent events returned"),
              series: bool = Query(False, description="also each column over the window")):
    """What the TUI's live screen shows, for a run (live while it runs) or a fleet."""
    services = services_of(request)
    if (run is None) == (fleet is None) and not (run is None and len(services.fleets) == 1):
        raise HTTPException(422, "give one of run=ID or fleet=NAME")
    if run is None:
        target = fleet_of(services, fleet)
        target.refresh()
        with target.lock:
            body = view_payload(target.dashboard.view(), window, events, series)
        return {"fleet": target.name, "state": target.state, **body}
    live = services.pool.live_state(run)
    if live is not None:
        state, lock = live
        with lock:
            body = view_payload(state.view(), window, events, series)
        return {"run": run, "live": True, "problems": [], **body}
    path = services.pool.run_dir(run)
    described = services.pool.describe(run)
    if path is None or described is None:
        raise HTTPException(404, f"no run {run!r}")
    if not path.is_dir():
        return {"run": run, "live": False, "state": described["state"],
                "problems": ["no outputs yet"], **_empty(window)}
    try:
        state, problems = services.replays.state(path)
    except InputError as exc:
        return {"run": run, "live": False, "state": described["state"],
                "problems": exc.problems, **_empty(window)}
    body = view_payload(state.view(), window, events, series)
    return {"run": run, "live": False, "state": described["state"], "problems": problems,
            **body}


def _empty(window: str) -> dict:
    from simscale.tui.state import DashboardState

    return view_payload(DashboardState(()).view(), window, 0, False)


@router.post("/dashboard", status_code=202, dependencies=[Depends(authorized)])
def add_metrics(request: Request, body: ClusterPush,
                fleet: str | None = Query(None, description="the fleet (optional when one)")):
    """Add one cluster-level sample to a fleet (its dashboard and alert rules use it)."""
    target = fleet_of(services_of(request), fleet)
    accepted = target.add_cluster(body.metrics)
    return {"fleet": target.name, "accepted": accepted}


@router.get("/load-test")
def list_tests(request: Request, limit: int = Query(100, ge=1, le=1000)):
    """Runs started here and run directories already under --runs, newest first."""
    return {"runs": services_of(request).pool.list_runs(limit)}


@router.post("/load-test", status_code=202, dependencies=[Depends(authorized)])
def start_test(request: Request, body: LoadTestRequest):
    """Validate the spec as `simscale run` does, queue it; returns the id and where to poll."""
    from simscale.serve.posted import posted_spec

    services = services_of(request)
    try:
        spec, data = posted_spec(body, services.settings.spec_root)
    except InputError as exc:
        return problems_response(exc)
    try:
        run = services.pool.submit(spec, data)
    except QueueFull as exc:
        raise HTTPException(503, f"the run queue is full: {exc}",
                            headers={"Retry-After": "10"}) from None
    return JSONResponse(run, 202, headers={"Location": run["links"]["self"]})


@router.get("/load-test/{run_id:path}")
def get_test(request: Request, run_id: str = RunId):
    run = services_of(request).pool.describe(run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


@router.delete("/load-test/{run_id:path}", status_code=202, dependencies=[Depends(authorized)])
def cancel_test(request: Request, run_id: str = RunId):
    """Cancel a queued run, or stop a running one (outputs kept, marked incomplete)."""
    outcome, run = services_of(request).pool.cancel(run_id)
    if outcome == "unknown":
        raise HTTPException(404, f"no run {run_id!r}")
    if outcome == "done":
        return JSONResponse({"detail": f"run {run_id!r} is already {run['state']}", "run": run},
                            409)
    return run
