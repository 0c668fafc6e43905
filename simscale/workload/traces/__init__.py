"""Request traces: read real LLM-serving traces into arrays, and replay them over a horizon.

Formats (`read_trace(path, format=...)`; "auto" detects by extension, then by content):

- "azure": Azure LLM inference trace 2023 (Splitwise; also the 2024 week-long release), CSV
  with header `TIMESTAMP,ContextTokens,GeneratedTokens`. TIMESTAMP is an absolute wall-clock
  time such as `2023-11-16 18:17:03.9799600` (up to 9 fractional digits, no time zone,
  1970-01-01 to 2262-04-11); it is parsed exactly to the nanosecond with integer
  arithmetic, and arrival_s is the offset from the first row. Column order is free; CRLF or
  LF line endings; a final newline is optional.
- "mooncake": Mooncake FAST'25 JSONL, one object per line with `timestamp` (ms from the start
  of the trace, >= 0), `input_length`, `output_length` and optional `hash_ids` (ids of
  512-token prompt blocks, at most ceil(input_length / 512) of them; each id names the whole
  prefix up to and including its block). Other keys are ignored. From hash_ids only
  `prefix_id` is kept: the id of block min(prefix_blocks, len) − 1, so two requests share a
  prefix_id exactly when they share their first `prefix_blocks` blocks (all of them for
  shorter prompts) — a key for prefix (KV-cache) affinity. The default of 2 blocks is chosen
  because in the conversation trace block 0 is the same for every request (a common system
  prompt) and the second block tells conversations apart; -1 means the row had no hash_ids.
- "csv": the generic format: a header row, then one request per row. Columns:
  `arrival_s` (required; seconds, any origin, non-decreasing), and optionally
  `prompt_tokens`, `output_tokens` (integers), `kind` (non-empty printable text), `user_id`,
  `session_id` (64-bit integers). Other column names are errors (a typo should not silently
  drop a column). Standard CSV quoting applies.
- "parquet": the same columns as the generic CSV, in a Parquet file (integer columns of any
  integer type; arrival_s integer or floating; kind a string column; no nulls).

Every value is checked for its range, not only its type (simscale.workload.traces.bounds): token
counts 0 to 2^31 − 1 (the requests table's int32), times within 1e9 s of the first row,
generic arrival_s within ±1e10 s, at most 256 kinds of at most 100 characters. A file is
read as a stream (a `.gz` suffix or gzip magic bytes: decompressed on the fly) and holds at
most 20,000,000 rows, lines of at most 1 MiB and 8 GiB once decompressed.

Bad input raises InputError with one `file:line: problem` line per problem (`file: row N:
problem` for Parquet), stopping after MAX_PROBLEMS. With lenient=True, bad rows are skipped
and counted in `Trace.skipped_rows` instead; problems with the file as a whole (missing,
empty, unknown columns, too large, no valid rows) are still errors. A row whose time is
earlier than an earlier row's is a bad row (traces must be sorted).
"""

from simscale.workload.traces.problems import MAX_PROBLEMS
from simscale.workload.traces.reader import FORMATS, TraceFormat, read_trace
from simscale.workload.traces.replay import ReplayChunk, replay, replay_period_s, replay_problems
from simscale.workload.traces.trace import Trace

__all__ = [
    "FORMATS",
    "MAX_PROBLEMS",
    "ReplayChunk",
    "Trace",
    "TraceFormat",
    "read_trace",
    "replay",
    "replay_period_s",
    "replay_problems",
]
