"""The `simscale tui` command. Textual is imported inside it, so `simscale --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simscale.commands.common import fail
from simscale.errors import InputError


def register(app: typer.Typer) -> None:
    """Add the `tui` command to the simscale CLI."""

    @app.command()
    def tui(
        spec: Annotated[Path | None, typer.Argument(
            help="experiment spec to select (default: pick one from experiments/)")] = None,
        run: Annotated[list[Path] | None, typer.Option(
            "--run", help="open a finished run directory (twice or more: compare them)")] = None,
        dashboard: Annotated[Path | None, typer.Option(
            help="dashboard config (TOML; default experiments/dashboards/default.toml)")] = None,
        experiments: Annotated[Path, typer.Option(
            help="folder searched for specs")] = Path("experiments"),
        runs: Annotated[Path, typer.Option(
            help="folder of run directories; a run goes to RUNS/<name>/")] = Path("runs"),
        speed: Annotated[str, typer.Option(
            help="initial speed: simulated seconds per second (e.g. 10) or 'max'")] = "10",
        web: Annotated[bool, typer.Option(
            "--web", help="serve the same app in a web browser (textual-serve)")] = False,
        host: Annotated[str, typer.Option(
            help="with --web: the address to listen on (loopback by default)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(
            help="with --web: the port to listen on", min=1, max=65535)] = 8000,
    ) -> None:
        """Pick, edit, run and watch an experiment live; replay or compare finished runs."""
        try:
            config, loaded, speed_value = prepare(dashboard, run or [], speed, spec, runs)
        except InputError as exc:
            fail(exc)
        if web:
            args = [str(spec)] if spec is not None else []
            for path in run or []:
                args += ["--run", str(path)]
            if dashboard is not None:
                args += ["--dashboard", str(dashboard)]
            args += ["--experiments", str(experiments), "--runs", str(runs), "--speed", speed]
            serve(args, host, port)
            return

        from simscale.tui.app import SimscaleApp

        SimscaleApp(spec_path=spec, runs=loaded, experiments_dir=experiments, runs_dir=runs,
                    dashboard=config, speed=speed_value).run()


def serve(tui_args: list[str], host: str, port: int) -> None:
    """Serve `simscale tui TUI_ARGS` in the browser: each page that connects gets its own
    app process (textual-serve). Listens on host:port until interrupted."""
    import shlex
    import sys

    from textual_serve.server import Server

    command = shlex.join([sys.executable, "-m", "simscale", "tui", *tui_args])
    typer.echo(f"simscale tui in the browser: http://{host}:{port}/ (Ctrl+C stops it)")
    Server(command, host=host, port=port, title="simscale").serve()


def prepare(dashboard: Path | None, run_dirs: list[Path], speed: str,
            spec: Path | None = None, runs_dir: Path | None = None):
    """Check the inputs before the screen opens: (dashboard config, loaded runs, speed).

    A spec must be a file (its content is checked in the picker, which shows its problems);
    the folder of run directories must be a folder, when it exists.
    """
    from simscale.monitoring.dashboard import DEFAULT_DASHBOARD, DEFAULT_PATH, load_dashboard
    from simscale.reports.rundir import load_run
    from simscale.tui.live import parse_speed

    if dashboard is not None:
        config = load_dashboard(dashboard)
    elif DEFAULT_PATH.exists():
        config = load_dashboard(DEFAULT_PATH)
    else:
        config = DEFAULT_DASHBOARD
    problems: list[str] = []
    if spec is not None and not spec.is_file():
        problems.append(f"{spec}: is a directory, expected a spec file (TOML)" if spec.is_dir()
                        else f"{spec}: no such file")
    if runs_dir is not None and runs_dir.exists() and not runs_dir.is_dir():
        problems.append(f"--runs {runs_dir}: is not a directory")
    loaded = []
    for path in run_dirs:
        try:
            loaded.append(load_run(path))
        except InputError as exc:
            problems.extend(exc.problems)
    try:
        speed_value = parse_speed(speed)
    except ValueError:
        problems.append(f"--speed {speed}: expected a positive number or 'max'")
        speed_value = None
    if problems:
        raise InputError(problems)
    return config, loaded, speed_value
