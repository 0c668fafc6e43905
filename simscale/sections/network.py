"""The [network] section: bytes on the wire per request, and each instance's NIC bandwidth.

Off unless a [network] table is given. A request's bytes in (to the instance) are its request
size, the cache and database payloads it reads (`cache.size_bytes_by_type` of its `reads`)
and, for an LLM call, the streamed answer as the provider sends it; its bytes out are its
response (for an `llm` kind the streamed tokens besides), what it writes to the cache and the
prompt sent to the provider. simscale.model.network counts them and, with a bandwidth, makes
them cost time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from simscale.limits import (
    MAX_BANDWIDTH_BPS,
    MAX_BYTES_PER_TOKEN,
    MAX_KINDS,
    MAX_MESSAGE_BYTES,
)
from simscale.sections.base import Maybe, OptInSection

Bytes = Annotated[int, Field(ge=0, le=MAX_MESSAGE_BYTES)]
PerToken = Annotated[float, Field(ge=0, le=MAX_BYTES_PER_TOKEN)]


class NetworkSpec(OptInSection):
    """Bytes per request and the instances' network interfaces; off unless configured."""

    enabled: bool = Field(False, description="on when a [network] table is given, unless false")
    request_bytes: Bytes = Field(
        1024, description="size of a request as the instance receives it (headers and body), "
                          "bytes")
    response_bytes: Bytes = Field(
        2048, description="size of a response besides streamed tokens (headers and body), "
                          "bytes")
    request_bytes_by_kind: dict[str, Bytes] = Field(
        default_factory=dict, max_length=MAX_KINDS,
        description="request_bytes of a kind instead (kinds of workload.mix)")
    response_bytes_by_kind: dict[str, Bytes] = Field(
        default_factory=dict, max_length=MAX_KINDS,
        description="response_bytes of a kind instead (kinds of workload.mix)")
    client_bytes_per_token: PerToken = Field(
        100.0, description="bytes each output token of an llm kind adds to its response (one "
                           "server-sent event per token)")
    upstream_bytes_per_token: PerToken = Field(
        200.0, description="bytes each output token weighs as the LLM provider streams it in")
    prompt_bytes_per_token: PerToken = Field(
        4.0, description="bytes each prompt token weighs in the request to the LLM provider")
    nic_bandwidth_bps: Annotated[Annotated[float, Field(gt=0, le=MAX_BANDWIDTH_BPS)] | None,
                                 Maybe] = Field(
        None, description="bandwidth of an instance's network interface each way (full "
                          'duplex), bit/s: transfers queue for it ("none": no limit)')

    @property
    def bandwidth_bps(self) -> float | None:
        """The interfaces' bandwidth when the network is modelled (None: no limit, or off)."""
        return self.nic_bandwidth_bps if self.enabled else None


def check_kind_table(table: dict, field: str, known: set[str] | None) -> None:
    """A table by request kind must name kinds the workload has (known None: not known before
    the run, as with a trace's own kind column). Raises ValueError naming the field."""
    if known is None:
        return
    unknown = [k for k in table if k not in known]
    if unknown:
        raise ValueError(f"{field}.{unknown[0]}: no request kind {unknown[0]!r} in the "
                         f"workload (kinds: {', '.join(sorted(known))})")
