"""The `sweep`, `compare` and `plan` commands; heavy modules are imported inside each command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simscale.commands.common import fail
from simscale.errors import InputError

EngineOption = Annotated[
    str, typer.Option("--engine", help="local (process pool) or dask (Dask distributed)")
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="Dask scheduler tcp://HOST:PORT (default: a local cluster "
                                    "on 127.0.0.1)"),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", min=1, help="parallel runs (default: cores)")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="override a base spec field: path.to.field=value "
                                     "(repeatable)"),
]


def register(app: typer.Typer) -> None:
    """Add the `sweep`, `compare` and `plan` commands to `app`."""
    app.command("sweep")(sweep_command)
    app.command("compare")(compare_command)
    app.command("plan")(plan_command)


# ---------------------------------------------------------------- sweep


def sweep_command(
    sweep: Annotated[Path, typer.Argument(help="sweep spec (TOML)")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="sweep folder "
                                             "(default: runs/sweeps/<name>)")] = None,
    workers: WorkersOption = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="skip runs already finished in "
                                         "--out")] = False,
    set_: SetOption = None,
    replications: Annotated[int | None, typer.Option("--replications", "-r", min=1,
                            help="replace the sweep's replication count")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run every variant × replication of a sweep; write runs, manifest and summary.parquet."""
    from simscale.sweep.engine import run_sweep
    from simscale.sweep.runlist import load_sweep

    try:
        loaded = load_sweep(sweep, set_ or [], replications)
        out_dir = out if out is not None else Path("runs") / "sweeps" / loaded.spec.name
        bar = None if quiet else SweepProgress(loaded.spec.name)
        try:
            result = run_sweep(
                loaded, out_dir, workers=workers, engine=engine, address=address,
                resume=resume, on_start=bar.start if bar else None,
                on_record=bar.advance if bar else None,
            )
        except KeyboardInterrupt:
            if bar is not None:
                bar.stop()
            typer.echo(f"interrupted: finished runs are kept in {out_dir}/ "
                       "(continue with --resume)", err=True)
            raise typer.Exit(130) from None
        finally:
            if bar is not None:
                bar.stop()
    except InputError as exc:
        fail(exc)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts.items()))
    typer.echo(f"{len(result.records)} runs ({counts}); ran {result.ran}, "
               f"skipped {result.skipped} finished")
    typer.echo(f"outputs: {out_dir}/ (summary.parquet, manifest.json, runs/)")
    failed = [r for r in result.records if r["status"] != "ok"]
    for r in failed[:10]:
        typer.echo(f"error: {r['variant']}/{r['replication']:03d}: {r['status']}: "
                   f"{r.get('error')}", err=True)
    if len(failed) > 10:
        typer.echo(f"error: … and {len(failed) - 10} more (see manifest.json)", err=True)
    if failed:
        raise typer.Exit(1)


