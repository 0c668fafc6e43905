"""The key population: which users, sessions and prompts the requests touch.

With `cache.keys.source = "zipf"` a request's user is drawn by Zipf popularity (rank r with
probability ∝ r^-zipf_s over `users` users) and its session uniformly among the user's
`sessions_per_user`, both keyed on the request id (a SplitMix64 hash of salt ^ request id),
so the same request reads the same keys whatever the policies, and a block of request ids
is drawn at once. With source "workload" the ids come from the request itself (closed-loop
users, traces). An LLM request's prompt repeats one of `prompts` common prompts (Zipf) with
probability `repeat_frac`, else is unique to it. The salts draw from the stream
"cache.keys".

Keys are named "<type>:<id>": "user:<user id>", "session:<session id>",
"conversation:<session id>", "response:<prompt rank>" (a unique prompt: "response:u<id>").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

import numpy as np

from policies.caches import zipf_popularity
from simscale.streams import stream

_M64 = (1 << 64) - 1
_UNIT = 2.0 ** -53


def mix64(x: int) -> int:
    """SplitMix64's output function (Steele, Lea and Flood, "Fast splittable pseudorandom
    number generators", OOPSLA 2014): a bijection of 64-bit integers whose outputs pass
    BigCrush for consecutive inputs, so mix64(salt ^ request_id) is a random draw keyed on
    the request id."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def mix64_array(x: np.ndarray) -> np.ndarray:
    """mix64 over a uint64 array (numpy's uint64 arithmetic wraps modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class KeyPopulation:
    """The users, sessions and prompts of one run (the cache section's keys and
    llm_response_cache)."""

    def __init__(self, keys, response_cache, seed: int) -> None:
        salts = stream(seed, "cache.keys").integers(0, 1 << 63, 3).tolist()
        self._user_salt, self._prompt_salt, self._prompt_rank_salt = salts
        self.from_workload = keys.source == "workload"
        self.sessions_per_user = keys.sessions_per_user
        self.users = keys.users
        self._user_cdf = np.cumsum(zipf_popularity(keys.users, keys.zipf_s))
        self._repeat_frac = response_cache.repeat_frac
        self._prompt_cdf = np.cumsum(zipf_popularity(response_cache.prompts,
                                                     response_cache.zipf_s)).tolist()

    def users_sessions(self, request_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(users, sessions) of requests (source "zipf"): user rank r with probability ∝
        r^-zipf_s (inverse CDF of the keyed hash as a uniform), a session uniformly among
        the user's."""
        h = mix64_array(request_ids.astype(np.uint64) ^ np.uint64(self._user_salt))
        u = (h >> np.uint64(11)).astype(np.float64) * _UNIT
        users = np.minimum(np.searchsorted(self._user_cdf, u, side="right"), self.users - 1)
        spu = self.sessions_per_user
        return users, users * spu + (h & np.uint64(0xFFFFFFFF)).astype(np.int64) % spu

    def ids_of(self, info) -> tuple[int, int]:
        """(user id, session id) of a request (a RequestInfo)."""
        if self.from_workload:
            return info[2], info[3]
        users, sessions = self.users_sessions(np.array([info[0]], dtype=np.uint64))
        return int(users[0]), int(sessions[0])

    def prompt_key(self, request_id: int) -> str:
        """The response-cache key of a request's prompt: a common prompt with probability
        repeat_frac (Zipf rank), else unique to the request."""
        h = mix64(self._prompt_salt ^ request_id)
        if (h >> 11) * _UNIT < self._repeat_frac:
            u = (mix64(self._prompt_rank_salt ^ request_id) >> 11) * _UNIT
            rank = min(bisect_right(self._prompt_cdf, u), len(self._prompt_cdf) - 1)
            return f"response:{rank}"
        return f"response:u{request_id}"

    def keys_by_rank(self, types) -> Iterator[str]:
        """Keys of `types`, most popular user first (Zipf rank order); a user's sessions
        follow the user."""
        spu = self.sessions_per_user
        prompts = len(self._prompt_cdf)
        for rank in range(self.users):
            for t in types:
                if t == "user":
                    yield f"user:{rank}"
                elif t == "response":
                    if rank < prompts:
                        yield f"response:{rank}"
                else:
                    for j in range(spu):
                        yield f"{t}:{rank * spu + j}"
