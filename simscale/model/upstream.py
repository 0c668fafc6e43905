"""The LLM upstream: a provider that streams tokens back, within its own limits.

A call (stage contract: `call(instance, req, now, then)`, see simscale.model.stages) holds
the request's slot on its instance (Cluster.begin_wait / end_wait) from the moment it is made
until the last token, queued or streaming. Once it starts:

  time to first token  ttft = ttft_base_s + ttft_per_prompt_token_s × prompt_tokens
  then the stream      output_tokens × tpot_s

the usual first-order model of LLM serving latency: prefill grows with the prompt, decoding
emits one token per time-per-output-token (e.g. the TTFT and TPOT metrics of vLLM's and
NVIDIA's serving benchmarks). With jitter_cv > 0 both are multiplied by one mean-1 lognormal
factor per call (stream "upstream.jitter"). `req.ttft_s` is the time from the request's
arrival to the first token, so it includes queueing on the instance, CPU work, data stages and
waiting for the provider.

Events. A call is one pooled event, at its last token, when the run has no retry policy: then
nothing can see the moment of the first token but the request's end (a timeout, the run's
end, a crash or drain deadline, all through Model.finish), so `req.ttft_s` is set when the
call starts and Model.finish takes it back when the request ends before its first token.
With a retry policy an attempt may be abandoned and the request sent again, so the first
token is an event of its own, setting `req.ttft_s` only if the attempt still waits on it.

Limits. At most `max_streams` calls stream at once. Requests and tokens per minute are token
buckets holding one minute's allowance, refilled continuously at limit/60 per second; a call
takes one request and prompt_tokens + output_tokens tokens when it starts (providers count
the requested output tokens when a request is admitted). A call that finds a limit reached
fails at once with reason UpstreamConcurrencyLimited or UpstreamRateLimited (on_limit =
"fail": Cluster.attempt_failed, so the retry policy may send it elsewhere), or waits in one FIFO
queue (on_limit = "queue"; no call overtakes the head) until the limit allows it; a call larger
than the whole tokens-per-minute allowance fails even then, and a full queue (queue_limit)
fails with UpstreamQueueFull. A queued call whose request has ended (timeout) or whose
instance crashed is dropped when it reaches the head, without using the provider.
"""

from __future__ import annotations

import math
from collections import deque

from simscale.model.request import PENDING
from simscale.model.seam import Cluster, Hooks
from simscale.outputs.columns import UPSTREAM
from simscale.sections.upstream import UpstreamSpec
from simscale.streams import stream

INF = float("inf")
RATE_LIMITED = "UpstreamRateLimited"
CONCURRENCY_LIMITED = "UpstreamConcurrencyLimited"
QUEUE_FULL = "UpstreamQueueFull"
_EPS = 1e-9


class TokenBucket:
    """`per_minute` units a minute: holds at most one minute's worth, refilled continuously."""

    __slots__ = ("capacity", "rate_per_s", "level", "at_s")

    def __init__(self, per_minute: float) -> None:
        self.capacity = per_minute
        self.rate_per_s = per_minute / 60.0
        self.level = per_minute
        self.at_s = 0.0

    def _refill(self, now: float) -> None:
        if now > self.at_s:
            self.level = min(self.capacity, self.level + (now - self.at_s) * self.rate_per_s)
            self.at_s = now

    def allows(self, amount: float, now: float) -> bool:
        self._refill(now)
        return self.level >= amount - _EPS * self.capacity

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def wait_s(self, amount: float, now: float) -> float:
        """Seconds until `amount` units are available (0: now)."""
        self._refill(now)
        return max(0.0, (amount - self.level) / self.rate_per_s)


