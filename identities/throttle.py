"""Brute force: failed admin logins and API keys counted per client address and per account, then locked.

``AUTH_FAILURE_LIMIT`` failures (default 10) within ``AUTH_FAILURE_WINDOW`` seconds (60) lock the address or
account for ``AUTH_LOCKOUT_SECONDS`` (60): the admin login says so, the API answers 429. Counters live in
PostgreSQL (AuthThrottle, one upsert per failure), so every process sees them; superusers see and lift them in
the admin. A lockout is also noted in Django's cache so that requests with a *valid* API key pay no extra
query: with Redis every process sees that note, with the per-process cache a valid key is refused only by the
process that saw the lockout (an attacker's failing guesses are refused by all of them, through PostgreSQL).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from identities.models import AuthThrottle, ThrottleKind

CACHE_PREFIX = "cdpadmin:auth-lock:"
MSG_API_LOCKED = "Too many requests with an invalid API key from this address or for this key: try again later."
MSG_ADMIN_LOCKED = (
    "Too many failed logins from this address or for this account: it is locked for {seconds} seconds. "
    "Try again later, or ask a superuser to unlock it (admin > Login lockouts)."
)

UPSERT = """
INSERT INTO identities_auththrottle AS t (kind, subject, window_started, failures, last_failure_at, locked_until)
VALUES (%(kind)s, %(subject)s, statement_timestamp(), 1, statement_timestamp(),
        CASE WHEN 1 >= %(limit)s THEN statement_timestamp() + make_interval(secs => %(lockout)s) END)
ON CONFLICT (kind, subject) DO UPDATE SET
    failures = CASE WHEN t.window_started < statement_timestamp() - make_interval(secs => %(window)s)
                    THEN 1 ELSE t.failures + 1 END,
    window_started = CASE WHEN t.window_started < statement_timestamp() - make_interval(secs => %(window)s)
                          THEN statement_timestamp() ELSE t.window_started END,
    last_failure_at = statement_timestamp(),
    locked_until = CASE
        WHEN (CASE WHEN t.window_started < statement_timestamp() - make_interval(secs => %(window)s)
                   THEN 1 ELSE t.failures + 1 END) >= %(limit)s
        THEN statement_timestamp() + make_interval(secs => %(lockout)s)
        ELSE t.locked_until END
RETURNING EXTRACT(EPOCH FROM (t.locked_until - statement_timestamp()))
"""
LOCKED = """
SELECT EXTRACT(EPOCH FROM max(locked_until) - statement_timestamp()) FROM identities_auththrottle
WHERE (kind, subject) IN ({pairs}) AND locked_until > statement_timestamp()
"""

Subject = tuple[str, str]  # (ThrottleKind, subject)


def limit() -> int:
    return int(getattr(settings, "AUTH_FAILURE_LIMIT", 10))


def client_address(request) -> str:
    """REMOTE_ADDR, or the first address of CLIENT_IP_HEADER when a trusted proxy sets it."""
    header = getattr(settings, "CLIENT_IP_HEADER", None)
    value = (request.META.get(header) if header else None) or request.META.get("REMOTE_ADDR") or "unknown"
    return value.split(",")[0].strip()[:255]


def _cache_key(subject: Subject) -> str:
    return CACHE_PREFIX + subject[0] + ":" + subject[1]


def locked_seconds(subjects: list[Subject]) -> int:
    """Seconds until the longest lockout of `subjects` ends; 0 when none is locked. One query."""
    subjects = [(kind, name[:255]) for kind, name in subjects if name]
    if not subjects:
        return 0
    pairs = ", ".join(["(%s, %s)"] * len(subjects))
    with connection.cursor() as cursor:
        cursor.execute(LOCKED.format(pairs=pairs), [part for subject in subjects for part in subject])
        (seconds,) = cursor.fetchone()
    return math.ceil(seconds) if seconds else 0


def locked_seconds_cached(subjects: list[Subject]) -> int:
    """The cache's note of a lockout (no query): what a request with a valid key checks."""
    notes = cache.get_many([_cache_key(subject) for subject in subjects if subject[1]])
    return max(0, math.ceil(max(notes.values(), default=0) - time.time()))


def record_failure(subjects: list[Subject]) -> int:
    """Count one failure for each subject; returns the seconds of the longest lockout now in force (0: none)."""
    params = {
        "limit": limit(),
        "window": float(getattr(settings, "AUTH_FAILURE_WINDOW", 60)),
        "lockout": float(getattr(settings, "AUTH_LOCKOUT_SECONDS", 60)),
    }
    longest = 0
    with connection.cursor() as cursor:
        for kind, name in subjects:
            if not name:
                continue
            cursor.execute(UPSERT, {**params, "kind": kind, "subject": name[:255]})
            (seconds,) = cursor.fetchone()
            if seconds and seconds > 0:
                longest = max(longest, math.ceil(seconds))
                cache.set(_cache_key((kind, name[:255])), time.time() + float(seconds), math.ceil(seconds))
    return longest


def unlock(rows) -> int:
    """Lift the lockouts (and forget the failures) of AuthThrottle rows. Returns how many rows."""
    keys = [_cache_key((row.kind, row.subject)) for row in rows]
    cache.delete_many(keys)
    deleted, _ = AuthThrottle.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return deleted


def forget(subjects: list[Subject]) -> None:
    """A success clears the account's count (not the address's: an attacker's own success proves nothing)."""
    for kind, name in subjects:
        AuthThrottle.objects.filter(kind=kind, subject=name[:255], locked_until__isnull=True).delete()


def admin_subjects(request, username: str | None) -> list[Subject]:
    return [
        (ThrottleKind.ADMIN_ADDRESS, client_address(request)),
        (ThrottleKind.ADMIN_ACCOUNT, (username or "").lower()),
    ]


def api_subjects(request, prefix: str | None) -> list[Subject]:
    return [(ThrottleKind.API_ADDRESS, client_address(request)), (ThrottleKind.API_KEY, prefix or "")]
