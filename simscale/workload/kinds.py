"""Request kinds: what each costs besides CPU, and drawing kinds and costs per request.

A workload with no mix has one kind (`workload.kind`) costing `workload.service`; a mix
names several, with weights. A trace with a kind column adds its kinds when there is no mix.
The kinds only the API sources send (simscale.sections.workload_sources) come last, with
weight 0: arrivals never draw them.
Every quantity draws from its own named stream (simscale.streams), in arrival order, so a
sample path does not depend on the policies of the run (common random numbers):

  "service"                           CPU work when there is no mix
  "workload.kinds"                    the kind of each arrival (a mix of several kinds)
  "workload.service.<kind>"           CPU work of each kind (a mix)
  "workload.tokens.<kind>.prompt"     prompt tokens of each kind (unless a trace gives them)
  "workload.tokens.<kind>.output"     output tokens of each kind (unless a trace gives them)

A request carries its kind's `KindProfile` to the model's stages (simscale.model.stages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simscale.sections.workload import KindSpec, WorkloadSpec
from simscale.streams import stream
from simscale.workload.samplers import sample_tokens

StreamTable = Callable[[int, str], np.random.Generator]
"""rngs(code, what): the generator of one kind (by code) and quantity ("service",
"prompt", "output")."""


@dataclass(frozen=True)
class KindProfile:
    """A request kind and what it costs besides CPU.

    name: the kind ("chat_message", ...); code: its index; reads / writes: the data types it
    reads through the cache and writes, drawn from ("user", "session", "conversation",
    "response"); db_queries: database queries a cache miss costs; llm: whether it calls the
    LLM upstream after its data stages.
    """

    name: str
    code: int
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    db_queries: int = 0
    llm: bool = False

    @property
    def touches_data(self) -> bool:
        return bool(self.reads or self.writes or self.db_queries)


class _KindCosts:
    """How one kind's per-request values are drawn."""

    def __init__(self, spec: KindSpec, default_service) -> None:
        self.service = spec.service if spec.service is not None else default_service
        self.prompt = spec.prompt_tokens
        self.output = spec.output_tokens


class Kinds:
    """The kinds of one workload, by code, and the per-request draws of kinds and costs."""

    def __init__(self, spec: WorkloadSpec, seed: int, trace_kinds: list[str]) -> None:
        self.seed = seed
        self._no_mix = not spec.mix
        kinds = dict(spec.mix) or {spec.kind: KindSpec()}
        if trace_kinds and not spec.mix:
            kinds.update({k: KindSpec() for k in trace_kinds if k not in kinds})
        drawn = len(kinds)  # the kinds arrivals draw; those after them only sources send
        kinds.update(spec.source_only_kinds())
        self.profiles = [
            KindProfile(name, code, tuple(k.reads), tuple(k.writes), k.db_queries, k.llm)
            for code, (name, k) in enumerate(kinds.items())
        ]
        self.codes = {p.name: p.code for p in self.profiles}
        self._costs = [_KindCosts(k, spec.service) for k in kinds.values()]
        weights = np.array([k.weight if code < drawn else 0.0
                            for code, k in enumerate(kinds.values())], dtype=np.float64)
        self._drawn = drawn
        self.weights = weights / weights.sum()
        self._cum = np.cumsum(self.weights)
        self._cum[-1] = 1.0
        self.has_tokens = any(c.prompt is not None or c.output is not None for c in self._costs)

    def draw_kinds(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` kind codes (int16) drawn by weight (all 0 when there is one kind): code k when
        a uniform u falls in [cum_{k-1}, cum_k), counted as Σ_j [u >= cum_j] (inversion)."""
        codes = np.zeros(n, dtype=np.int16)
        if self._drawn > 1:
            u = rng.random(n)
            for edge in self._cum[: self._drawn - 1]:
                codes += u >= edge
        return codes

    def draw_costs(self, codes: np.ndarray, rngs: StreamTable,
                   prompt: np.ndarray | None = None, output: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(work_s, prompt_tokens, output_tokens) for requests of kinds `codes`.

        rngs(code, what) gives the generator for one kind and quantity; token columns given
        (from a trace) are kept as they are.
        """
        n = len(codes)
        work = np.empty(n)
        need_prompt = prompt is None
        need_output = output is None
        if need_prompt:
            prompt = np.zeros(n, dtype=np.int64)
        if need_output:
            output = np.zeros(n, dtype=np.int64)
        single = len(self.profiles) == 1
        for code, costs in enumerate(self._costs):
            mask = slice(None) if single else np.flatnonzero(codes == code)
            count = n if single else len(mask)
            if not count:
                continue
            work[mask] = costs.service.sample(rngs(code, "service"), count)
            if need_prompt and costs.prompt is not None:
                prompt[mask] = sample_tokens(costs.prompt, rngs(code, "prompt"), count)
            if need_output and costs.output is not None:
                output[mask] = sample_tokens(costs.output, rngs(code, "output"), count)
        return work, prompt, output

    def stream_table(self) -> StreamTable:
        """Named streams per kind and quantity (see the module docstring), made on first use."""
        table: dict[tuple[int, str], np.random.Generator] = {}

        def rng(code: int, what: str) -> np.random.Generator:
            key = (code, what)
            if key not in table:
                name = self.profiles[code].name
                if what == "service":
                    label = ("service" if self._no_mix and code == 0
                             else f"workload.service.{name}")
                else:
                    label = f"workload.tokens.{name}.{what}"
                table[key] = stream(self.seed, label)
            return table[key]

        return rng
