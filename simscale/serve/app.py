"""The FastAPI application: routes, auth and rate-limit dependencies, request accounting.

Routes follow the service's documented API (seed notes, Phase 3): /api/health,
/api/monitoring/dashboard, /api/monitoring/load-test, /api/scaling/auto-scale and
/api/scaling/auto-scale/metrics; /metrics is the Prometheus exposition and /docs the OpenAPI
page. Every mutating route and every scaling route needs the bearer token (when the server
has one); monitoring routes are rate-limited per client. No CORS headers are sent.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from simscale import __version__
from simscale.errors import InputError
from simscale.serve.posted import problem_detail
from simscale.serve.security import token_matches

access_log = logging.getLogger("simscale.serve.access")


def services_of(request: Request):
    return request.app.state.services


async def authorized(request: Request) -> None:
    """Dependency: the bearer token, when the server has one (401 otherwise). Async: cheap
    checks run on the event loop, not in the thread pool."""
    token = services_of(request).settings.token
    if token is not None and not token_matches(request.headers.get("authorization"), token):
        raise HTTPException(401, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})


async def rate_limited(request: Request) -> None:
    """Dependency: the client's token bucket (429 with Retry-After when empty)."""
    services = services_of(request)
    client = request.client.host if request.client else "unknown"
    admitted, retry_after_s = services.limiter.admit(client)
    if not admitted:
        route = request.scope.get("route")
        services.metrics.rate_limited.labels(getattr(route, "path", request.url.path)).inc()
        raise HTTPException(429, f"rate limit: retry in {retry_after_s} s",
                            headers={"Retry-After": str(retry_after_s)})


def problems_response(exc: InputError) -> JSONResponse:
    """422 with one entry per problem, each with its field path."""
    return JSONResponse({"detail": [problem_detail(line) for line in exc.problems]}, 422)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 for a body, query or path that does not fit its model: where and what, without
    echoing the input (which may not even be JSON, e.g. NaN)."""
    detail = [{"loc": list(e["loc"]), "field": ".".join(str(p) for p in e["loc"][1:]),
               "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, 422)


class Accounting:
    """ASGI middleware: counts requests by route and status, times them, logs scaling access."""

    def __init__(self, app, services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            metrics = self.services.metrics
            metrics.requests.labels(path, scope["method"], str(status)).inc()
            metrics.latency.labels(path).observe(time.perf_counter() - start)
            if path.startswith("/api/scaling"):
                client = scope.get("client") or ("unknown", 0)
                access_log.info("scaling access: client=%s %s %s status=%d", client[0],
                                scope["method"], scope["path"], status)


def create_app(services) -> FastAPI:
    """The app over `services`; the lifespan starts and stops them."""
    from simscale.serve.routes_monitoring import router as monitoring
    from simscale.serve.routes_scaling import router as scaling

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.start()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(title="simscale serve", version=__version__, lifespan=lifespan,
                  max_body_size=services.settings.max_body_bytes,
                  description="The service's management API over simscale: load tests are "
                              "experiments, fleets run the policies of policies/ unchanged.")
    app.state.services = services
    app.add_middleware(Accounting, services=services)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(monitoring)
    app.include_router(scaling)

    @app.get("/api/health", tags=["health"])
    def health() -> JSONResponse:
        """System health: 503 when a fleet's control loop has stopped."""
        fleets = {name: {"state": f.state, "error": f.error} for name, f in
                  services.fleets.items()}
        healthy = all(f["state"] in ("starting", "running") for f in fleets.values())
        body = {"status": "ok" if healthy else "degraded", "version": __version__,
                "uptime_s": time.time() - services.started_s,
                "auth": "token" if services.settings.token else "off",
                "runs": services.pool.counts(), "fleets": fleets}
        return JSONResponse(body, 200 if healthy else 503)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(services.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return app
