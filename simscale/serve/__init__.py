"""`simscale serve`: the service's management API as an HTTP control plane.

Modules, one job each: command (the CLI), server (uvicorn on a bound socket), services (what
one server holds), app (the FastAPI app, auth and accounting), routes_monitoring and
routes_scaling (the routes), models (request bodies), security (token, rate limits), posted
(a posted spec, validated as `simscale run` does), runs and runworker (load tests in worker
processes), dashboard (the TUI's dashboard state as JSON), fleetspec, fleet, scrape and hooks
(the policies in production), store and tables (crash-safe Parquet records), exposition
(/metrics), recorded (a fleet's recorded rate as a workload), loadbench (the server's own
load benchmark). Importing this package imports none of them.
"""
