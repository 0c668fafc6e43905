"""Who may call what: bearer-token checks and per-client rate limits on the monitoring routes.

The token is compared in constant time (hmac.compare_digest). Rate limits are the policy of
policies/limiters itself: a per_user_token_bucket from the registry, one bucket per client
address, on the server's monotonic clock; a refusal says when a whole token will be there
(Retry-After, whole seconds, at least 1).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from policies import registry
from policies.limiters import PerUserTokenBucketConfig
from policies.views import RequestInfo
from simscale.errors import InputError

MAX_TOKEN_BYTES = 4096
MIN_TOKEN_CHARS = 16


def read_token(path: Path) -> str:
    """The token in a file (surrounding whitespace removed); InputError when unusable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the token file ({exc.strerror})") from None
    if len(raw) > MAX_TOKEN_BYTES:
        raise InputError(f"{path}: a token is at most {MAX_TOKEN_BYTES} bytes")
    try:
        token = raw.decode().strip()
    except UnicodeDecodeError:
        raise InputError(f"{path}: the token is not UTF-8 text") from None
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise InputError(f"{path}: a token is one word of at least {MIN_TOKEN_CHARS} "
                         "characters")
    return token


def token_matches(header: str | None, token: str) -> bool:
    """True when an Authorization header is 'Bearer <token>' (constant-time compare)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


class ClientLimiter:
    """A token bucket per client (the registry's per_user_token_bucket); thread-safe."""

    def __init__(self, rate_per_s: float, burst: float, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self.config = PerUserTokenBucketConfig(rate_per_s, burst, max_clients)
        except ValueError as exc:
            raise InputError(f"--rate-limit/--burst: {exc}") from None
        self.bucket = registry.build("limiter", "per_user_token_bucket", self.config)
        self.clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def client_id(client: str) -> int:
        """A stable non-negative 63-bit id for a client address."""
        digest = hashlib.blake2b(client.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") >> 1

    def admit(self, client: str) -> tuple[bool, int]:
        """(admitted, retry_after_s): retry_after_s is 0 when admitted."""
        user = self.client_id(client)
        with self._lock:
            admitted, _ = self.bucket.allow(RequestInfo(0, user_id=user), self.clock())
            if admitted:
                return True, 0
            tokens = self.bucket.buckets[user][0]
        wait_s = (1.0 - tokens) / self.config.rate_per_s
        return False, max(1, math.ceil(wait_s))
