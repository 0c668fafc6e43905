"""The `simscale serve` command. FastAPI and uvicorn are imported inside it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simscale.errors import InputError


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the simscale CLI."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port (0: any free port)", min=0,
                                          max=65535)] = 8000,
        runs: Annotated[Path, typer.Option(help="folder of run directories")] = Path("runs"),
        fleets: Annotated[Path, typer.Option(help="folder of fleet records")] = Path("fleets"),
        fleet: Annotated[list[Path] | None, typer.Option(
            "--fleet", help="a fleet spec (its autoscaling and alerts sections); repeatable",
        )] = None,
        token_file: Annotated[Path | None, typer.Option(
            help="file holding the bearer token (required off loopback)")] = None,
        spec_root: Annotated[Path, typer.Option(
            help="folder that files named by posted specs must be in")] = Path("."),
        workers: Annotated[int, typer.Option(help="load tests run at once", min=1,
                                             max=64)] = 2,
        max_queued: Annotated[int, typer.Option(help="load tests waiting at most", min=0,
                                                max=10_000)] = 100,
        apply_command: Annotated[str | None, typer.Option(
            help="run on each change of desired replicas, e.g. 'kubectl scale "
                 "deployment/{fleet} --replicas={replicas}' (default: shadow, record only)",
        )] = None,
        rate_limit: Annotated[float, typer.Option(
            help="monitoring requests per second per client", min=0.001, max=1e6)] = 20.0,
        burst: Annotated[float, typer.Option(
            help="monitoring requests a client may burst", min=1, max=1e6)] = 40.0,
        max_body_bytes: Annotated[int, typer.Option(
            help="largest request body", min=1024, max=64 * 1024 * 1024)] = 1_048_576,
    ) -> None:
        """Serve the management API: load tests as experiments, fleets run by the policies."""
        try:
            settings, sock = prepare(
                host, port, runs, fleets, fleet or [], token_file, spec_root, workers,
                max_queued, apply_command, rate_limit, burst, max_body_bytes)
        except InputError as exc:
            for line in exc.problems:
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(2) from None
        try:
            start(settings, sock, host)
        except OSError as exc:  # a folder that cannot be created or written
            typer.echo(f"error: {exc.filename or ''}: cannot use ({exc.strerror})", err=True)
            raise typer.Exit(2) from None


def prepare(host, port, runs, fleets, fleet_specs, token_file, spec_root, workers, max_queued,
            apply_command, rate_limit, burst, max_body_bytes):
    """Check every option before anything listens: (Settings, bound socket)."""
    from simscale.serve.fleetspec import load_fleet
    from simscale.serve.hooks import Command, Shadow
    from simscale.serve.security import ClientLimiter, read_token
    from simscale.serve.server import bind, is_loopback
    from simscale.serve.services import Settings

    problems: list[str] = []
    token = None
    if token_file is not None:
        try:
            token = read_token(token_file)
        except InputError as exc:
            problems += exc.problems
    elif not is_loopback(host):
        problems.append(f"--host {host}: off loopback the API needs a token (--token-file)")
    specs = []
    for path in fleet_specs:
        try:
            specs.append(load_fleet(path))
        except InputError as exc:
            problems += exc.problems
    names = [s.name for s in specs]
    problems += [f"--fleet: two fleets are named {n!r}" for n in sorted(set(names))
                 if names.count(n) > 1]
    hook = Shadow()
    if apply_command is not None:
        try:
            hook = Command(apply_command)
        except ValueError as exc:
            problems.append(f"--apply-command: {exc}")
    if not spec_root.is_dir():
        problems.append(f"--spec-root {spec_root}: not a folder")
    try:
        ClientLimiter(rate_limit, burst)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    settings = Settings(runs_dir=runs, fleets_dir=fleets, spec_root=spec_root, token=token,
                        fleets=specs, hook=hook, workers=workers, max_queued=max_queued,
                        rate_per_s=rate_limit, burst=burst, max_body_bytes=max_body_bytes)
    return settings, bind(host, port)


def start(settings, sock, host: str) -> None:
    """Build the services and serve until Ctrl+C or SIGTERM."""
    import logging

    from simscale.serve.app import create_app
    from simscale.serve.server import Server
    from simscale.serve.services import Services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = Server(create_app(Services(settings)), sock)
    shown = f"[{host}]" if ":" in host else host
    fleets = ", ".join(s.name for s in settings.fleets) or "none"
    auth = "bearer token" if settings.token else "off (loopback only)"
    typer.echo(f"simscale serve: listening on http://{shown}:{server.port} "
               f"(runs: {settings.runs_dir}, fleets: {fleets}, auth: {auth})", err=False)
    server.run()
