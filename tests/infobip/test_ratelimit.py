"""Client-side limiters: spacing, configuration, and several workers sharing one account's limit."""

import threading
import uuid

import pytest
import redis
from django.db import connection, transaction

from infobip import ratelimit as rl
from infobip.client import InfobipClient, RateLimited
from infobip.contract.limits import PUBLISHED_LIMITS, parse_rate_mode
from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
from infobip.sandbox.ratelimit import SlidingWindowLimiter

ENDPOINT = "GET /people/2/tags"


def redis_available():
    try:
        return redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


def test_parse_rate_mode():
    assert parse_rate_mode("off") is None
    assert parse_rate_mode(None) is None
    assert parse_rate_mode("real") == 1.0
    assert parse_rate_mode("0.5") == 0.5
    assert parse_rate_mode(3) == 3.0
    for bad in ("fast", "-1", "inf"):
        with pytest.raises(ValueError, match="rate limit"):
            parse_rate_mode(bad)


def test_in_memory_limiter_spaces_calls_by_the_interval():
    waits = []
    limiter = rl.InMemoryRateLimiter({ENDPOINT: 10}, safety=1.0, sleep=waits.append)
    reported = [limiter.acquire(ENDPOINT) for _ in range(5)]
    assert waits == [w for w in reported if w > 0]
    for k, wait in enumerate(reported):
        assert k * 0.1 - 0.05 <= wait <= k * 0.1 + 1e-9
    assert limiter.acquire("GET /not/limited") == 0.0


def test_limits_follow_the_published_table_the_multiplier_and_safety():
    limiter = rl.InMemoryRateLimiter(multiplier="0.5", safety=1.0)
    assert limiter.interval("POST /people/2/persons") == pytest.approx(1 / 5)
    assert limiter.interval("POST /peopleevents/2/persons/{personId}/definitions/{definitionId}/events") == 1 / 125
    assert limiter.interval("GET /peopleevents/2/definitions") is None  # no published limit
    assert rl.InMemoryRateLimiter().interval("GET /people/2/persons") == pytest.approx(1 / (5 * 0.95))
    assert rl.InMemoryRateLimiter(multiplier=None).interval("GET /people/2/persons") is None
    assert rl.NoRateLimiter().acquire("GET /people/2/persons") == 0.0


def test_sandbox_sliding_window_counts_admitted_requests_only():
    limiter = SlidingWindowLimiter(1.0)
    assert [limiter.check("k", ENDPOINT, now=10.0 + i * 0.01) for i in range(5)] == [None] * 5
    assert limiter.check("k", ENDPOINT, now=10.5) == pytest.approx(0.5)
    assert limiter.check("other-key", ENDPOINT, now=10.5) is None  # per account
    assert limiter.check("k", ENDPOINT, now=11.0) is None  # the first hit left the window
    assert SlidingWindowLimiter(0.4).limit_for(ENDPOINT) == 2
    assert SlidingWindowLimiter(None).check("k", ENDPOINT) is None


def test_rate_limiter_from_settings(settings):
    settings.INFOBIP_RATE_LIMITS = "off"
    assert isinstance(rl.rate_limiter_from_settings(), rl.NoRateLimiter)
    settings.INFOBIP_RATE_LIMITS = "real"
    settings.REDIS_URL = None
    settings.INFOBIP_RATE_LIMITER = "auto"
    assert isinstance(rl.rate_limiter_from_settings(), rl.PostgresRateLimiter)
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert isinstance(rl.rate_limiter_from_settings(), rl.RedisRateLimiter)
    settings.INFOBIP_RATE_LIMITER = "memory"
    assert isinstance(rl.rate_limiter_from_settings(), rl.InMemoryRateLimiter)
    settings.INFOBIP_RATE_LIMITER = "carrier-pigeon"
    with pytest.raises(ValueError, match="INFOBIP_RATE_LIMITER"):
        rl.rate_limiter_from_settings()


@pytest.mark.django_db(transaction=True)
def test_postgres_limiter_reserves_consecutive_slots_in_one_statement():
    waits = []
    limiter = rl.PostgresRateLimiter({ENDPOINT: 10}, safety=1.0, scope=uuid.uuid4().hex, sleep=waits.append)
    reported = [limiter.acquire(ENDPOINT) for _ in range(4)]
    for k, wait in enumerate(reported):
        assert k * 0.1 - 0.1 <= wait <= k * 0.1 + 1e-6
    bucket = rl.RateLimitBucket.objects.get(key=f"{limiter.scope}|{ENDPOINT}")
    assert bucket.tat > 0
    assert limiter._local.__dict__.get("conn") is None  # autocommit: Django's own connection was used


