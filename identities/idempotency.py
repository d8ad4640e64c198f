"""Idempotency keys of the REST API: a repeated request replays the first one's response, never runs twice.

The protocol, per API key (within its realm) and idempotency key:

1. ``idempotency_begin`` inserts the key as *in progress* in its own short transaction. The unique
   (api key, key) constraint decides the race: of 50 simultaneous identical requests exactly one inserts it;
   the others find the row and answer 409 (still in flight) or, once it is done, replay its response.
2. The winner runs the request inside one transaction and calls ``idempotency_complete`` in that same
   transaction, so the change and the stored response commit together: a crash in between leaves neither,
   and the key (still *in progress*) is taken over by a retry once ``IN_FLIGHT_TIMEOUT`` has passed.
3. On an unexpected error the request's transaction rolls back and ``idempotency_release`` deletes the key,
   so the client may retry with it.

The same key with another method, path, query or body is refused with 422. Keys older than ``RETENTION``
are treated as unused and purged hourly (the django-q2 Schedule of migration 0004).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, ValidationError
from identities.models import ApiKey, IdempotencyRecord, IdempotencyStatus, Realm

RETENTION = dt.timedelta(hours=24)
IN_FLIGHT_TIMEOUT = dt.timedelta(minutes=2)
KEY_MAX = 255

MSG_KEY_INVALID = "must be 1 to 255 printable ASCII characters"
MSG_MISMATCH = (
    "idempotency-key {key!r} was first used with {method} {path} and another body; a key may only be "
    "repeated with the same method, path and body. Use a new key for a new request."
)
MSG_IN_FLIGHT = "a request with idempotency-key {key!r} is still being processed; retry after it has finished"


class IdempotencyMismatch(DomainError):
    status = 422
    code = "idempotency_key_mismatch"


@dataclass(frozen=True)
class Begun:
    """Either a fresh record this request now holds (``replay`` is None) or a completed one to replay."""

    record: IdempotencyRecord
    replay: bool


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX or not all(" " <= char <= "~" for char in key):
        raise ValidationError.single("idempotency-key", MSG_KEY_INVALID, code="invalid_idempotency_key")
    return key


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """Equal for equal requests; JSON bodies compare by content (key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(
    *, realm: Realm, key: str, fingerprint: str, method: str, path: str, api_key: ApiKey | None = None
) -> Begun:
    """Claim `key` of `api_key` for this request or find the completed request to replay. Raises 422/409.

    Keys are scoped per API key (so two integrators of a realm never collide) and checked against the realm.

    Must not run inside the request's own transaction: the claim has to be visible to concurrent requests.
    """
    check_key(key)
    for _ in range(5):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    realm=realm, api_key=api_key, key=key, fingerprint=fingerprint, method=method,
                    path=path[:2048], created=now, locked_at=now,
                )  # fmt: skip
            return Begun(record, replay=False)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(realm=realm, api_key=api_key, key=key).first()
        if existing is None:  # purged or released between our insert and this read: try again
            continue
        if existing.created < now - RETENTION:
            IdempotencyRecord.objects.filter(pk=existing.pk, created=existing.created).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyMismatch(MSG_MISMATCH.format(key=key, method=existing.method, path=existing.path))
        if existing.status == IdempotencyStatus.COMPLETED:
            return Begun(existing, replay=True)
        if existing.locked_at < now - IN_FLIGHT_TIMEOUT:
            # Its request died without completing (its transaction rolled back with it): take the key over.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, status=IdempotencyStatus.IN_PROGRESS, locked_at=existing.locked_at
            ).update(locked_at=now)
            if taken:
                existing.locked_at = now
                return Begun(existing, replay=False)
            continue
        raise Conflict(MSG_IN_FLIGHT.format(key=key), code="idempotency_key_in_use")
    raise Conflict(MSG_IN_FLIGHT.format(key=key), code="idempotency_key_in_use")


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: Any, headers: dict[str, str]) -> None:
    """Store the response. Call inside the request's transaction, so it commits with the change."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=status,
        response_body=body,
        response_headers=headers,
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a key whose request failed unexpectedly, so a retry may run it."""
    IdempotencyRecord.objects.filter(pk=record.pk, status=IdempotencyStatus.IN_PROGRESS).delete()


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than RETENTION. Returns how many went."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=cutoff).delete()
    return deleted
