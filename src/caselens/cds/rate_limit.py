"""A token bucket per EHR issuer: a burst is served, a flood is told to come back later.

Each issuer's bucket holds at most :data:`BURST_CALLS` calls and refills at
:data:`CALLS_PER_SECOND`; a call that finds it empty gets 429 with ``Retry-After`` (whole
seconds until one call is available). The buckets are per service instance (in memory): two
instances behind a load balancer each allow the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

#: Calls one issuer may make at once: a clinic opening many charts in the same second.
BURST_CALLS = 60
#: Sustained calls per second per issuer: far above one EHR's patient-view traffic to one
#: model, far below what would starve the explainer for everyone else.
CALLS_PER_SECOND = 20.0
#: Most issuers tracked (only configured issuers reach the bucket, so this is a guard).
MAX_BUCKETS = 1_000


class IssuerRateLimit:
    """Token buckets keyed by issuer; thread-safe."""

    def __init__(
        self,
        *,
        burst: int = BURST_CALLS,
        per_second: float = CALLS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be at least 1 and per_second above 0")
        self._burst = float(burst)
        self._rate = per_second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, issuer: str) -> int | None:
        """Take one call from ``issuer``'s bucket: None when allowed, else the whole seconds
        to wait (``Retry-After``)."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(issuer, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                if len(self._buckets) >= MAX_BUCKETS and issuer not in self._buckets:
                    self._buckets.clear()  # only configured issuers get here: never in practice
                self._buckets[issuer] = (tokens - 1.0, now)
                return None
            self._buckets[issuer] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._rate))
