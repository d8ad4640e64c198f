"""Client-side rate limiting: keep every Infobip endpoint under its published per-second limit.

All limiters implement GCRA (the "virtual scheduling" form of a token bucket) per key
``<scope>|<METHOD /path/template>``: each call reserves the next free slot — ``tat`` (theoretical
arrival time) moves forward by ``interval = 1 / rate`` — and the caller sleeps until its slot. With
the default burst of 1, calls to one endpoint are spaced at least ``interval`` apart, so no
one-second window ever holds more than ``rate`` of them, whichever process sent them.

* :class:`InMemoryRateLimiter` — one process (tests, scripts).
* :class:`PostgresRateLimiter` — shared by every worker process through one row per key, updated by a
  single atomic ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` that uses the database clock. It never
  runs inside the caller's transaction: when Django's connection is inside ``atomic()`` it uses a
  dedicated autocommit connection instead.
* :class:`RedisRateLimiter` — shared through Redis (one Lua script, Redis clock); used when ``REDIS_URL``
  is set.
* :class:`NoRateLimiter` — off.

``rate_limiter_from_settings()`` picks one from Django settings: ``INFOBIP_RATE_LIMITS`` = ``"off"``,
``"real"`` (default) or a multiplier like ``"0.5"``; ``INFOBIP_RATE_LIMITER`` = ``"auto"`` (Redis when
``REDIS_URL`` is set, else PostgreSQL), ``"postgres"``, ``"redis"`` or ``"memory"``.

Rates are multiplied by ``safety`` (0.95 by default) so network jitter between our send time and
Infobip's receive time does not push a window over the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import models

from infobip.contract.limits import PUBLISHED_LIMITS, RateLimiter, parse_rate_mode

__all__ = [
    "InMemoryRateLimiter",
    "NoRateLimiter",
    "PostgresRateLimiter",
    "RateLimitBucket",
    "RateLimiter",
    "RedisRateLimiter",
    "rate_limiter_from_settings",
]


class RateLimitBucket(models.Model):
    """GCRA state of one (account, endpoint): the theoretical arrival time of its next request."""

    key = models.CharField(max_length=255, primary_key=True)
    tat = models.FloatField(help_text="Epoch seconds (database clock) when the next slot opens.")

    class Meta:
        app_label = "infobip"
        db_table = "infobip_ratelimitbucket"
        verbose_name = "rate limit bucket"

    def __str__(self) -> str:
        return self.key


class _GcraLimiter:
    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        *,
        multiplier: float | str | None = 1.0,
        safety: float = 0.95,
        scope: str = "default",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        factor = parse_rate_mode(multiplier) if isinstance(multiplier, str) else multiplier
        base = PUBLISHED_LIMITS if rates is None else rates
        self.intervals: dict[str, float] = {}
        if factor is not None:
            for endpoint, rate in base.items():
                if rate and rate > 0:
                    self.intervals[endpoint] = 1.0 / (rate * factor * safety)
        self.scope = scope
        self.sleep = sleep

    def interval(self, endpoint: str) -> float | None:
        return self.intervals.get(endpoint)

    def acquire(self, endpoint: str) -> float:
        interval = self.intervals.get(endpoint)
        if interval is None:
            return 0.0
        wait = self._reserve(f"{self.scope}|{endpoint}", interval)
        if wait > 0:
            self.sleep(wait)
        return max(0.0, wait)

    def _reserve(self, key: str, interval: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class NoRateLimiter:
    def acquire(self, endpoint: str) -> float:
        return 0.0


class InMemoryRateLimiter(_GcraLimiter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def _reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._tat.get(key, 0.0), now)
            self._tat[key] = slot + interval
            return slot - now


_PG_RESERVE = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
INSERT INTO infobip_ratelimitbucket (key, tat)
SELECT %(key)s, clock.now + %(interval)s FROM clock
ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(infobip_ratelimitbucket.tat, EXCLUDED.tat - %(interval)s) + %(interval)s
RETURNING tat - %(interval)s - (SELECT now FROM clock)
"""


class PostgresRateLimiter(_GcraLimiter):
    """GCRA in PostgreSQL: one atomic statement per call, shared by all processes on the database."""

    def __init__(self, *args: Any, using: str = "default", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.using = using
        self._local = threading.local()

    def _dedicated_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            import psycopg
            from django.db import connections

            params = connections[self.using].get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            params.pop("server_side_binding", None)
            conn = psycopg.connect(**params, autocommit=True)
            self._local.conn = conn
        return conn

    def _reserve(self, key: str, interval: float) -> float:
        from django.db import connections

        connection = connections[self.using]
        params = {"key": key, "interval": interval}
        if not connection.in_atomic_block:
            # Autocommit mode: the statement commits on its own and holds the row lock for microseconds.
            with connection.cursor() as cursor:
                cursor.execute(_PG_RESERVE, params)
                return float(cursor.fetchone()[0])
        # Inside the caller's transaction the row lock would last until their commit and a rollback would
        # undo our reservation: use a separate autocommit connection instead.
        with self._dedicated_connection().cursor() as cursor:
            cursor.execute(_PG_RESERVE, params)
            return float(cursor.fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_REDIS_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local ttl = math.ceil((slot + interval - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', slot + interval), 'PX', ttl)
return string.format('%.6f', slot - now)
"""


class RedisRateLimiter(_GcraLimiter):
    """GCRA in Redis: one Lua script per call (atomic, Redis clock), shared by all processes."""

    def __init__(self, *args: Any, url: str | None = None, client: Any = None, prefix: str = "infobip:rl:", **kwargs):
        super().__init__(*args, **kwargs)
        if client is None:
            import redis

            client = redis.Redis.from_url(url or "redis://127.0.0.1:6379/0")
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_REDIS_RESERVE)

    def _reserve(self, key: str, interval: float) -> float:
        return float(self._script(keys=[self.prefix + key], args=[repr(interval)]))


def rate_limiter_from_settings(scope: str = "default") -> RateLimiter:
    """The limiter configured in Django settings (see the module docstring)."""
    from django.conf import settings

    mode = parse_rate_mode(getattr(settings, "INFOBIP_RATE_LIMITS", "real"))
    if mode is None:
        return NoRateLimiter()
    kind = getattr(settings, "INFOBIP_RATE_LIMITER", "auto")
    redis_url = getattr(settings, "REDIS_URL", None)
    if kind == "auto":
        kind = "redis" if redis_url else "postgres"
    if kind == "redis":
        return RedisRateLimiter(multiplier=mode, scope=scope, url=redis_url)
    if kind == "postgres":
        return PostgresRateLimiter(multiplier=mode, scope=scope)
    if kind == "memory":
        return InMemoryRateLimiter(multiplier=mode, scope=scope)
    if kind == "off":
        return NoRateLimiter()
    raise ValueError(f"INFOBIP_RATE_LIMITER must be auto, postgres, redis, memory or off, got {kind!r}")