class Upstream:
    """The LLM provider of one run: the LLM stage (simscale.model.stages.LlmStage)."""

    columns = UPSTREAM

    def __init__(self, cluster: Cluster, spec: UpstreamSpec, seed: int, hooks: Hooks) -> None:
        self.cluster = cluster
        self.hooks = hooks            # its retry slot decides how a call is timed (docstring)
        self.env = cluster.env
        self._timers = cluster.timers
        self._first_callbacks = [self._first_token]
        self._last_callbacks = [self._last_token]
        self.spec = spec
        self.max_streams = spec.max_streams if spec.max_streams is not None else INF
        self.requests = (TokenBucket(spec.requests_per_minute)
                         if spec.requests_per_minute is not None else None)
        self.tokens = (TokenBucket(spec.tokens_per_minute)
                       if spec.tokens_per_minute is not None else None)
        self.fail_on_limit = spec.on_limit == "fail"
        # no limit at all: every call starts at once (call()'s fast path)
        self._unlimited = (self.max_streams == INF and self.requests is None
                           and self.tokens is None)
        self.queue: deque = deque()   # (instance, req, then, enqueued_s)
        self.active = 0               # calls streaming (or before their first token)
        self._wake_at = INF
        self._wake_token = 0
        self._jitter = None
        if spec.jitter_cv > 0:
            sigma2 = math.log1p(spec.jitter_cv**2)
            self._jitter = (stream(seed, "upstream.jitter"), -sigma2 / 2,
                            math.sqrt(sigma2))
        # totals for summary.json
        self.calls = 0
        self.limited = 0
        self.queued_calls = 0
        self.dequeued_calls = 0
        self.queue_wait_s = 0.0

    # ------------------------------------------------------------ latency

    def latency_s(self, prompt_tokens: int, output_tokens: int) -> tuple[float, float]:
        """(time to first token, time from first to last token) of one call, s."""
        spec = self.spec
        ttft = spec.ttft_base_s + spec.ttft_per_prompt_token_s * prompt_tokens
        streaming = spec.tpot_s * output_tokens
        if self._jitter is not None:
            rng, mu, sigma = self._jitter
            factor = float(rng.lognormal(mu, sigma))
            ttft *= factor
            streaming *= factor
        return ttft, streaming

    # ------------------------------------------------------------ calls

    def call(self, instance, req, now: float, then) -> None:
        """Call the provider for `req`; then(instance, req, now) after its last token."""
        if self._unlimited:  # nothing to check, nothing queued
            self._start(instance, req, now, then)
            return
        if self.queue and not self.fail_on_limit:
            self._enqueue(instance, req, then, now)  # first come, first served
            return
        reason = self._blocked(req, now)
        if reason is None:
            self._start(instance, req, now, then)
        elif self.fail_on_limit:
            self._fail(instance, req, now, reason)
        else:
            self._enqueue(instance, req, then, now)

    def _need_tokens(self, req) -> int:
        info = req.info
        return info.prompt_tokens + info.output_tokens

    def _blocked(self, req, now: float) -> str | None:
        if self.active >= self.max_streams:
            return CONCURRENCY_LIMITED
        if self.requests is not None and not self.requests.allows(1, now):
            return RATE_LIMITED
        if self.tokens is not None and not self.tokens.allows(self._need_tokens(req), now):
            return RATE_LIMITED
        return None

    def _fail(self, instance, req, now: float, reason: str) -> None:
        self.limited += 1
        self.cluster.attempt_failed(instance, req, now, reason)

    def _enqueue(self, instance, req, then, now: float) -> None:
        if self.tokens is not None and self._need_tokens(req) > self.tokens.capacity:
            self._fail(instance, req, now, RATE_LIMITED)  # would never fit
            return
        limit = self.spec.queue_limit
        if limit is not None and len(self.queue) >= limit:
            self._fail(instance, req, now, QUEUE_FULL)
            return
        self.cluster.begin_wait(instance, req)
        self.queue.append((instance, req, then, now))
        self.queued_calls += 1
        if len(self.queue) == 1:
            self._drain(now)

    def _start(self, instance, req, now: float, then) -> None:
        self.active += 1
        self.calls += 1
        if self.requests is not None:
            self.requests.take(1, now)
        if self.tokens is not None:
            self.tokens.take(self._need_tokens(req), now)
        ttft, streaming = self.latency_s(req.info.prompt_tokens, req.info.output_tokens)
        self.cluster.begin_wait(instance, req)
        self._stream(instance, req, ttft, streaming, then)

    def _stream(self, instance, req, ttft_s: float, streaming_s: float, then) -> None:
        """Time the call: its first token in ttft_s, its last streaming_s after it."""
        first_s = self.env._now + ttft_s
        if self.hooks.retry is None:  # one event, the first token set ahead (docstring)
            req.ttft_s = first_s - req.info.arrival_s
            self._timers.at_later(first_s + streaming_s, (instance, req, streaming_s, then),
                            self._last_callbacks)
        else:
            self._timers.at_later(first_s, (instance, req, streaming_s, then),
                                  self._first_callbacks)

    def _first_token(self, ev) -> None:
        call = ev._value  # (instance, req, streaming_s, then), passed on to the last token
        instance, req, streaming_s, _then = call
        timers = self._timers
        timers.free.append(ev)
        now = self.env._now
        if req.status == PENDING and req.instance is instance and req in instance.waiting:
            req.ttft_s = now - req.info.arrival_s
        timers.at_later(now + streaming_s, call, self._last_callbacks)

    def _last_token(self, ev) -> None:
        instance, req, _streaming_s, then = ev._value
        ev._value = None
        self._timers.free.append(ev)
        now = self.env._now
        self.active -= 1
        if self.cluster.end_wait(instance, req, now):
            then(instance, req, now)
        if self.queue:
            self._drain(now)

    # ------------------------------------------------------------ the queue

    def _drain(self, now: float) -> None:
        """Start queued calls, head first, while the limits allow."""
        queue = self.queue
        cluster = self.cluster
        while queue:
            instance, req, then, since = queue[0]
            if req.status != PENDING or req.instance is not instance or req not in instance.waiting:
                queue.popleft()
                cluster.end_wait(instance, req, now)  # frees the slot of an ended request
                continue
            reason = self._blocked(req, now)
            if reason is None:
                queue.popleft()
                cluster.end_wait(instance, req, now)
                self.queue_wait_s += now - since
                self.dequeued_calls += 1
                self._start(instance, req, now, then)
                continue
            if reason == RATE_LIMITED:
                self._wake_after(self._rate_wait_s(req, now), now)
            return  # a stream's end drains again

    def _rate_wait_s(self, req, now: float) -> float:
        wait = 0.0
        if self.requests is not None:
            wait = self.requests.wait_s(1, now)
        if self.tokens is not None:
            wait = max(wait, self.tokens.wait_s(self._need_tokens(req), now))
        return wait

    def _wake_after(self, wait_s: float, now: float) -> None:
        at = now + wait_s
        if at >= self._wake_at:
            return  # an earlier wake-up is pending
        self._wake_at = at
        self._wake_token += 1
        ev = self.env.timeout(wait_s, self._wake_token)
        ev.callbacks.append(self._on_wake)

    def _on_wake(self, ev) -> None:
        if ev._value != self._wake_token:
            return  # superseded
        self._wake_at = INF
        self._drain(self.env._now)

    # ------------------------------------------------------------ outputs

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """upstream_streams, upstream_queued (simscale.outputs.columns.UPSTREAM)."""
        return self.active, len(self.queue)

    def summary(self, summary: dict) -> None:
        summary["upstream_calls"] = self.calls
        summary["upstream_limited"] = self.limited
        summary["upstream_queued_calls"] = self.queued_calls
        summary["upstream_queue_wait_mean_s"] = (self.queue_wait_s / self.dequeued_calls
                                                 if self.dequeued_calls else 0.0)
