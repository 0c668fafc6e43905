"""read_trace: open a trace file, tell its format, and hand it to that format's reader."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from simscale.errors import InputError
from simscale.workload.traces.bounds import MAX_TRACE_TOKENS
from simscale.workload.traces.csv_formats import read_azure, read_generic_csv
from simscale.workload.traces.mooncake import BLOCK_TOKENS, read_mooncake
from simscale.workload.traces.parquet import read_parquet
from simscale.workload.traces.problems import Problems
from simscale.workload.traces.source import Source, detect
from simscale.workload.traces.trace import Trace, replace

TraceFormat = Literal["auto", "azure", "mooncake", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("auto", "azure", "mooncake", "csv", "parquet")


def read_trace(
    path: str | Path,
    format: TraceFormat = "auto",
    *,
    lenient: bool = False,
    kind: str | None = None,
    prefix_blocks: int = 2,
) -> Trace:
    """Read a trace file (see simscale.workload.traces for the formats and
    simscale.workload.traces.bounds for the limits), as a stream: memory holds the columns
    read so far and one block.

    kind: a label given to every row when the file has no kind column (e.g. "code" for the
    Azure code trace). prefix_blocks: how many leading Mooncake blocks make `prefix_id`.
    Raises InputError for a missing, unreadable, oversized or bad file.
    """
    name = str(path)
    if format not in FORMATS:
        raise InputError(f"{name}: unknown trace format {format!r} (one of {', '.join(FORMATS)})")
    if prefix_blocks < 1:
        raise ValueError(f"prefix_blocks must be >= 1, got {prefix_blocks}")
    # no row has more blocks than this (hash_ids are one per 512 tokens): the same prefix ids
    prefix_blocks = min(prefix_blocks, MAX_TRACE_TOKENS // BLOCK_TOKENS + 1)
    problems = Problems(name, lenient)
    with Source(Path(path), problems) as source:
        fmt = detect(source.path, source.head, problems) if format == "auto" else format
        if fmt == "parquet":
            trace = read_parquet(source, problems)
        elif fmt == "azure":
            trace = read_azure(source, problems)
        elif fmt == "mooncake":
            trace = read_mooncake(source, problems, prefix_blocks)
        else:
            trace = read_generic_csv(source, problems)
    if kind is not None and trace.kind is None:
        labels = np.empty(len(trace), dtype=object)
        labels[:] = kind
        trace = replace(trace, kind=labels)
    return trace