class SweepProgress:
    """Progress over a sweep's runs (simscale.reports.progress.WorkProgress: a bar on a
    terminal, a line per finished run elsewhere, ETA from the runs finished so far); failures
    counted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failed = 0
        self._progress = None

    def start(self, to_run: int, skipped: int) -> None:
        from simscale.reports.progress import WorkProgress

        if skipped:
            typer.echo(f"resume: {skipped} finished runs skipped", err=True)
        self._progress = WorkProgress(self.name, to_run, "runs")

    def advance(self, record: dict) -> None:
        if self._progress is None:
            return
        if record["status"] != "ok":
            self.failed += 1
        note = f"{record['variant']}/{record['replication']:03d} {record['status']}"
        if self.failed:
            note += f" · {self.failed} failed"
        self._progress.advance(note=note)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None


# ---------------------------------------------------------------- compare


def compare_command(
    folder: Annotated[Path, typer.Argument(help="sweep folder (or its summary.parquet)")],
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="metric to report "
                      "(repeatable; default: the sweep's metrics)")] = None,
    baseline: Annotated[str | None, typer.Option(help="variant to compare against "
                        "(default: the sweep's baseline)")] = None,
    rank_by: Annotated[str | None, typer.Option("--rank-by", help="metric that orders the "
                       "variants")] = None,
    maximize: Annotated[bool | None, typer.Option("--maximize/--minimize", help="higher (or "
                        "lower) rank metric is better (default: by metric name)",
                        show_default=False)] = None,
    confidence: Annotated[float, typer.Option(help="confidence level of the intervals")] = 0.95,
    wilcoxon: Annotated[bool, typer.Option("--wilcoxon", help="add a Wilcoxon signed-rank "
                        "test")] = False,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="also write the tables "
                        "as Markdown to this file")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="also write every statistic as "
                   "CSV to this file")] = None,
    plot: Annotated[str | None, typer.Option("--plot", help="metric to plot against --x")] = None,
    x: Annotated[str | None, typer.Option("--x", help="swept parameter on the plot's x axis "
                 "(default: the first)")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="plot file (default: "
                   "FOLDER/<metric>_vs_<param>.png)")] = None,
    claims: Annotated[Path | None, typer.Option("--claims", help="judge the claims of this "
                      "file (TOML) instead of those the sweep carries")] = None,
    slo: Annotated[list[str] | None, typer.Option("--slo", help="METRIC<=VALUE drawn as a "
                   "line on the plot (repeatable)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="an inconclusive claim (or one "
                      "without data) fails too")] = False,
) -> None:
    """Means with confidence intervals, paired differences against a baseline, ranking, Pareto;
    and the verdict on each claim the sweep carries (or --claims gives).

    Exit 1 when a claim fails (with --strict, also when one is inconclusive or has no data)."""
    from simscale.monitoring.slo import parse_slo
    from simscale.outputs import check_file_target
    from simscale.sweep.claims import claims_of_folder, judge, read_claims
    from simscale.sweep.compare import compare
    from simscale.sweep.report import print_claims, print_comparison
    from simscale.sweep.table import read_summary

    try:
        for label, target in (("--markdown", markdown), ("--csv", csv), ("--png", png)):
            if target is not None:
                check_file_target(target, f"{label} ")
        slos = [parse_slo(text) for text in slo or []]
        data = read_summary(folder)
        claim_set = read_claims(claims) if claims is not None else claims_of_folder(folder)
        goal = None if maximize is None else ("max" if maximize else "min")
        result = compare(data, metric, baseline, confidence, rank_by, goal, wilcoxon)
        judged = judge(data, claim_set, confidence) if claim_set is not None else None
        print_comparison(result, wilcoxon)
        if judged is not None:
            print_claims(judged, confidence, title=claim_set.title)
        _write_comparison(result, judged, claim_set, confidence, wilcoxon, markdown, csv)
        if plot is not None:
            _plot(data, folder, plot, x, png, confidence, slos)
    except InputError as exc:
        fail(exc)
    _gate(judged or [], strict)


def _gate(judged: list, strict: bool) -> None:
    """Exit 1 naming the claims that failed (with strict, also inconclusive or no data)."""
    from simscale.sweep.claims import gate_fails

    failing = gate_fails(judged, strict)
    if failing:
        shown = ", ".join(f"{r.claim.label} ({r.verdict})" for r in failing[:10])
        typer.echo(f"claims: {len(failing)} failed{' (--strict)' if strict else ''}: {shown}",
                   err=True)
        raise typer.Exit(1)


def _write_comparison(result, judged, claim_set, confidence: float, wilcoxon: bool,
                      markdown: Path | None, csv: Path | None) -> None:
    """--markdown (the tables, then the claims) and --csv (every statistic)."""
    from simscale.outputs import write_text
    from simscale.sweep.report import claims_markdown, comparison_csv, comparison_markdown

    if markdown is not None:
        text = comparison_markdown(result, wilcoxon)
        if judged is not None:
            text += "\n" + claims_markdown(judged, confidence, title=claim_set.title)
        write_text(markdown, text)
        typer.echo(f"markdown: {markdown}")
    if csv is not None:
        write_text(csv, comparison_csv(result, wilcoxon))
        typer.echo(f"csv: {csv}")


def _plot(data, folder: Path, metric: str, x: str | None, png: Path | None,
          confidence: float, slos: list) -> None:
    """--plot METRIC against --x (default: the first swept parameter), into --png."""
    from simscale.sweep.plots import plot_metric

    x_param = x or (data.parameters[0] if data.parameters else "")
    base = folder if folder.is_dir() else folder.parent
    path = png or base / f"{metric}_vs_{x_param}.png"
    typer.echo(f"plot: {plot_metric(data, metric, x_param, path, confidence, slos)}")


# ---------------------------------------------------------------- plan


def plan_command(
    spec: Annotated[Path, typer.Argument(help="experiment spec (TOML)")],
    slo: Annotated[list[str], typer.Option("--slo", help="METRIC<=VALUE (or <, >=, >) that "
                   "must hold with confidence (repeatable)")],
    vary: Annotated[str | None, typer.Option("--vary", help="PATH=LOW:HIGH, the field to "
                    "search (integers when both ends are)")] = None,
    minimize: Annotated[str, typer.Option("--minimize", help="objective metric; 'cost' is "
                        "cost_usd when reported, else instance_hours")] = "cost",
    stress: Annotated[bool, typer.Option("--stress", help="find the highest value (default "
                      "field: workload.arrivals.rate_rps) at which the SLO holds")] = False,
    replications: Annotated[int, typer.Option("--replications", "-r", min=2,
                            help="runs per point")] = 5,
    confidence: Annotated[float, typer.Option(help="one-sided confidence level")] = 0.95,
    method: Annotated[str, typer.Option(help="bisect (monotone) or grid")] = "bisect",
    points: Annotated[int, typer.Option(help="grid: number of points")] = 9,
    tolerance: Annotated[float | None, typer.Option(help="bisection stops at this width "
                         "(default: 1 for integers, else 1% of the range; stress: 1% of the "
                         "value)")] = None,
    set_: SetOption = None,
    seed: Annotated[int | None, typer.Option(min=0, help="seed of replication 0")] = None,
    workers: WorkersOption = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the search as "
                   "JSON")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-point lines")] = False,
) -> None:
    """Capacity planning: the cheapest setting that meets an SLO with confidence; stress."""
    from simscale.monitoring.slo import parse_slo
    from simscale.outputs import check_file_target, write_json
    from simscale.reports.progress import WorkProgress
    from simscale.sweep.capacity import plan

    def show(point) -> None:
        if not quiet:
            progress.advance(note=_point_line(vary_path, point))

    try:
        if out is not None:
            check_file_target(out, "--out ")
        slos = [parse_slo(s) for s in slo]
        parsed, vary_path = _vary(vary, stress)
        progress = WorkProgress("plan", expected_points(parsed, method, points, tolerance,
                                                        stress), "points", tty=False)
        result = plan(spec, slos, parsed, minimize=minimize, stress=stress,
                      replications=replications, confidence=confidence, overrides=set_ or [],
                      seed=seed, method=method, points=points, tolerance=tolerance,
                      workers=workers, engine=engine, address=address, on_point=show)
    except InputError as exc:
        fail(exc)
    print_plan(result)
    if out is not None:
        write_json(out, result.to_dict())
        typer.echo(f"plan: {out}")
    if result.best is None:
        raise typer.Exit(1)


def _vary(vary: str | None, stress: bool):
    """The parsed --vary (None with --stress alone) and the field it searches."""
    from simscale.sweep.capacity import parse_vary

    parsed = parse_vary(vary) if vary is not None else None
    if parsed is None and not stress:
        raise InputError("--vary PATH=LOW:HIGH is needed to plan (the field to search, "
                         "e.g. --vary instances.count=1:20); or --stress to find the "
                         "highest arrival rate")
    return parsed, parsed.path if parsed else "workload.arrivals.rate_rps"


def _point_line(vary_path: str, point) -> str:
    """One evaluated point as the progress shows it: the value, each SLO's mean and bound."""
    from simscale.reports.numbers import fmt_number

    checks = ", ".join(f"{s.metric} {fmt_number(m)} (bound {fmt_number(b)}) "
                       f"{'ok' if h else 'FAIL'}" for s, m, b, h in point.checks)
    extra = f" — {point.problem}" if point.problem else ""
    return f"{vary_path}={fmt_number(point.value)}: {checks}{extra}"


