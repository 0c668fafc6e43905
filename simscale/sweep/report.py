"""Show a Comparison: terminal tables (rich), Markdown and CSV; and judged claims as a table
(the PNG plot is simscale.sweep.plots')."""

from __future__ import annotations

import csv
import io
import math

from simscale.reports.numbers import fmt_number
from simscale.sweep.compare import Comparison
from simscale.sweep.table import PARAM_PREFIX


def fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_pm(iv) -> str:
    """'mean ± half-width' of an Interval ('mean' alone when the interval is undefined)."""
    if not math.isfinite(iv.high):
        return fmt_number(iv.mean)
    return f"{fmt_number(iv.mean)} ± {fmt_number((iv.high - iv.low) / 2)}"


def metric_rows(cmp: Comparison, metric: str, wilcoxon: bool) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one metric's table: per variant mean, CI, and paired difference."""
    pct = f"{cmp.confidence:.0%}"
    header = ["variant", "n", f"mean ± {pct} CI", f"Δ ± {pct} CI", "p(t)"]
    if wilcoxon:
        header.append("p(W)")
    rows = []
    for v in cmp.variants:
        s = cmp.stats[(v, metric)]
        row = [v, str(s.n), fmt_pm(s)]
        d = cmp.diffs.get((v, metric))
        if d is None:
            row += ["baseline", ""] + ([""] if wilcoxon else [])
        else:
            row += [fmt_pm(d.interval), fmt_p(d.p_t)]
            if wilcoxon:
                row.append(fmt_p(d.p_wilcoxon))
        rows.append(row)
    return header, rows


def metric_title(cmp: Comparison, metric: str) -> str:
    return f"{metric} (Δ = variant − {cmp.baseline}, paired by seed)"


def ranking_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    goal = "lower" if cmp.rank_goal == "min" else "higher"
    header = ["rank", "variant", f"{cmp.rank_metric} ({goal} is better)", "parameters"]
    rows = []
    for i, v in enumerate(cmp.ranking, 1):
        params = ", ".join(f"{k}={fmt_number(x)}" for k, x in cmp.params.get(v, {}).items())
        rows.append([str(i), v, fmt_number(cmp.stats[(v, cmp.rank_metric)].mean), params])
    return header, rows


def pareto_text(cmp: Comparison) -> str:
    if cmp.cost_metric is None:
        return "Pareto front: no cost metric (cost_usd or instance_hours) in the runs"
    if not cmp.pareto:
        return "Pareto front: no variant has both a cost and a latency_p95_s"
    unit = "" if cmp.cost_metric == "cost_usd" else " (instance-hours; no cost_usd reported)"
    return (f"Pareto front of {cmp.cost_metric}{unit} against latency_p95_s, cheapest first: "
            + ", ".join(cmp.pareto))


def print_comparison(cmp: Comparison, wilcoxon: bool = False, console=None) -> None:
    """The comparison as rich tables on the terminal."""
    from rich import box
    from rich.table import Table

    from simscale.reports.terminal import make_console

    console = console or make_console()
    for metric in cmp.metrics:
        header, rows = metric_rows(cmp, metric, wilcoxon)
        table = Table(title=metric_title(cmp, metric), title_justify="left",
                      box=box.SIMPLE_HEAD)
        for i, name in enumerate(header):
            if i == 0:
                widest = max((len(v) for v in cmp.variants), default=8)
                table.add_column(name, overflow="fold", min_width=min(widest, 28))
            else:
                table.add_column(name, justify="right", no_wrap=True)
        for row, v in zip(rows, cmp.variants, strict=True):
            table.add_row(*row, style="bold" if v == cmp.baseline else None)
        console.print(table)
    header, rows = ranking_rows(cmp)
    table = Table(title="ranking", title_justify="left", box=box.SIMPLE_HEAD)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i == 0 else "left", overflow="fold",
                         no_wrap=i in (0, 2))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(pareto_text(cmp))
    left = {v: n for v, n in cmp.runs_left_out.items() if n}
    if left:
        console.print("runs left out (not complete): "
                      + ", ".join(f"{v}: {n}" for v, n in left.items()), style="yellow")


CLAIMS_TITLE = "claims"
VERDICT_STYLES = {"holds": "green", "fails": "bold red", "inconclusive": "yellow",
                  "no data": "yellow", "given": "cyan", "not judged": "dim"}
CLAIMS_RULE = ("the {pct} CI of the mean over complete runs, or of the paired ratio or "
               "difference: inside the claim, holds; outside, fails; across an edge, "
               "inconclusive; an input of the model, given")


def fmt_ci(iv) -> str:
    """'mean [low, high]' of an Interval ('mean' alone when the interval is undefined)."""
    if not math.isfinite(iv.high):
        return fmt_number(iv.mean)
    return f"{fmt_number(iv.mean)} [{fmt_number(iv.low)}, {fmt_number(iv.high)}]"


