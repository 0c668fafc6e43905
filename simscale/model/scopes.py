"""Response time by scope: API responses by their latency, streamed answers by first token.

A service owner reads "response time" as the time until a response starts. For a request
that streams an LLM answer that is its time to first token (the stream itself lasts
seconds); for every other ok response (history, profile, health, and LLM requests answered
from the response cache) it is the end-to-end latency. Each metrics row gets both p95s:

  api_latency_p95_s   p95 latency of the ok responses in the window that streamed no answer
  ttft_p95_s          p95 time to first token of the ok responses that streamed one (only
                      when some request kind calls the LLM)

and summary.json gets api_latency_p50_s / _p95_s / _p99_s over the whole run (ttft_p*_s
come from the request log). Without LLM kinds every ok response is an API response, so the
API columns equal the latency columns and nothing extra is kept per request.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simscale.outputs.digest import Digest, lerp, linear_position

QUANTILES = (0.5, 0.95, 0.99)


def linear_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """The qs-quantiles of a non-empty array, as np.quantile's default (linear) method gives
    them, bit for bit, from one np.partition: on the few hundred values of a metrics window
    it is about ten times faster than np.quantile, whose fixed cost dominates there."""
    positions = [linear_position(values.size, q) for q in qs]
    part = np.partition(values, sorted({r for lo, hi, _ in positions for r in (lo, hi)}))
    return [lerp(float(part[lo]), float(part[hi]), t) for lo, hi, t in positions]


def p95(values: np.ndarray) -> float | None:
    """The 0.95 quantile (numpy's linear interpolation); None when there are no values."""
    return linear_quantiles(values, (0.95,))[0] if values.size else None


class ResponseScopes:
    """Splits each window's ok responses into API and streamed ones and keeps the API
    latencies of the whole run in a digest (only when the workload streams)."""

    def __init__(self, streamed: bool, spill_dir: Path | None = None) -> None:
        self.streamed = streamed
        self.api_latency = Digest(spill_dir=spill_dir) if streamed else None

    def columns(self, latencies_s: np.ndarray, ttfts_s: list[float],
                latency_p95_s: float | None) -> dict:
        """The window's scoped columns. latencies_s: the ok responses' latencies; ttfts_s:
        their times to first token in the same order (-1: none), only when streamed."""
        if not self.streamed:
            return {"api_latency_p95_s": latency_p95_s}
        ttft = np.asarray(ttfts_s, dtype=np.float64)
        first = ttft >= 0.0
        api = latencies_s[~first]
        self.api_latency.add(api)
        return {"api_latency_p95_s": p95(api), "ttft_p95_s": p95(ttft[first])}

    def summary(self, ok_latency: Digest) -> dict:
        """api_latency_p50_s, _p95_s, _p99_s over the run (None when no API response)."""
        digest = self.api_latency if self.streamed else ok_latency
        values = digest.quantiles(list(QUANTILES)) or [None] * len(QUANTILES)
        return {f"api_latency_p{round(q * 100)}_s": v for q, v in zip(QUANTILES, values)}