@pytest.mark.django_db(transaction=True)
def test_postgres_limiter_never_runs_inside_the_callers_transaction():
    limiter = rl.PostgresRateLimiter({ENDPOINT: 1000}, scope=uuid.uuid4().hex, sleep=lambda s: None)
    key = f"{limiter.scope}|{ENDPOINT}"
    try:
        with transaction.atomic():
            limiter.acquire(ENDPOINT)
            assert limiter._local.conn is not None  # a separate autocommit connection
            transaction.set_rollback(True)
        # the caller's rollback did not undo the reservation: it was never part of that transaction
        assert rl.RateLimitBucket.objects.filter(key=key).exists()
    finally:
        limiter.close()


# The limiters pace requests when they reserve a slot; a thread descheduled between its reservation and its
# send (a loaded CI machine) arrives late, bunched with the next one. Pacing the shared-limiter tests at 75% of
# the sandbox's limit leaves room for that jitter, so they test the limiter and not the scheduler.


def _hammer(make_client, per_worker, errors, workers=2, close_db=False):
    def work():
        try:
            client = make_client()
            for _ in range(per_worker):
                client.list_tags()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            if close_db:
                connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def _assert_sandbox_never_saw_more_than_the_limit(sandbox, limit, total):
    assert sandbox.calls(ENDPOINT) == total
    assert sandbox.stats()["statuses"][ENDPOINT] == {"200": total}  # no 429 at all
    assert sandbox.max_in_window(ENDPOINT, 1.0) <= limit
    assert sandbox.max_in_window(ENDPOINT, 1.0) >= limit // 2  # and the limit was actually approached


@pytest.mark.django_db(transaction=True)
def test_workers_sharing_a_postgres_limiter_stay_under_the_rate(infobip_sandbox):
    infobip_sandbox.set_rate_limits(4)  # the sandbox enforces 20/s on this endpoint
    scope = uuid.uuid4().hex
    errors = []

    def make_client():  # each thread: its own client, its own database connection
        limiter = rl.PostgresRateLimiter(multiplier=4, safety=0.75, scope=scope)
        return InfobipClient(infobip_sandbox.url, SANDBOX_API_KEY, rate_limiter=limiter, max_retries=0)

    _hammer(make_client, 25, errors, close_db=True)
    assert not errors, errors
    _assert_sandbox_never_saw_more_than_the_limit(infobip_sandbox, 20, 50)


@pytest.mark.skipif(not redis_available(), reason="Redis is not running on 127.0.0.1:6379")
def test_workers_sharing_a_redis_limiter_stay_under_the_rate(infobip_sandbox):
    infobip_sandbox.set_rate_limits(4)
    prefix = f"test:{uuid.uuid4().hex}:"
    errors = []

    def make_client():
        limiter = rl.RedisRateLimiter(multiplier=4, safety=0.75, url="redis://127.0.0.1:6379/0", prefix=prefix)
        return InfobipClient(infobip_sandbox.url, SANDBOX_API_KEY, rate_limiter=limiter, max_retries=0)

    _hammer(make_client, 25, errors)
    assert not errors, errors
    _assert_sandbox_never_saw_more_than_the_limit(infobip_sandbox, 20, 50)


def test_threads_sharing_an_in_memory_limiter_stay_under_the_rate(infobip_sandbox):
    infobip_sandbox.set_rate_limits(4)
    limiter = rl.InMemoryRateLimiter(multiplier=4, safety=0.75)
    errors = []
    _hammer(
        lambda: InfobipClient(infobip_sandbox.url, SANDBOX_API_KEY, rate_limiter=limiter, max_retries=0), 25, errors
    )
    assert not errors, errors
    _assert_sandbox_never_saw_more_than_the_limit(infobip_sandbox, 20, 50)


def test_without_a_limiter_the_sandbox_answers_429(infobip_sandbox):
    infobip_sandbox.set_rate_limits("real")
    client = InfobipClient(infobip_sandbox.url, SANDBOX_API_KEY, max_retries=0)

    def burst():
        for _ in range(20):
            client.list_tags()

    with pytest.raises(RateLimited) as info:
        burst()
    assert info.value.code == "TOO_MANY_REQUESTS"
    assert set(PUBLISHED_LIMITS.values()) == {5, 10, 15, 250}
