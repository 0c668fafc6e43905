"""Small real trace samples in every format simscale reads, the seeds the fuzzing mutates.

Each sample is the head of a trace shipped in data/traces/ (Azure 2023 conversation and code
CSV, Mooncake conversation JSONL); the generic CSV and Parquet samples carry the Mooncake
rows as `arrival_s` seconds with every optional column (kind, user and session ids taken
from the rows' prompt-block ids).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parents[2] / "data" / "traces"
ROWS = 30
KINDS = ("chat_message", "load_history")
"""The request kinds of the generic samples (and of the fuzz spec's mix)."""


@dataclass(frozen=True)
class TextSample:
    """A text trace: its format, file suffix, header (None for JSONL) and data rows."""

    format: str
    suffix: str
    header: str | None
    rows: tuple[str, ...]

    def text(self) -> str:
        lines = ([self.header] if self.header is not None else []) + list(self.rows)
        return "\n".join(lines) + "\n"


def _head(name: str, lines: int) -> list[str]:
    with open(DATA / name, encoding="utf-8") as handle:
        return [handle.readline().rstrip("\n") for _ in range(lines)]


@cache
def mooncake_objects() -> tuple[dict, ...]:
    return tuple(json.loads(line) for line in _head("mooncake_fast25_conversation_trace.jsonl",
                                                    ROWS))


def generic_columns() -> dict[str, list]:
    """The Mooncake head as generic columns: seconds from 2023-11-16 in Unix time, tokens,
    a kind, the user (second block id) and the session (third block id, else the second)."""
    objs = mooncake_objects()
    ids = [obj["hash_ids"] for obj in objs]
    return {
        "arrival_s": [1_700_150_400 + obj["timestamp"] / 1000 for obj in objs],
        "prompt_tokens": [obj["input_length"] for obj in objs],
        "output_tokens": [obj["output_length"] for obj in objs],
        "kind": [KINDS[i % 3 == 0] for i in range(len(objs))],
        "user_id": [blocks[1] for blocks in ids],
        "session_id": [blocks[2] if len(blocks) > 2 else blocks[1] for blocks in ids],
    }


@cache
def text_samples() -> dict[str, TextSample]:
    """name → sample, for every text format."""
    conv = _head("azure_llm_2023_conv.csv", ROWS + 1)
    code = _head("azure_llm_2023_code.csv", ROWS + 1)
    columns = generic_columns()
    names = list(columns)
    generic = tuple(",".join(str(columns[n][i]) for n in names)
                    for i in range(len(columns["arrival_s"])))
    return {
        "azure_conv": TextSample("azure", ".csv", conv[0], tuple(conv[1:])),
        "azure_code": TextSample("azure", ".csv", code[0], tuple(code[1:])),
        "mooncake": TextSample("mooncake", ".jsonl", None,
                               tuple(json.dumps(obj) for obj in mooncake_objects())),
        "generic": TextSample("csv", ".csv", ",".join(names), generic),
    }


def generic_table() -> pa.Table:
    """The generic sample as an Arrow table of the types simscale writes and reads."""
    columns = generic_columns()
    return pa.table({
        "arrival_s": pa.array(columns["arrival_s"], pa.float64()),
        "prompt_tokens": pa.array(columns["prompt_tokens"], pa.int64()),
        "output_tokens": pa.array(columns["output_tokens"], pa.int64()),
        "kind": pa.array(columns["kind"], pa.string()),
        "user_id": pa.array(columns["user_id"], pa.int64()),
        "session_id": pa.array(columns["session_id"], pa.int64()),
    })


def parquet_bytes(table: pa.Table, **options) -> bytes:
    """A table written as a Parquet file (options: pyarrow.parquet.write_table's)."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()
