"""The [upstream] section: the LLM provider that chat requests call (latency and limits).

Latency of one call, from the moment it starts streaming: time to first token
ttft = ttft_base_s + ttft_per_prompt_token_s × prompt_tokens (prefill grows with the prompt),
then output_tokens × tpot_s (time per output token) until the last token. Limits are the
provider's: concurrent streams, requests per minute and tokens per minute; a call beyond them
waits in a FIFO queue or fails, as `on_limit` says.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from simscale.limits import MAX_QUEUE, MAX_RATE_RPS, MAX_TOKENS_PER_MINUTE, Cv, Seconds
from simscale.sections.base import Maybe, Section


class UpstreamSpec(Section):
    """The LLM provider; used only when a request kind of the mix has `llm = true`."""

    ttft_base_s: Seconds = Field(
        0.3, description="time to first token of an empty prompt, s")
    ttft_per_prompt_token_s: Seconds = Field(
        0.0002, description="added to the time to first token per prompt token, s")
    tpot_s: Seconds = Field(
        0.02, description="time per output token once streaming, s")
    jitter_cv: Cv = Field(
        0.0, description="multiply each call's latency by a mean-1 lognormal of this cv "
        "(0: deterministic)")
    max_streams: Annotated[Annotated[int, Field(gt=0, le=MAX_QUEUE)] | None, Maybe] = Field(
        None, description="concurrent streams the provider allows (none: unlimited)")
    requests_per_minute: Annotated[
        Annotated[float, Field(gt=0, le=60 * MAX_RATE_RPS)] | None, Maybe] = Field(
        None, description="calls allowed per minute (none: unlimited)")
    tokens_per_minute: Annotated[
        Annotated[float, Field(gt=0, le=MAX_TOKENS_PER_MINUTE)] | None, Maybe] = Field(
        None, description="prompt + output tokens allowed per minute (none: unlimited)")
    on_limit: Literal["queue", "fail"] = Field(
        "queue", description="a call beyond a limit waits in a FIFO queue, or fails at once "
        "(reason UpstreamRateLimited or UpstreamConcurrencyLimited)")
    queue_limit: Annotated[Annotated[int, Field(ge=0, le=MAX_QUEUE)] | None, Maybe] = Field(
        None, description="calls that may wait (on_limit = queue); beyond it a call fails with "
        "UpstreamQueueFull (none: unbounded)")
