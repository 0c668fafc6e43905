"""The `export` and `import` commands; the export modules are imported inside each command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simscale.commands.common import fail
from simscale.errors import InputError

# simscale.export.plan.EdgePlan's defaults (not imported here: `simscale --help` stays fast)
TLS_CERT = "/etc/ssl/simscale/tls.crt"
TLS_KEY = "/etc/ssl/simscale/tls.key"
MANAGEMENT_AUTH = "token"


def register(app: typer.Typer) -> None:
    """Add the `export` and `import` commands to `app`."""
    app.command("export")(export_command)
    app.command("import")(import_command)


def export_command(
    source: Annotated[Path, typer.Argument(
        help="experiment spec (TOML) or run directory (its Parquet metadata holds the spec)")],
    target: Annotated[str, typer.Option(
        "--target", "-t",
        help="env, kubernetes, nginx, haproxy, redis, compose, prometheus or grafana")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write the files to")],
    strict: Annotated[bool, typer.Option(
        "--strict", help="a feature the target cannot express is an error (exit 2)")] = False,
    validate: Annotated[bool, typer.Option(
        "--validate", help="check the files with the real tools (nginx -t, haproxy -c, "
                           "kubernetes-validate, redis-server, promtool); exit 1 when one "
                           "rejects a file or is missing")] = False,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing-validators", help="with --validate: a file no installed tool can "
                                           "check is reported, not a failure")] = False,
    name: Annotated[str | None, typer.Option(
        "--name", help="service name (default: the spec's name)")] = None,
    image: Annotated[str | None, typer.Option(
        "--image", help="container image (kubernetes, compose; default ai-chat:latest)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", "-s", help="override a spec field: path.to.field=value (repeatable)")] = None,
    tls_cert: Annotated[str, typer.Option(
        "--tls-cert", help="TLS certificate path on the load balancer (nginx, haproxy, "
                           "compose)")] = TLS_CERT,
    tls_key: Annotated[str, typer.Option(
        "--tls-key", help="TLS key path on the load balancer")] = TLS_KEY,
    management_auth: Annotated[str, typer.Option(
        "--management-auth", help="token: a bearer token on /api/scaling/ and "
                                  "/api/monitoring/; none")] = MANAGEMENT_AUTH,
    dashboard: Annotated[Path | None, typer.Option(
        "--dashboard", help="dashboard TOML for --target grafana (default: the TUI's "
                            "default dashboard)")] = None,
) -> None:
    """Export the spec's policies as production configuration for one target."""
    from simscale.export.plan import EdgePlan, plan_from_spec
    from simscale.export.source import load_source
    from simscale.export.targets import export_plan, get_target, write_export

    try:
        get_target(target)
        spec = load_source(source, set_ or [])
        board = _dashboard(dashboard)
        plan = plan_from_spec(spec, name=name, image=image,
                              edge=EdgePlan(tls_cert, tls_key, management_auth),
                              dashboard=board)
        exported = export_plan(plan, target, strict=strict)
        written = write_export(exported, out)
    except InputError as exc:
        fail(exc)
    _report_written(exported, out, written)
    if validate:
        _validate(exported, out, allow_missing)


def _report_written(exported, out: Path, written: list[Path]) -> None:
    """Each loss as a warning, each file written, each existing secret kept."""
    for loss in exported.losses:
        typer.echo(f"warning: {loss}", err=True)
    for path in written:
        typer.echo(f"wrote {path}")
    for secret in exported.secrets:
        if out / secret not in written:
            typer.echo(f"kept {out / secret} (an existing secret)")


def _dashboard(path: Path | None):
    """The --dashboard config (None: the grafana target uses the TUI's default)."""
    if path is None:
        return None
    from simscale.monitoring.dashboard import load_dashboard

    return load_dashboard(path)


def _validate(exported, out: Path, allow_missing: bool) -> None:
    """Run the real tools; exit 1 when one rejects a file, or when one is missing (a file
    left unchecked) unless allow_missing."""
    from simscale.export.validate import FAILED, SKIPPED, validate_files

    results = validate_files(exported.target, out, list(exported.files))
    for result in results:
        typer.echo(str(result), err=result.status != "ok")
    rejected = any(r.status == FAILED for r in results)
    missing = [r for r in results if r.status == SKIPPED]
    if missing and not allow_missing:
        typer.echo(f"error: {len(missing)} check(s) skipped: no validator for them "
                   "(install it, or pass --allow-missing-validators)", err=True)
    if rejected or (missing and not allow_missing):
        raise typer.Exit(1)


def import_command(
    file: Annotated[Path, typer.Argument(
        help="an HPA (or KEDA ScaledObject) manifest, YAML or JSON, an nginx config, or "
             "Prometheus rules (a rules file or a PrometheusRule)")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="write the TOML fragment here instead of stdout")] = None,
) -> None:
    """Read an HPA manifest, an nginx upstream or Prometheus rules back into a spec fragment
    (TOML)."""
    from simscale.export.fragment import fragment_toml
    from simscale.export.importer import import_file

    try:
        fragment, warnings = import_file(file)
    except InputError as exc:
        fail(exc)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    text = fragment_toml(fragment, f"spec fragment imported from {file.name} by simscale")
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.partial")
        tmp.write_text(text)
        tmp.replace(out)
    except OSError as exc:
        fail(InputError(f"--out: cannot write {out} ({exc.strerror})"))
    typer.echo(f"wrote {out}")
