"""The outbox under faults: 10,000 changes through a sandbox answering 20% of requests with 5xx, losing 10% of
create responses and throttling below Infobip's published limits all arrive exactly once in effect.

The changes are written in bulk the way the services write them (same rows, same payloads), so the test spends
its time on the push, not on building a backlog."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from infobip.client import clear_client_cache
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from people import services as people
from people.models import Person, PersonEmail, PersonEvent, SyncStatus, Tag
from tests.infobip.conftest import bulk_person_creates, drain_all, outbox_rows, statuses, update_payload

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def faulty(push_settings, infobip_sandbox):
    push_settings.INFOBIP_RATE_LIMITS = "0.5"  # our limiter paces at half of Infobip's published limits ...
    push_settings.INFOBIP_RATE_LIMITER = "memory"
    push_settings.INFOBIP_OUTBOX_MAX_ATTEMPTS = 30
    push_settings.INFOBIP_OUTBOX_CLAIM = 1000
    clear_client_cache()
    infobip_sandbox.set_rate_limits("0.4")  # ... and the sandbox allows even less: some 429s on top
    infobip_sandbox.faults.configure(error_rate=0.2, lose_create_rate=0.1, seed=7)
    yield infobip_sandbox
    clear_client_cache()


def test_ten_thousand_changes_arrive_exactly_once_in_effect(cdp_realm, faulty):
    sandbox = faulty
    started = time.monotonic()
    tag = people.tag_create(realm=cdp_realm, name="Fault")
    definition = people.event_definition_create(
        realm=cdp_realm, definition_id="faultEvent", title="Fault", fields=[{"name": "n", "type": "Numeric"}]
    )
    persons = bulk_person_creates(cdp_realm, 0, 4000, tag)
    drain_all(timeout=240)

    # Round two: updates (some coalesced), contact changes, events, deletes, and new persons changed at once.
    now = timezone.now()
    Person.objects.filter(pk__in=[p.pk for p in persons[:2500]]).update(first_name="Q", modified=now)
    Person.objects.filter(pk__in=[p.pk for p in persons[:500]]).update(city="Zadar", modified=now)
    rows = outbox_rows(
        cdp_realm,
        OutboxEntity.PERSON,
        OutboxOp.UPDATE,
        [(p.pk, update_payload(["first_name"])) for p in persons[:2500]],
    )
    rows += outbox_rows(
        cdp_realm, OutboxEntity.PERSON, OutboxOp.UPDATE, [(p.pk, update_payload(["city"])) for p in persons[:500]]
    )
    swapped = persons[2500:2510]
    for n, person in enumerate(swapped):
        old = f"f{2500 + n}@example.com"
        PersonEmail.objects.filter(person=person).update(address=f"new{2500 + n}@example.com")
        rows += outbox_rows(
            cdp_realm,
            OutboxEntity.PERSON,
            OutboxOp.UPDATE,
            [(person.pk, update_payload(added={"emails": [f"new{2500 + n}@example.com"]}, removed={"emails": [old]}))],
        )
    events = PersonEvent.objects.bulk_create(
        [
            PersonEvent(realm=cdp_realm, person=p, definition=definition, event_id=f"fe-{n}", properties={"n": n})
            for n, p in enumerate(persons[:2000])
        ]
    )
    rows += outbox_rows(cdp_realm, OutboxEntity.EVENT, OutboxOp.SEND, [(e.pk, {}) for e in events])
    gone = list(Person.objects.filter(pk__in=[p.pk for p in persons[3000:3900]]).prefetch_related("phones", "emails"))
    rows += outbox_rows(
        cdp_realm,
        OutboxEntity.PERSON,
        OutboxOp.DELETE,
        [(p.pk, people.person_identifiers(p)) for p in gone],
    )
    gone_infobip = {p.infobip_id for p in gone}
    OutboxEntry.objects.bulk_create(rows)
    Person.objects.filter(pk__in=[p.pk for p in gone]).delete()
    late = bulk_person_creates(cdp_realm, 4000, 100, tag)
    Person.objects.filter(pk__in=[p.pk for p in late]).update(first_name="Late")
    OutboxEntry.objects.bulk_create(
        outbox_rows(
            cdp_realm, OutboxEntity.PERSON, OutboxOp.UPDATE, [(p.pk, update_payload(["first_name"])) for p in late]
        )
    )
    assert OutboxEntry.objects.count() >= 10_000
    drain_all(timeout=240)

    # Every row delivered, none dead; the faults really happened.
    assert statuses() == {"done": OutboxEntry.objects.count()}
    stats = sandbox.stats()
    faults = stats["faults"]
    calls = sum(stats["calls"].values())
    print(f"{calls} calls, faults: { {kind: sum(v.values()) for kind, v in faults.items()} }")
    assert sum(faults["injected_errors"].values()) >= 5  # about a fifth of ~100 calls: batches keep calls few
    assert sum(faults["lost_responses"].values()) >= 1
    assert sum(faults["rate_limited"].values()) >= 1

    # Exactly once in effect: each person created once, deleted ones gone, the rest equal to ours.
    store = sandbox.store
    effects = stats["effects"]
    assert effects["persons_created"] == 4100
    assert effects["persons_deleted"] == 900
    alive = list(Person.objects.filter(realm=cdp_realm).prefetch_related("emails", "phones", "tags"))
    assert len(store.persons) == len(alive) == 3200
    assert not gone_infobip & set(store.persons)
    for person in alive:
        record = store.persons[person.infobip_id]
        assert (record["externalId"], record["firstName"], record.get("city", "")) == (
            person.external_id,
            person.first_name,
            person.city,
        )
        contacts = record["contactInformation"]
        assert sorted(e["address"] for e in contacts.get("email", ())) == sorted(e.address for e in person.emails.all())
        assert sorted(p["number"] for p in contacts.get("phone", ())) == sorted(p.number for p in person.phones.all())
        assert record["tags"] == [t.name for t in person.tags.all()]
        assert person.sync_status == SyncStatus.SYNCED
    assert Tag.objects.get(pk=tag.pk).name in store.tags

    # Each event recorded once on its person, with our eventId.
    assert effects["events_recorded"] == 2000
    by_person = {p.pk: p.infobip_id for p in alive}
    for event in PersonEvent.objects.filter(realm=cdp_realm):
        recorded = [e for e in store.events[by_person[event.person_id]] if e["eventId"] == event.event_id]
        assert len(recorded) == 1
    assert OutboxEntry.objects.filter(status=OutboxStatus.DONE).count() >= 10_000
    assert time.monotonic() - started < 240
