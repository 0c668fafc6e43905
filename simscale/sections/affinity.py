"""The [context_cache] section: a conversation-context cache on each instance.

An instance that has served a turn of a conversation keeps its context (the history it
assembled into the prompt) in memory, up to `capacity_sessions` conversations (least
recently used dropped first). A later turn of that conversation on the same instance is a
hit; on any other instance, or once dropped, it is a miss and the instance rebuilds the
context: `miss_cpu_per_prompt_token_s` × prompt tokens more CPU work. This is what session
affinity (`sticky`, `consistent_hash`) is for; simscale.model.affinity runs it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from simscale.limits import MAX_CONTEXT_SESSIONS, MAX_CPU_PER_TOKEN_S, MAX_KINDS
from simscale.sections.base import Maybe, Section


class ContextCacheSpec(Section):
    """Conversation contexts kept on each instance (off unless given)."""

    capacity_sessions: Annotated[int, Field(gt=0, le=MAX_CONTEXT_SESSIONS)] = Field(
        1000, description="conversations an instance keeps (least recently used dropped)")
    miss_cpu_per_prompt_token_s: float = Field(
        2e-5, ge=0, le=MAX_CPU_PER_TOKEN_S,
        description="CPU seconds per prompt token to rebuild a context on a miss")
    kinds: Annotated[list[str] | None, Maybe] = Field(
        None, max_length=MAX_KINDS,
        description="the kinds that use a context (none: every kind that calls the LLM)")

    def check_kinds(self, known: set[str] | None) -> None:
        """Raise ValueError('context_cache.kinds: ...') for a kind the workload lacks."""
        unknown = [k for k in self.kinds or () if known is not None and k not in known]
        if unknown:
            raise ValueError(f"context_cache.kinds: unknown kind {unknown[0]!r} (known: "
                             f"{', '.join(sorted(known))})")
