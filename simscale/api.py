"""The Python face of simscale: load a spec, run it, read its tables, sweep, compare.

    import simscale
    spec = simscale.load("experiments/quickstart.toml", duration_s=60)
    run = simscale.run(spec)                 # writes runs/quickstart/<time>-<hash>/
    run.summary["latency_p95_s"]             # summary.json as a dict
    run.metrics                              # metrics.parquet as a pyarrow.Table
    run.to_pandas("metrics")                 # … as a pandas DataFrame (pandas installed)

Every function raises simscale.errors.InputError for bad input, with one line per problem
(`exc.problems`), as the command line prints them. docs/api.md is the guide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from simscale.errors import InputError

TABLES = ("requests", "metrics", "events")


def load(path: str | Path, *, seed: int | None = None, lenient: bool = False,
         **overrides: Any) -> Any:
    """Read and validate a spec file, with fields overridden by keyword.

    A keyword is a field path with `__` (or, through `**{...}`, `.`) between its parts:
    `load(p, balancer__policy="round_robin", instances__count=6)` is
    `--set balancer.policy='"round_robin"' --set instances.count=6`. Values are Python
    values (numbers, strings, bools, lists, dicts). Returns a simscale.spec.Spec; raises
    InputError naming the file and field path of every problem.
    """
    from simscale.inputs import read_toml, set_path
    from simscale.spec import prepare_spec_data, spec_from_dict

    path = Path(path)
    data = read_toml(path)
    paths = []
    for key, value in overrides.items():
        keys = key.replace("__", ".").split(".")
        blocked = set_path(data, keys, value)
        if blocked is not None:
            raise InputError(f"{path}: {key}: {blocked} is not a table")
        paths.append(keys)
    data, _ = prepare_spec_data(path, (), seed, lenient, data=data)
    return spec_from_dict(data, str(path), paths)


class Run:
    """A run directory: its summary (a dict) and its tables (pyarrow Tables, read on first
    use). `to_pandas(name)` and `to_polars(name)` give a table as a DataFrame."""

    def __init__(self, path: str | Path) -> None:
        from simscale.outputs.rundirs import resolve_run_dir

        self.path = resolve_run_dir(Path(path))
        if not (self.path / "summary.json").is_file():
            raise InputError(f"{path}: not a finished run directory (no summary.json)")

    def __repr__(self) -> str:
        s = self.summary
        return (f"Run({str(self.path)!r}, name={s.get('name')!r}, arrivals={s.get('arrivals')}, "
                f"latency_p95_s={s.get('latency_p95_s')}, complete={s.get('complete')})")

    @cached_property
    def summary(self) -> dict:
        """summary.json as a dict."""
        import json

        return json.loads((self.path / "summary.json").read_text())

    @cached_property
    def spec(self) -> dict:
        """The resolved spec the run used, as plain data (from its Parquet metadata)."""
        import json

        import pyarrow.parquet as pq

        meta = pq.read_schema(self.path / "metrics.parquet").metadata or {}
        return json.loads(meta.get(b"simscale.spec", b"{}"))

    @cached_property
    def requests(self):
        """requests.parquet: one row per arrival (pyarrow.Table)."""
        return self._read("requests")

    @cached_property
    def metrics(self):
        """metrics.parquet: one row per metrics interval (pyarrow.Table)."""
        return self._read("metrics")

    @cached_property
    def events(self):
        """events.parquet: decisions, state changes, faults, alerts (pyarrow.Table)."""
        return self._read("events")

    def table(self, name: str):
        """One of "requests", "metrics", "events", or "summary" (a one-row table)."""
        import pyarrow as pa

        if name == "summary":
            from simscale.reports.summary import flat_summary

            flat = {k: v for k, v in flat_summary(self.summary).items()
                    if not isinstance(v, (list, tuple))}
            return pa.Table.from_pylist([flat])
        if name not in TABLES:
            raise InputError(f"no table {name!r} (tables: summary, {', '.join(TABLES)})")
        return getattr(self, name)

    def to_pandas(self, name: str = "metrics"):
        """The table `name` as a pandas DataFrame (needs pandas)."""
        _need("pandas")
        return self.table(name).to_pandas()

    def to_polars(self, name: str = "metrics"):
        """The table `name` as a polars DataFrame (needs polars)."""
        polars = _need("polars")
        return polars.from_arrow(self.table(name))

    def _read(self, name: str):
        import pyarrow.parquet as pq

        return pq.read_table(self.path / f"{name}.parquet")


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"this needs {module}: pip install {module}") from None


def open_run(path: str | Path) -> Run:
    """A finished run directory (or runs/<name>/, meaning its latest run)."""
    return Run(path)


def run(spec: Any, out: str | Path | None = None, *, runs_dir: str | Path = "runs",
        force: bool = False) -> Run:
    """Simulate a spec (a Spec, or a path to a spec file) and return its Run.

    Without `out` the run gets a new directory, RUNS_DIR/<name>/<time>-<hash>/, and
    RUNS_DIR/<name>/latest points at it, as `simscale run` does; with `out` it is written
    exactly there (a folder that holds anything is refused unless force=True).
    """
    from simscale.model.runner import run as run_spec
    from simscale.outputs.rundirs import check_out_dir, mark_latest, run_dir_for

    if isinstance(spec, (str, Path)):
        spec = load(spec)
    target = check_out_dir(out, force) if out is not None else run_dir_for(spec, runs_dir)
    run_spec(spec, target)
    if out is None:
        mark_latest(target)
    return Run(target)


class SweepRuns:
    """A sweep folder: summary.parquet (one row per run) and its comparison."""

    def __init__(self, path: str | Path) -> None:
        from simscale.sweep.table import read_summary

        self.path = Path(path)
        self.data = read_summary(self.path)

    def __repr__(self) -> str:
        return f"SweepRuns({str(self.path)!r}, variants={self.data.variants})"

    @property
    def table(self):
        """summary.parquet as a pyarrow.Table."""
        import pyarrow.parquet as pq

        return pq.read_table(self.data.source)

    def to_pandas(self):
        _need("pandas")
        return self.table.to_pandas()

    def to_polars(self):
        return _need("polars").from_arrow(self.table)

    def compare(self, metrics: Sequence[str] | None = None, baseline: str | None = None,
                confidence: float = 0.95):
        """Means with confidence intervals and paired differences against the baseline
        (simscale.sweep.compare.Comparison), as `simscale compare DIR` prints."""
        from simscale.sweep.compare import compare as compare_sweep

        return compare_sweep(self.data, list(metrics) if metrics else None, baseline,
                             confidence)


def sweep(path: str | Path, out: str | Path | None = None, *, workers: int | None = None,
          replications: int | None = None, overrides: Iterable[str] = (),
          resume: bool = False, engine: str = "local", address: str | None = None
          ) -> SweepRuns:
    """Run a sweep spec (every variant × replication) into `out` (default
    runs/sweeps/<name>/) and return the folder. `overrides` are `--set` texts for the base
    spec. In a script, call it under `if __name__ == "__main__":` (worker processes
    re-import the main module)."""
    from simscale.sweep.engine import run_sweep
    from simscale.sweep.runlist import load_sweep

    loaded = load_sweep(path, list(overrides), replications)
    folder = Path(out) if out is not None else Path("runs") / "sweeps" / loaded.spec.name
    run_sweep(loaded, folder, workers=workers, engine=engine, address=address, resume=resume)
    return SweepRuns(folder)


class RunComparison:
    """Runs side by side: labels by what differs, the differing spec fields, and each
    summary number with its difference from the first run."""

    def __init__(self, runs: Sequence[Run]) -> None:
        from simscale.reports.diff import differing_fields, flatten, labels

        if len(runs) < 2:
            raise InputError("compare needs two or more runs")
        self.runs = list(runs)
        specs = [r.spec for r in self.runs]
        self.labels = labels(specs, [r.path.name for r in self.runs])
        self.differing = {path: [flatten(s).get(path) for s in specs]
                          for path in differing_fields(specs)}

    def rows(self) -> list[dict]:
        """One dict per summary number: group, metric, each run's value (by label) and
        `Δ <label>` = value − the first run's value."""
        from simscale.reports.diff import delta
        from simscale.reports.summary import flat_summary, grouped

        flat = [flat_summary(r.summary) for r in self.runs]
        keys = list(dict.fromkeys(k for f in flat for k, v in f.items()
                                  if isinstance(v, int | float) and not isinstance(v, bool)))
        out = []
        for group, group_keys in grouped({}, keys):
            for key in group_keys:
                row: dict[str, Any] = {"group": group, "metric": key}
                values = [f.get(key) for f in flat]
                for i, (label, value) in enumerate(zip(self.labels, values, strict=True)):
                    row[label] = value
                    if i:
                        row[f"Δ {label}"] = delta(value, values[0]).diff
                out.append(row)
        return out

    @property
    def table(self):
        """rows() as a pyarrow.Table."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.rows())

    def to_pandas(self):
        _need("pandas")
        return self.table.to_pandas()

    def to_polars(self):
        return _need("polars").from_arrow(self.table)

    def __str__(self) -> str:
        from simscale.reports.diff import delta, delta_text, value_text
        from simscale.reports.numbers import fmt_number

        lines = ["differs: " + "; ".join(
            f"{p} {' | '.join(value_text(v) for v in vs)}"
            for p, vs in self.differing.items()) if self.differing else "same settings"]
        header = ["metric", *self.labels[:1]]
        for label in self.labels[1:]:
            header += [label, "Δ"]
        body = []
        for row in self.rows():
            cells = [row["metric"], fmt_number(row[self.labels[0]])]
            for label in self.labels[1:]:
                d = delta(row[label], row[self.labels[0]])
                cells += [fmt_number(row[label]), delta_text(d)]
            body.append(cells)
        widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
        for r in [header, *body]:
            lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        return "\n".join(lines)

    __repr__ = __str__


def compare(*runs: Any, **sweep_options: Any):
    """Compare two or more runs (Run objects or run directories) → RunComparison; or one
    sweep (a SweepRuns or a sweep folder) → its statistical comparison (sweep_options:
    metrics, baseline, confidence)."""
    if len(runs) == 1:
        target = runs[0]
        folder = target.path if isinstance(target, SweepRuns) else Path(target)
        return SweepRuns(folder).compare(**sweep_options)
    if sweep_options:
        raise InputError(f"options {sorted(sweep_options)} apply to a sweep, not to runs")
    return RunComparison([r if isinstance(r, Run) else Run(r) for r in runs])