def simulated_text(result) -> str:
    """The simulated column of one claim: the interval, the input, or a dash."""
    iv = result.interval
    if iv is None or iv.n == 0:
        return "–"
    if result.verdict == "given":
        return f"{fmt_number(iv.mean)} (the input)"
    text = fmt_ci(iv)
    if iv.n == 1:
        text += " (1 pair)" if result.relative else " (1 run)"
    return text


def claims_rows(results, confidence: float) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the claims table: claim (variant: label), metric, claimed,
    simulated mean with its interval, verdict."""
    from simscale.sweep.claims import claimed_text

    header = ["claim", "metric", "claimed", f"simulated mean [{confidence:.0%} CI]", "verdict"]
    rows = []
    for r in results:
        measure = getattr(r.claim, "measure", "–")
        rows.append([r.claim.label, measure, claimed_text(r.claim), simulated_text(r),
                     r.verdict])
    return header, rows


def claims_notes(results) -> list[str]:
    """The claims' notes (and the reasons a figure is not judged), one line each."""
    notes = []
    for r in results:
        text = getattr(r.claim, "note", "") or getattr(r.claim, "reason", "")
        if text:
            notes.append(f"{r.claim.label}: {text}")
    return notes


def claims_counts(results) -> str:
    """'holds 3, fails 1, …': how many claims got each verdict, in table order."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return ", ".join(f"{v} {n}" for v, n in counts.items())


def print_claims(results, confidence: float, console=None, title: str = CLAIMS_TITLE) -> None:
    """Judged claims as a rich table, then their notes."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from simscale.reports.terminal import make_console

    console = console or make_console()
    header, rows = claims_rows(results, confidence)
    rule = CLAIMS_RULE.format(pct=f"{confidence:.0%}")
    table = Table(title=f"{title} ({rule})", title_justify="left", box=box.SIMPLE_HEAD)
    for i, name in enumerate(header):
        table.add_column(escape(name), justify="right" if i in (2, 3) else "left",
                         overflow="fold", no_wrap=i in (2, 3, 4))
    for row in rows:
        table.add_row(*map(escape, row[:-1]),
                      f"[{VERDICT_STYLES.get(row[-1], 'dim')}]{escape(row[-1])}[/]")
    console.print(table)
    for line in claims_notes(results):
        console.print(f"note: {escape(line)}", style="dim")
    console.print(f"verdicts: {claims_counts(results)}")


def claims_markdown(results, confidence: float, title: str = CLAIMS_TITLE) -> str:
    """Judged claims as a Markdown table with their notes."""
    header, rows = claims_rows(results, confidence)
    out = [f"### {title}", "", _md_table(header, rows, ["---", "---", "--:", "--:", "---"]),
           ""]
    out += [f"- {line}" for line in claims_notes(results)]
    out += ["", f"verdicts: {claims_counts(results)}"]
    return "\n".join(out) + "\n"


def comparison_markdown(cmp: Comparison, wilcoxon: bool = False) -> str:
    """The comparison as Markdown tables."""
    out = []
    for metric in cmp.metrics:
        header, rows = metric_rows(cmp, metric, wilcoxon)
        out += [f"### {metric_title(cmp, metric)}", "", _md_table(header, rows), ""]
    header, rows = ranking_rows(cmp)
    out += ["### ranking", "", _md_table(header, rows, ["--:", "---", "--:", "---"]), "",
            pareto_text(cmp), ""]
    return "\n".join(out)


def _md_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = align or ["---"] + ["--:"] * (len(header) - 1)
    return "\n".join([line(header), "| " + " | ".join(align) + " |", *map(line, rows)])


def comparison_csv(cmp: Comparison, wilcoxon: bool = False) -> str:
    """Long format: one row per (variant, metric) with every statistic, full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    params = list(next(iter(cmp.params.values()), {}).keys())
    header = ["variant", *[PARAM_PREFIX + p for p in params], "metric", "n", "mean", "sd",
              "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_n",
              "p_paired_t"]
    if wilcoxon:
        header.append("p_wilcoxon")
    header += ["rank", "pareto"]
    writer.writerow(header)
    rank = {v: i for i, v in enumerate(cmp.ranking, 1)}
    for metric in cmp.metrics:
        for v in cmp.variants:
            s = cmp.stats[(v, metric)]
            d = cmp.diffs.get((v, metric))
            row = [v, *[cmp.params[v].get(p) for p in params], metric, s.n, s.mean, s.sd,
                   s.low, s.high]
            if d is None:
                row += ["", "", "", "", ""] + ([""] if wilcoxon else [])
            else:
                row += [d.interval.mean, d.interval.low, d.interval.high, d.interval.n, d.p_t]
                if wilcoxon:
                    row.append(d.p_wilcoxon)
            row += [rank[v] if metric == cmp.rank_metric else "", v in cmp.pareto]
            writer.writerow(["" if isinstance(x, float) and math.isnan(x) else x for x in row])
    return buf.getvalue()
