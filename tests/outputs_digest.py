"""Digests of what every shipped experiment writes, to prove a refactoring changed nothing.

For each spec under experiments/ (sweeps, dashboards and claims excepted) it runs the spec
with its own seed and records, per table (requests, metrics, events), the sha256 of the
table's contents — its schema without metadata (so a version string does not count), then
each column's validity and values (so row groups and buffer layout do not count) — and
the numbers of summary.json
(`wall_s`, the version and the spec hash left out).

    python -m tests.outputs_digest record FILE [--short]   # write the digests
    python -m tests.outputs_digest check FILE [--short]    # exit 1 naming what differs
                                                           # (each summary number, both values)

`--short` runs each spec as the test suite does (tests/shipped.py: its HORIZONS entry);
without it, the spec's own horizon (about 4 minutes for all on one core; the record is
tests/data/outputs_full.json). tests/data/outputs_short.json holds the short digests
(tests/test_outputs_digest.py compares them with the suite's own runs of the shipped specs,
at no extra cost). A change that means to alter a model's output records them anew and says
why in its commit; a refactoring must leave them as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
# wall-clock time, the version, and the spec hash (a trace path in the spec is absolute, so
# the hash depends on where the checkout is)
SUMMARY_SKIPPED = {"wall_s", "simscale_version", "spec_sha256"}


def table_sha256(path: Path) -> str:
    """sha256 of a Parquet file's table contents: its schema (without metadata), then each
    column's validity and values, value by value (values under nulls left out), so that
    neither row groups nor how the writer laid out its buffers count."""
    table = pq.read_table(path)
    digest = hashlib.sha256(table.schema.remove_metadata().to_string().encode())
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        digest.update(column.is_valid().to_numpy(zero_copy_only=False).tobytes())
        digest.update(_values_bytes(column))
    return digest.hexdigest()


def _values_bytes(column: pa.Array) -> bytes:
    """A column's values as bytes, nulls as a type's zero."""
    kind = column.type
    if pa.types.is_null(kind):  # every value null: the validity says it all
        return b""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "\0".join(column.fill_null("").to_pylist()).encode()
    zero = False if pa.types.is_boolean(kind) else 0
    return column.fill_null(pa.scalar(zero, kind)).to_numpy(zero_copy_only=False).tobytes()


def run_dir_digest(out: Path) -> dict:
    """The digest of one run directory."""
    digest = {name: table_sha256(out / f"{name}.parquet")
              for name in ("requests", "metrics", "events")}
    summary = json.loads((out / "summary.json").read_text())
    digest["summary"] = {k: v for k, v in sorted(summary.items()) if k not in SUMMARY_SKIPPED}
    return digest


def all_digests(short: bool) -> dict[str, dict]:
    from simscale.model.runner import run
    from simscale.spec import load_spec
    from tests.shipped import EXPERIMENTS, spec_files, suite_spec

    digests = {}
    for rel in spec_files():
        spec = suite_spec(rel) if short else load_spec(EXPERIMENTS / rel)
        with tempfile.TemporaryDirectory() as tmp:
            run(spec, Path(tmp) / "run")
            digests[rel] = run_dir_digest(Path(tmp) / "run")
    return digests


def _comparable(digest: dict) -> dict:
    """A digest without the summary keys left out of the comparison."""
    summary = {k: v for k, v in digest.get("summary", {}).items() if k not in SUMMARY_SKIPPED}
    return {**digest, "summary": summary}


def differences(expected: dict, got: dict) -> list[str]:
    """What differs between two digest sets, one line each."""
    lines = []
    for rel in sorted(set(expected) | set(got)):
        if rel not in got or rel not in expected:
            lines.append(f"{rel}: only in {'the record' if rel in expected else 'this run'}")
            continue
        want, have = _comparable(expected[rel]), _comparable(got[rel])
        for part in sorted(set(want) | set(have)):
            if part == "summary":
                lines += _summary_differences(rel, want.get(part, {}), have.get(part, {}))
            elif want.get(part) != have.get(part):
                lines.append(f"{rel}: {part} differs")
    return lines


def _summary_differences(rel: str, want: dict, have: dict) -> list[str]:
    """One line per summary number that differs, with the recorded and the new value."""
    return [f"{rel}: summary {key} differs: {want.get(key)!r} recorded, {have.get(key)!r} now"
            for key in sorted(set(want) | set(have)) if want.get(key) != have.get(key)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--short", action="store_true", help="the test suite's horizons")
    args = parser.parse_args(argv)
    got = all_digests(args.short)
    if args.action == "record":
        args.file.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(got)} experiments in {args.file}")
        return 0
    diff = differences(json.loads(args.file.read_text()), got)
    for line in diff:
        print(line)
    print(f"{len(got)} experiments, {len(diff)} differences")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
