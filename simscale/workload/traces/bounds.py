"""The limits every trace and every replay is held to (each one documented in the README).

A trace value outside them is a bad row (`file:line: problem`, or skipped under --lenient);
a file or a replay outside them is refused at load with a clear message.
"""

from __future__ import annotations

from simscale import limits

MAX_TRACE_TOKENS = 2**31 - 1
"""Largest prompt or output token count of a request: requests.parquet stores both as int32
(simscale.outputs.columns.REQUESTS_SCHEMA; a test pins the two together)."""

MAX_ID = 2**63 - 1
"""user_id and session_id are int64 in requests.parquet: −2^63 to 2^63 − 1. Mooncake
hash_ids are 0 to MAX_ID."""

MAX_ROWS = 20_000_000
"""Rows of a trace at most: lines of a text trace (its header, blank and bad lines
included), rows of a Parquet trace. At about 24–56 bytes a row once read, 0.5–1.1 GB."""

MAX_LINE_BYTES = 1 << 20
"""Longest line of a text trace (1 MiB; a Mooncake line for a 128k-token prompt is ~2 KB)."""

MAX_INPUT_BYTES = 8 << 30
"""Largest trace once decompressed (8 GiB): a `.gz` is read as a stream and refused beyond
this, so a small archive that inflates without end is an error, not an exhausted memory."""

MAX_SPAN_S = 1e9
"""Longest time from a trace's first row to its last (about 31.7 years): the difference of
two Azure timestamps fits int64 nanoseconds, and float64 seconds keep 0.12 µs resolution."""

MAX_TIME_S = 1e10
"""|arrival_s| of a generic trace at most: any origin, Unix-epoch seconds included (1e10 s
is the year 2286), and still microsecond resolution; epoch milliseconds are refused."""

AZURE_RANGE = ("1970-01-01", "2262-04-11")
"""Azure TIMESTAMPs are wall-clock times from the Unix epoch until int64 nanoseconds since
it end (2262-04-11T23:47:16.854775807)."""

MAX_KINDS = 256
"""Distinct kinds in a trace's kind column at most (each becomes a request kind)."""

MAX_KIND_CHARS = 100
"""Longest kind name (printable characters)."""

MAX_RATE_SCALE = limits.MAX_RATE_SCALE
"""A replay superposes at most this many copies of the trace (rate_scale; simscale.limits)."""

MAX_REPLAY_RATE_RPS = 1e7
"""Mean arrivals per simulated second of a replay at most (rows in the window × rate_scale
/ (lap length / speed))."""

MAX_LAPS = 1_000_000
"""Laps of a looped replay within the run at most (duration_s / (lap length / speed))."""

MAX_REPLAY_ROWS = 1_000_000_000
"""Trace rows a replay visits over the run at most (laps × rows in the window × copies,
the thinned copy included): bounds the replay's work whatever the options."""
