"""Bytes on the wire: what each request moves across its instance's network interface.

A request's bytes are fixed by its kind and tokens (simscale.sections.network):

  in  = request bytes + the payloads of its cache reads + (LLM streamed) output × upstream B/token
  out = response bytes + the payloads of its cache writes
        + (llm kind) output × client B/token + (LLM called) prompt × prompt B/token

They cross the interface in the network stage, after the request's other stages and before
its response (simscale.model.stages), so only a request that reaches its response moves them,
and its bytes count in the metrics row where it ends. Without a bandwidth the stage only
counts. With `nic_bandwidth_bps` each instance's interface is two FIFO links, one each way
(full duplex): a request's bytes take bits / bandwidth on each, after what is already queued
there, and the request holds its slot until both are across. A link's busy time up to t is
what it was given minus what is still ahead of it (max(0, free_at − t)), so the bits it sent
in a window are exact: bandwidth × the busy time in the window.
"""

from __future__ import annotations

from simscale.model.events import EventPool
from simscale.model.seam import Cluster
from simscale.model.stages import Next
from simscale.outputs.columns import NETWORK
from simscale.sections.cache import CacheSpec
from simscale.sections.network import NetworkSpec
from simscale.workload.kinds import KindProfile


def kind_bytes(spec: NetworkSpec, cache: CacheSpec, profile: KindProfile) -> tuple[int, int]:
    """A kind's bytes in and out besides its tokens: request and response sizes, and the
    payloads of its cache reads (in) and writes (out) when the run has a cache."""
    bytes_in = spec.request_bytes_by_kind.get(profile.name, spec.request_bytes)
    bytes_out = spec.response_bytes_by_kind.get(profile.name, spec.response_bytes)
    if cache.enabled:
        sizes = cache.size_bytes_by_type
        bytes_in += sum(sizes.get(t, 0) for t in profile.reads)
        bytes_out += sum(sizes.get(t, 0) for t in profile.writes)
    return bytes_in, bytes_out


class _Link:
    """One direction of one instance's interface: the seconds of sending it was given, when
    it is free again, and the busy seconds at the last metrics row."""

    __slots__ = ("given_s", "free_at", "mark_s")

    def __init__(self) -> None:
        self.given_s = 0.0
        self.free_at = 0.0
        self.mark_s = 0.0

    def send(self, seconds: float, now: float) -> float:
        """Queue `seconds` of sending; when it is done."""
        start = self.free_at if self.free_at > now else now
        self.free_at = start + seconds
        self.given_s += seconds
        return self.free_at

    def busy_s(self, now: float) -> float:
        """Seconds spent sending over [0, now]."""
        ahead = self.free_at - now
        return self.given_s - ahead if ahead > 0.0 else self.given_s


class Network:
    """The network stage (Hooks.network) and its metrics columns."""

    columns = NETWORK

    def __init__(self, cluster: Cluster, spec: NetworkSpec, cache: CacheSpec,
                 profiles: list[KindProfile]) -> None:
        self.cluster = cluster
        self.spec = spec
        sizes = [kind_bytes(spec, cache, p) for p in profiles]
        self._in_fixed = [s[0] for s in sizes]
        self._out_fixed = [s[1] for s in sizes]
        self._llm = [p.llm for p in profiles]
        self.bandwidth_bps = spec.nic_bandwidth_bps
        self._links: list[tuple[_Link, _Link]] = []   # (in, out) by instance id
        self._win_in_bits = 0.0     # without a bandwidth: bits counted in this window
        self._win_out_bits = 0.0
        self.total_in_bytes = 0.0
        self.total_out_bytes = 0.0
        self._run_marks: dict[int, float] = {}
        self._events = EventPool(cluster.env)   # the ends of transfers: pooled, no closure
        self._sent_callbacks = [self._sent]

    def request_bytes(self, req) -> tuple[float, float]:
        """(bytes in, bytes out) of a request that reached its response."""
        profile = req.data
        code = profile.code if profile is not None else 0
        bytes_in = self._in_fixed[code]
        bytes_out = self._out_fixed[code]
        if self._llm[code]:
            info = req.info
            spec = self.spec
            bytes_out += info.output_tokens * spec.client_bytes_per_token
            if req.ttft_s >= 0.0:  # the provider streamed it (not the response cache)
                bytes_in += info.output_tokens * spec.upstream_bytes_per_token
                bytes_out += info.prompt_tokens * spec.prompt_bytes_per_token
        return bytes_in, bytes_out

    def send(self, instance, req, now: float, then: Next) -> None:
        """The network stage: count the request's bytes; with a bandwidth, hold the slot
        until both links have sent them."""
        bytes_in, bytes_out = self.request_bytes(req)
        self.total_in_bytes += bytes_in
        self.total_out_bytes += bytes_out
        bps = self.bandwidth_bps
        if bps is None:
            self._win_in_bits += 8.0 * bytes_in
            self._win_out_bits += 8.0 * bytes_out
            then(instance, req, now)
            return
        link_in, link_out = self._link(instance.instance_id)
        done = max(link_in.send(8.0 * bytes_in / bps, now),
                   link_out.send(8.0 * bytes_out / bps, now))
        if done > now:
            self.cluster.begin_wait(instance, req)
            self._events.at(done, (instance, req, then), self._sent_callbacks)
        else:
            then(instance, req, now)

    def _sent(self, ev) -> None:
        """A request's bytes are across: it goes on (unless it ended or its instance died)."""
        instance, req, then = ev._value
        self._events.free.append(ev)
        now = self.cluster.now
        if self.cluster.end_wait(instance, req, now):
            then(instance, req, now)

    def _link(self, instance_id: int) -> tuple[_Link, _Link]:
        links = self._links
        while len(links) <= instance_id:
            links.append((_Link(), _Link()))
        return links[instance_id]

    def metric_values(self, row, now: float, span: float) -> tuple:
        """network_in_bps, network_out_bps and network_util_frac over the window."""
        if self.bandwidth_bps is None:
            in_bits, out_bits = self._win_in_bits, self._win_out_bits
            self._win_in_bits = self._win_out_bits = 0.0
            return in_bits / span, out_bits / span, None
        busy_in = busy_out = 0.0
        for link_in, link_out in self._links:
            for link in (link_in, link_out):
                busy = link.busy_s(now)
                if link is link_in:
                    busy_in += busy - link.mark_s
                else:
                    busy_out += busy - link.mark_s
                link.mark_s = busy
        bps = self.bandwidth_bps
        run_s = self._running_s(now)
        util = max(busy_in, busy_out) / run_s if run_s > 0.0 else 0.0
        return busy_in * bps / span, busy_out * bps / span, min(1.0, util)

    def _running_s(self, now: float) -> float:
        """Instance-seconds of running (booting, ready, draining) since the last row."""
        total = 0.0
        marks = self._run_marks
        for inst in self.cluster.instances:
            ran = inst.running_s(now)
            total += ran - marks.get(inst.instance_id, 0.0)
            marks[inst.instance_id] = ran
        return total

    def summary(self, out: dict) -> None:
        """Bytes in and out over the run."""
        out["network_in_bytes"] = self.total_in_bytes
        out["network_out_bytes"] = self.total_out_bytes
