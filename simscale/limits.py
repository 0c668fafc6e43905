"""The bounds of every number a spec may hold, each with its reason: the one place they live.

Every numeric spec field is finite (the sections forbid inf and nan) and carries a maximum
from here, through the annotated types below or a `Field(le=...)` naming a constant. The
bounds come from what one machine simulates (figures measured with `simscale run` on a
2-core machine; docs/performance.md has the per-request rates), and a spec that passes
every field's bound can still be too big as a whole: `simscale.sections.budget` estimates the
simulated events of a run and refuses one above MAX_EVENTS_PER_RUN.

`LIMITS` lists them for the README's Limits table (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class Limit:
    """One bound: its name (the constant's), value, unit and why it is what it is."""

    name: str
    value: float
    unit: str
    reason: str


LIMITS: list[Limit] = []


def _limit(name: str, value, unit: str, reason: str):
    LIMITS.append(Limit(name, value, unit, reason))
    return value


DAY_S = 86_400.0

# ---------------------------------------------------------------- files

MAX_SPEC_BYTES = _limit(
    "MAX_SPEC_BYTES", 1 << 20, "bytes",
    "a spec (or sweep, claims, dashboard) file is a page of settings, the largest shipped "
    "one under 5 KB; data belongs in trace files")
MAX_SPEC_DEPTH = _limit(
    "MAX_SPEC_DEPTH", 32, "levels",
    "tables and lists nested in a spec or a --set value (shipped specs nest 6 deep)")

# ---------------------------------------------------------------- time

MAX_DURATION_S = _limit(
    "MAX_DURATION_S", 30 * DAY_S, "s",
    "a month of simulated time covers diurnal and weekly cycles; longer runs belong in "
    "several runs")
MAX_TIME_S = _limit(
    "MAX_TIME_S", 365 * DAY_S, "s",
    "any other time or duration (a fault's at_s, a TTL, a timeout, a boot delay): a year is "
    "past the end of any run")
MAX_UNIX_TIME_S = _limit(
    "MAX_UNIX_TIME_S", 4_102_444_800.0, "s",
    "a wall-clock time (a recorded fleet's start_s, end_s) since the Unix epoch: 2100-01-01")
MIN_PERIOD_S = _limit(
    "MIN_PERIOD_S", 0.001, "s",
    "the shortest period of a control loop (health checks, scrapes, slow-start updates, "
    "autoscaler sync, metrics rows): each round is work per instance")
MAX_METRICS_ROWS = _limit(
    "MAX_METRICS_ROWS", 500_000, "rows",
    "duration_s / metrics.interval_s: each row is kept in memory until the run ends "
    "(about 1 KB; 20,000 rows add 21 MB)")

# ---------------------------------------------------------------- load

MAX_RATE_RPS = _limit(
    "MAX_RATE_RPS", 1e6, "1/s",
    "any rate (arrivals, retries, switches of a bursty process): a million a second is five "
    "to ten times what the model simulates per second of wall time")
MAX_EVENTS_PER_RUN = _limit(
    "MAX_EVENTS_PER_RUN", 1e9, "events",
    "the whole-spec estimate (arrivals × attempts, plus control-loop work per instance): "
    "about three hours at the quickstart's 100,000 requests per second")
MAX_USERS = _limit(
    "MAX_USERS", 100_000, "users",
    "closed-loop users: each keeps its current session (drawn in blocks of 1,024 users); "
    "100,000 users joining within a minute peak at about 350 MB")
MAX_TURNS_MEAN = _limit(
    "MAX_TURNS_MEAN", 1e6, "turns", "mean turns of a closed-loop session")
MAX_STAIRS_STEPS = _limit(
    "MAX_STAIRS_STEPS", 10_000, "steps", "steps of a stress staircase (statistics per step)")
MAX_SCHEDULE_POINTS = _limit(
    "MAX_SCHEDULE_POINTS", 100_000, "points", "points of a rate schedule")
MAX_TRACE_SPEED = _limit(
    "MAX_TRACE_SPEED", 1e6, "×",
    "trace replay speed-up: an hour of trace in 3.6 ms of simulated time")
MAX_RATE_SCALE = _limit(
    "MAX_RATE_SCALE", 1000, "×", "copies of a trace superposed by rate_scale")
MAX_KINDS = _limit(
    "MAX_KINDS", 1000, "kinds", "request kinds in workload.mix (kinds are coded in int16)")
MAX_TOKENS = _limit(
    "MAX_TOKENS", 10_000_000, "tokens",
    "tokens of one request: the largest LLM context windows hold 1 to 10 million; far "
    "inside the int32 columns of requests.parquet (larger drawn counts are clipped to it)")
MAX_CV = _limit(
    "MAX_CV", 100, "",
    "coefficient of variation of a distribution or of arrivals: beyond it a sample is one "
    "huge value among zeros")
MIN_GAMMA_CV = _limit(
    "MIN_GAMMA_CV", 0.001, "",
    "a gamma's shape is 1/cv²; use a deterministic distribution for less variation")
MAX_WEIGHT = _limit(
    "MAX_WEIGHT", 1e9, "", "a kind's relative weight in the mix")
MAX_SCALE = _limit(
    "MAX_SCALE", 1e6, "×", "the factor an empirical distribution multiplies its values by")

# ---------------------------------------------------------------- fleet

MAX_INSTANCES = _limit(
    "MAX_INSTANCES", 10_000, "instances",
    "instances.count, autoscaling replicas: 10,000 start in under a second and 160 MB "
    "(100,000: 3.5 s and 510 MB, and every metrics row, scrape and probe visits each)")
MAX_SLOTS = _limit(
    "MAX_SLOTS", 100_000, "slots", "requests one instance serves at once")
MAX_CORES = _limit(
    "MAX_CORES", 1024, "cores", "CPU cores of one instance")
MAX_QUEUE = _limit(
    "MAX_QUEUE", 10_000_000, "requests",
    "a queue bound (an instance's, the LLM upstream's); \"none\" is unbounded")
MAX_MEMORY_MB = _limit(
    "MAX_MEMORY_MB", 16_777_216, "MB", "memory of one instance: 16 TB")
MAX_BYTES_PER_TOKEN = _limit(
    "MAX_BYTES_PER_TOKEN", 1 << 20, "bytes",
    "bytes one token weighs (in memory or on the wire): a self-hosted model's KV cache holds "
    "up to about 1 MB a token; text and its JSON framing weigh a few hundred bytes")
MAX_MESSAGE_BYTES = _limit(
    "MAX_MESSAGE_BYTES", 1 << 30, "bytes", "a request's or response's size on the wire")
MAX_BANDWIDTH_BPS = _limit(
    "MAX_BANDWIDTH_BPS", 1e12, "bit/s",
    "an instance's network interface: 1 Tbit/s is beyond the fastest NICs sold (800 GbE)")
MAX_RESTART_BACKOFF_S = _limit(
    "MAX_RESTART_BACKOFF_S", DAY_S, "s",
    "a restart back-off and its cap (Kubernetes caps CrashLoopBackOff at 300 s)")
MAX_PRICE_USD = _limit(
    "MAX_PRICE_USD", 10_000, "USD/h", "price of one instance-hour")
MAX_ROW_GROUP_ROWS = _limit(
    "MAX_ROW_GROUP_ROWS", 10_000_000, "rows",
    "rows buffered per Parquet row group before they are written")
MAX_SEED = _limit(
    "MAX_SEED", 2**63 - 1, "", "seeds are stored as int64 in outputs")
MAX_COUNT = _limit(
    "MAX_COUNT", 1_000_000, "",
    "a count in a policy setting (thresholds, probes, database connections, queries): a "
    "million is beyond any production setting")
MAX_ATTEMPTS = _limit(
    "MAX_ATTEMPTS", 100, "attempts",
    "attempts per request, retries included: every attempt is simulated work")
MAX_WINDOW_BUCKETS = _limit(
    "MAX_WINDOW_BUCKETS", 1000, "buckets",
    "buckets of a sliding window: allocated per instance, and walked as time advances")
MAX_FACTOR = _limit(
    "MAX_FACTOR", 1e6, "×", "a multiplier (a slow fault's factor, slow start's aggression)")
MAX_FAULTS = _limit(
    "MAX_FAULTS", 10_000, "faults", "faults in one list (resilience.faults, cache.faults)")
MAX_LIST = _limit(
    "MAX_LIST", 1000, "entries",
    "other lists and tables of a spec: zones, rate limiters, alert rules, a kind's reads and "
    "writes, a session's opening")
MAX_NAME_CHARS = _limit(
    "MAX_NAME_CHARS", 200, "characters", "an experiment name, used as a folder name")
MAX_THRESHOLD = _limit(
    "MAX_THRESHOLD", 1e15, "", "an alert threshold's magnitude (metrics are far smaller)")
MAX_POLICY_NUMBER = _limit(
    "MAX_POLICY_NUMBER", 1e9, "",
    "any number in a policy's params (balancer, autoscaler, limiter, eviction) that has no "
    "bound of its own here")

# ---------------------------------------------------------------- cache, database, LLM

MAX_SHARDS = _limit(
    "MAX_SHARDS", 1000, "shards", "cache shards, at t = 0 and after joins")
MAX_VNODES = _limit(
    "MAX_VNODES", 1000, "points", "virtual nodes per shard or instance on a hash ring")
MAX_RING_POINTS = _limit(
    "MAX_RING_POINTS", 500_000, "points",
    "shards (or instances) × vnodes on one ring (a cache's, or consistent_hash's): built in "
    "about a second")
MAX_CACHE_ITEMS = _limit(
    "MAX_CACHE_ITEMS", 10_000_000, "items",
    "items all cache shards can hold together (capacity_items × shards; for wtinylfu also "
    "its sketch, sized by expected_items or the capacity): a full store takes 90 (lru) to "
    "290 (wtinylfu) bytes an item besides its key")
MAX_CACHE_BYTES = _limit(
    "MAX_CACHE_BYTES", 1 << 40, "bytes", "capacity_bytes of one shard: 1 TiB")
MAX_ITEM_BYTES = _limit(
    "MAX_ITEM_BYTES", 1 << 30, "bytes", "size of one cached item")
MAX_KEY_USERS = _limit(
    "MAX_KEY_USERS", 10_000_000, "users",
    "cache.keys.users: the Zipf table holds 8 bytes a user (a run with 10^7 users peaks at "
    "255 MB)")
MAX_SESSIONS_PER_USER = _limit(
    "MAX_SESSIONS_PER_USER", 10_000, "sessions", "cache.keys.sessions_per_user")
MAX_PROMPTS = _limit(
    "MAX_PROMPTS", 1_000_000, "prompts",
    "common prompts of the LLM response cache (a Python list of their Zipf table)")
MAX_ZIPF_S = _limit(
    "MAX_ZIPF_S", 10, "",
    "a Zipf exponent: at 10 the first rank already takes 99.9% of the draws")
MAX_WARM_KEYS = _limit(
    "MAX_WARM_KEYS", 1_000_000, "keys", "cache.warming.top_k")
MAX_TOKENS_PER_MINUTE = _limit(
    "MAX_TOKENS_PER_MINUTE", 1e12, "tokens/min", "the LLM provider's token rate limit")
MAX_CONTEXT_SESSIONS = _limit(
    "MAX_CONTEXT_SESSIONS", 10_000_000, "sessions",
    "context_cache.capacity_sessions, per instance: an entry takes about 100 bytes, and only "
    "sessions a run sends exist")
MAX_CPU_PER_TOKEN_S = _limit(
    "MAX_CPU_PER_TOKEN_S", 0.01, "s",
    "CPU seconds per prompt token (context_cache.miss_cpu_per_prompt_token_s): a hundred "
    "times any tokenizer's cost")

# ---------------------------------------------------------------- annotated field types

Seconds = Annotated[float, Field(ge=0, le=MAX_TIME_S)]
UnixTime = Annotated[float, Field(ge=0, le=MAX_UNIX_TIME_S)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_TIME_S)]
Period = Annotated[float, Field(ge=MIN_PERIOD_S, le=MAX_TIME_S)]
Rate = Annotated[float, Field(ge=0, le=MAX_RATE_RPS)]
PositiveRate = Annotated[float, Field(gt=0, le=MAX_RATE_RPS)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Percent = Annotated[float, Field(ge=0, le=100)]
Cv = Annotated[float, Field(ge=0, le=MAX_CV)]
Factor = Annotated[float, Field(ge=1, le=MAX_FACTOR)]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT)]
Tokens = Annotated[float, Field(gt=0, le=MAX_TOKENS)]