def expected_points(vary, method: str, points: int, tolerance: float | None,
                    stress: bool) -> int:
    """How many points a plan evaluates at most (0: not known in advance, as a stress
    search that first brackets from the spec's value)."""
    import math

    if vary is None:
        return 0
    if method == "grid" and not stress:
        return points
    span = abs(vary.high - vary.low)
    tol = tolerance if tolerance is not None else (1.0 if vary.integer else span / 100)
    steps = math.ceil(math.log2(span / max(tol, 1e-12))) if span > tol else 0
    return 2 + max(0, steps)


def print_plan(result) -> None:
    """The evaluated points as a table, then the answer."""
    from rich.table import Table

    from simscale.reports.numbers import fmt_number
    from simscale.reports.terminal import make_console

    table = Table(title=f"plan: {result.path} ({result.replications} replications, "
                        f"{result.confidence:.0%} one-sided bounds)", title_justify="left")
    table.add_column(result.path, justify="right")
    for slo in result.slos:
        table.add_column(f"{slo.metric} mean", justify="right")
        table.add_column("bound", justify="right")
    if result.objective:
        table.add_column(result.objective, justify="right")
    table.add_column("meets SLO")
    for p in result.points:
        row = [fmt_number(p.value)]
        for _, mean, bound, _ in p.checks:
            row += [fmt_number(mean), fmt_number(bound)]
        if result.objective:
            row.append(fmt_number(p.objective))
        row.append("yes" if p.feasible else f"no{' (' + p.problem + ')' if p.problem else ''}")
        style = "bold green" if result.best is not None and p.value == result.best.value else None
        table.add_row(*row, style=style)
    console = make_console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(result.message, style="bold" if result.best else "bold red")
