"""Specs that replay a fuzzed trace: the replay options drawn (strict or lenient, loop,
window, speed, rate_scale, format, kind, prefix blocks), written as a TOML spec.

The options are drawn so that an accepted run stays small (a few seconds of simulated time,
at most a few copies of a 30-row sample per lap): a run that overruns the fuzz timeout is a
hang, not a big workload. Values past the spec's bounds are drawn too, and must be refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from tests.fuzz.samples import KINDS

REFUSED_NUMBERS = (0.0, -1.0, math.nan, math.inf, -math.inf, 1e300)


@dataclass(frozen=True)
class Replay:
    """How a fuzzed trace is replayed: the `workload.arrivals` fields besides kind and path,
    the run's duration, whether `--lenient` is passed on the command line, and the service
    (a key of SERVICES)."""

    arrivals: dict = field(default_factory=dict)
    duration_s: float = 5.0
    cli_lenient: bool = False
    service: str = "full"

    @property
    def lenient(self) -> bool:
        return self.cli_lenient or self.arrivals.get("lenient") is True


WINDOWS = ([0.0, 1.0], [0.0, 5.0], [2.0, 9.0], [1.5, 2.5], [0.0, 1e-300], [1e9, 2e9])
# field → values the spec must refuse (or, for window_s, a replay it must refuse or run)
REFUSED = {
    "speed": (*REFUSED_NUMBERS, 1e7),
    "rate_scale": (*REFUSED_NUMBERS, 1001.0),
    "window_s": ([3.0, 3.0], [5.0, 1.0], [-1.0, 3.0], [0.0, math.inf], [math.nan, 1.0], [0.0]),
    "format": ("azure", "mooncake", "csv", "parquet", "xml"),
    "request_kind": ("", "other", "x" * 200),
    "prefix_blocks": (0, -1, 10**12, 2**70),
    "lenient": (1, "yes"),
    "loop": (0, "true"),
}


def _sometimes(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Absent (the field's default) half the time, else a value from `strategy`."""
    return st.one_of(st.none(), strategy)


@st.composite
def replays(draw, format_name: str) -> Replay:
    """Replay options for a trace whose true format is `format_name`: values the spec takes,
    and in one example in six one field past its bounds or of the wrong type; `--lenient`
    two times in three (a strict read of a damaged trace only ever exits 2)."""
    arrivals = {
        "lenient": draw(_sometimes(st.booleans()), label="lenient"),
        "loop": draw(_sometimes(st.booleans()), label="loop"),
        "speed": draw(_sometimes(st.sampled_from([0.5, 1.0, 2.0])), label="speed"),
        "rate_scale": draw(_sometimes(st.sampled_from([0.3, 1.0, 1.5, 3.0])),
                           label="rate_scale"),
        "window_s": draw(_sometimes(st.sampled_from(WINDOWS)), label="window_s"),
        "format": draw(_sometimes(st.sampled_from(["auto", format_name])), label="format"),
        "request_kind": draw(_sometimes(st.sampled_from(KINDS)), label="request_kind"),
        "prefix_blocks": draw(_sometimes(st.sampled_from([1, 3, 10**6])),
                              label="prefix_blocks"),
    }
    if draw(st.integers(0, 5), label="refused field") == 0:
        name = draw(st.sampled_from(sorted(REFUSED)), label="field")
        arrivals[name] = draw(st.sampled_from(REFUSED[name]), label="refused value")
    arrivals = {key: value for key, value in arrivals.items() if value is not None}
    duration_s = draw(st.sampled_from([1.0, 5.0, 10.0]), label="duration_s")
    cli_lenient = draw(st.sampled_from([True, True, False]), label="--lenient")
    service = draw(st.sampled_from(["full", "full", "bare"]), label="service")
    return Replay(arrivals, duration_s, cli_lenient, service)


def toml_value(value) -> str:
    """A Python value as a TOML value (strings, numbers including nan and inf, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


HEAD = """\
name = "trace_fuzz"
duration_s = {duration_s}
seed = 3

[workload]
arrivals = {{ {arrivals} }}

[instances]
count = 2
slots = 32
cores = 2

[metrics]
interval_s = 1
"""
# The service the trace is replayed against, besides the head: one with every stage (two
# kinds, cache keyed on the trace's users, a limited LLM provider, timeouts), and a bare one
# (no mix, so a trace's kinds become the kinds; no cache; an unlimited provider; no timeout).
SERVICES = {
    "full": f"""
[workload.mix.{KINDS[0]}]
service = {{ kind = "lognormal", mean_s = 0.004, cv = 1.0 }}
reads = ["user", "session", "conversation"]
writes = ["conversation", "response"]
db_queries = 1
llm = true

[workload.mix.{KINDS[1]}]
weight = 0.3
service = {{ kind = "exponential", mean_s = 0.002 }}
reads = ["conversation"]
db_queries = 2

[upstream]
ttft_base_s = 0.2
ttft_per_prompt_token_s = 0.0001
tpot_s = 0.01
max_streams = 64
tokens_per_minute = 5_000_000

[timeouts]
request_s = 20

[cache]
shards = 2
keys = {{ source = "workload" }}
""",
    "bare": """
[workload.service]
kind = "exponential"
mean_s = 0.003
""",
}


def write_spec(folder: Path, trace_name: str, replay: Replay) -> Path:
    """A spec replaying `folder/trace_name` with `replay`'s options; its path."""
    fields = {"kind": "trace", "path": trace_name, **replay.arrivals}
    arrivals = ", ".join(f"{key} = {toml_value(value)}" for key, value in fields.items())
    path = folder / "spec.toml"
    head = HEAD.format(duration_s=toml_value(replay.duration_s), arrivals=arrivals)
    path.write_text(head + SERVICES[replay.service])
    return path
