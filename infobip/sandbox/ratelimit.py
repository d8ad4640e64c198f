"""The sandbox's server-side enforcement of Infobip's published per-endpoint rate limits
(the table is infobip.contract.limits, which the client's limiter reads too)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from infobip.contract.limits import PUBLISHED_LIMITS


class SlidingWindowLimiter:
    """At most ``limit`` admitted requests per (account, endpoint) in any 1-second sliding window.

    ``multiplier`` scales the published limits (0.5 = half as many requests allowed, i.e. tighter);
    None disables limiting. Rejected requests are not counted, so a client backing off gets through.
    """

    def __init__(self, multiplier: float | None = 1.0, limits: dict[str, int] | None = None, window: float = 1.0):
        self.multiplier = multiplier
        self.limits = dict(PUBLISHED_LIMITS if limits is None else limits)
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def limit_for(self, endpoint: str) -> int | None:
        if self.multiplier is None:
            return None
        published = self.limits.get(endpoint)
        if published is None:
            return None
        return max(1, math.floor(published * self.multiplier + 1e-9))

    def check(self, account: str, endpoint: str, now: float | None = None) -> float | None:
        """Admit (return None) or refuse, returning seconds until a slot frees up."""
        limit = self.limit_for(endpoint)
        if limit is None:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault((account, endpoint), deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                return max(0.001, hits[0] + self.window - now)
            hits.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
