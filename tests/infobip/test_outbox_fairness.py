"""The drain is fair across realms (a realm's backlog cannot starve another's changes) and keeps within its
time budget (no round is started near its end, no call or retry wait is made past it)."""

from __future__ import annotations

import pytest

from infobip.models import OutboxEntity, OutboxEntry, OutboxStatus
from infobip.outbox import engine
from people import services as people
from tests.identities.factories import RealmFactory
from tests.infobip.conftest import bulk_person_creates, drain_all, statuses

pytestmark = pytest.mark.django_db


def test_a_small_realm_is_served_in_the_first_round_behind_a_large_backlog(push_settings, cdp_realm, infobip_sandbox):
    big = bulk_person_creates(cdp_realm, 0, 400)  # older rows: a plain "oldest first" claim takes only these
    small_realm = RealmFactory(name="Small", cdp_enabled=True)
    small = bulk_person_creates(small_realm, 10_000, 20)

    report = engine.drain(max_rounds=1, claim_size=100)

    assert report.more
    assert report.entries == 100
    done = OutboxEntry.objects.filter(status=OutboxStatus.DONE)
    assert done.filter(realm=small_realm).count() == 20  # all of the small realm's rows, in the first round
    assert done.filter(realm=cdp_realm).count() == 80  # the claim's rest went to the large realm
    assert {infobip_sandbox.store.persons[p.infobip_id]["externalId"] for p in _reloaded(small)} == {
        f"f-{i}" for i in range(10_000, 10_020)
    }

    drain_all()
    assert statuses() == {"done": 420}
    assert len(infobip_sandbox.store.persons) == 420
    assert all(p.infobip_id for p in _reloaded(big))


def test_equal_shares_when_every_realm_has_a_backlog(push_settings, cdp_realm, infobip_sandbox):
    other = RealmFactory(name="Other", cdp_enabled=True)
    third = RealmFactory(name="Third", cdp_enabled=True)
    bulk_person_creates(cdp_realm, 0, 300)
    bulk_person_creates(other, 1000, 300)
    bulk_person_creates(third, 2000, 10)

    engine.drain(max_rounds=1, claim_size=90)

    done = OutboxEntry.objects.filter(status=OutboxStatus.DONE)
    # 30 each; the third realm's unused share went to the oldest heads (the first realm's)
    assert done.filter(realm=third).count() == 10
    assert done.filter(realm=other).count() == 30
    assert done.filter(realm=cdp_realm).count() == 50


def test_a_drain_stops_calling_when_its_budget_is_spent(push_settings, cdp_realm, infobip_sandbox):
    for n in range(40):
        people.tag_create(realm=cdp_realm, name=f"Slow{n}")
    infobip_sandbox.faults.configure(latency_ms=200)  # 40 calls: 8 s for a round without a budget

    report = engine.drain(max_seconds=1.0)

    assert report.more
    assert report.rounds == 1
    sent = infobip_sandbox.stats()["calls"].get("POST /people/2/tags", 0)
    assert 1 <= sent <= 10  # about five in the second; far from forty
    waiting = OutboxEntry.objects.filter(entity=OutboxEntity.TAG, status=OutboxStatus.PENDING)
    assert waiting.count() == 40 - sent
    assert set(waiting.values_list("attempts", flat=True)) == {0}  # a budget stop is no failed attempt
    assert "time budget" in waiting.first().last_error

    infobip_sandbox.faults.configure(latency_ms=0)
    drain_all()
    assert statuses() == {"done": 40}
    assert infobip_sandbox.stats()["calls"]["POST /people/2/tags"] == 40  # none sent twice
    assert {f"Slow{n}" for n in range(40)} <= set(infobip_sandbox.store.tags)


def test_a_rate_limit_wait_counts_against_the_budget(push_settings, cdp_realm, infobip_sandbox):
    push_settings.INFOBIP_MAX_RETRIES = 4
    push_settings.INFOBIP_OUTBOX_BACKOFF_BASE = 60  # the row is not due again within this drain
    from infobip.client import clear_client_cache

    clear_client_cache()
    people.tag_create(realm=cdp_realm, name="Throttled")
    infobip_sandbox.faults.script("POST /people/2/tags", ("429", 30), ("429", 30))  # "come back in 30 s"

    report = engine.drain(max_seconds=2.0)

    # The client did not sleep 30 s for a retry the budget has no room for: one request, the row backs off.
    # (without the budget: 429, 30 s, 429, 30 s, created: three requests)
    assert infobip_sandbox.stats()["calls"]["POST /people/2/tags"] < 3
    assert report.outcomes.get("retry", 0) >= 1
    entry = OutboxEntry.objects.get(entity=OutboxEntity.TAG)
    assert entry.status == OutboxStatus.PENDING
    assert entry.last_error


def _reloaded(persons):
    from people.models import Person

    return list(Person.objects.filter(pk__in=[p.pk for p in persons]))
