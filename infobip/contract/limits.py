"""Infobip's published limits: per-endpoint request rates (per account) and batch sizes.

PUBLISHED_LIMITS is the ``x-throttling-info`` of every operation we use in Infobip's OpenAPI spec (requests per
second, per account; tests/infobip/test_conformance.py checks it against the spec). Endpoint keys are
``"<METHOD> <path template>"`` exactly as the spec spells the path. Django-free: the client's limiter
(infobip.ratelimit) and the sandbox read the same table.
"""

from __future__ import annotations

import hashlib
import math
from typing import Protocol

MAX_BATCH = 1000  # persons or companies per batch call
MAX_EVENT_BATCH = 5000  # events per POST /people/3/events

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


class RateLimiter(Protocol):
    """What the client needs from a limiter: wait for the endpoint's next slot, answer the seconds waited
    (implementations: infobip.ratelimit)."""

    def acquire(self, endpoint: str) -> float: ...


def scope_for(base_url: str, api_key: str) -> str:
    """A stable, non-secret name for one Infobip account (limits are per account)."""
    return hashlib.sha256(f"{base_url.rstrip('/')}|{api_key}".encode()).hexdigest()[:16]
