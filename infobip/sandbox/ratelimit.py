"""Infobip's published per-endpoint rate limits and the sandbox's server-side enforcement of them.

The table is the ``x-throttling-info`` of every operation we use in Infobip's OpenAPI spec (requests per
second, per account); ``tests/infobip/test_conformance.py`` checks it against the spec. It lives in this
Django-free package so both the sandbox and ``infobip.ratelimit`` (the client's limiter) read the same one.
Endpoint keys are ``"<METHOD> <path template>"`` exactly as the spec spells the path.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

PUBLISHED_LIMITS: dict[str, int] = {
    "GET /people/2/persons": 5,
    "PUT /people/2/persons": 5,
    "POST /people/2/persons": 10,
    "DELETE /people/2/persons": 5,
    "PATCH /people/2/persons": 5,
    "PUT /people/2/persons/contactInformation": 5,
    "DELETE /people/2/persons/contactInformation": 5,
    "PATCH /people/2/persons/contactInformation": 5,
    "POST /people/2/persons/batch": 5,
    "DELETE /people/2/persons/batch": 5,
    "PATCH /people/2/persons/batch": 5,
    "POST /people/2/persons/match": 15,
    "POST /people/3/persons/merge": 5,
    "PUT /people/3/persons/upsert": 5,
    "PATCH /people/3/persons/upsert": 5,
    "GET /people/2/companies": 5,
    "POST /people/2/companies": 5,
    "DELETE /people/2/companies": 5,
    "PATCH /people/2/companies": 5,
    "POST /people/2/companies/batch": 5,
    "DELETE /people/2/companies/batch": 5,
    "PATCH /people/2/companies/batch": 5,
    "DELETE /people/2/companies/persons": 5,
    "PATCH /people/2/companies/persons": 5,
    "GET /people/2/tags": 5,
    "POST /people/2/tags": 5,
    "GET /people/2/tags/{name}": 5,
    "DELETE /people/2/tags/{name}": 5,
    "DELETE /people/2/tags/{name}/persons": 5,
    "PATCH /people/2/tags/{name}/persons": 5,
    "GET /people/2/customAttributes": 5,
    "POST /people/2/customAttributes": 5,
    "GET /people/2/customAttributes/{name}": 5,
    "DELETE /people/2/customAttributes/{name}": 5,
    "POST /people/2/customAttributes/{name}/append": 5,
    "POST /people/3/events": 5,
    "POST /peopleevents/2/persons/{personId}/definitions/{definitionId}/events": 250,
    # /peopleevents/2/definitions: the spec gives no throttling info, so no limit.
}


def parse_rate_mode(value: str | float | None) -> float | None:
    """``off`` -> None, ``real`` -> 1.0, ``"0.5"`` -> 0.5 (a multiplier of the published limits)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        multiplier = float(value)
    else:
        text = value.strip().lower()
        if text in {"off", "none", "0", ""}:
            return None
        if text == "real":
            return 1.0
        try:
            multiplier = float(text)
        except ValueError:
            raise ValueError(f"rate limits must be 'off', 'real' or a positive multiplier, got {value!r}") from None
    if not math.isfinite(multiplier) or multiplier <= 0:
        raise ValueError(f"rate limit multiplier must be positive, got {value!r}")
    return multiplier


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
