"""Fixtures of the push and sync tests: settings pointed at the in-process sandbox, fast backoff, a drain loop."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from infobip.outbox import engine
from infobip.outbox.payloads import PersonChange, Sets
from people import services as people
from people.models import Person, PersonEmail, PersonPhone, SyncStatus

POST_PERSON = "POST /people/2/persons"


@pytest.fixture
def push_settings(infobip_settings):
    """Client and outbox timings for tests: retries and backoff in milliseconds, nothing queued on commit."""
    s = infobip_settings
    s.INFOBIP_MAX_RETRIES = 3
    s.INFOBIP_BACKOFF = 0.002
    s.INFOBIP_BACKOFF_CAP = 0.01
    s.INFOBIP_OUTBOX_BACKOFF_BASE = 0.01
    s.INFOBIP_OUTBOX_BACKOFF_CAP = 0.05
    s.INFOBIP_OUTBOX_MAX_ATTEMPTS = 8
    s.INFOBIP_OUTBOX_BATCH_MIN = 5
    s.INFOBIP_OUTBOX_AUTODRAIN = False
    return s


def drain_all(*, timeout: float = 60.0, **options) -> engine.DrainReport:
    """Drain until nothing is left to claim, sleeping through backoffs; returns the summed report.

    Rows that are due but cannot be claimed (blocked behind a dead row of their entity) stay pending."""
    total = engine.DrainReport()
    deadline = time.monotonic() + timeout
    confirming = False
    while True:
        report = engine.drain(**options)
        total.rounds += report.rounds
        total.entries += report.entries
        for key, value in report.outcomes.items():
            total.outcomes[key] += value
        if time.monotonic() > deadline:
            pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count()
            raise AssertionError(f"outbox not drained within {timeout}s: {pending} pending")
        if report.entries:
            confirming = False
            continue
        pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING)
        if not pending.exists():
            return total
        if pending.filter(next_attempt_at__gt=timezone.now()).exists():
            time.sleep(0.01)  # backing off
            continue
        if confirming:
            return total  # due, yet nothing was claimed twice in a row: blocked behind a dead row
        confirming = True  # (a row may have come due between the claim and this look)


def statuses() -> dict[str, int]:
    from django.db.models import Count

    return dict(OutboxEntry.objects.values_list("status").annotate(n=Count("id")).order_by())


def outbox_rows(realm, entity, op, items):
    return [OutboxEntry(realm=realm, entity=entity, entity_id=str(pk), op=op, payload=payload) for pk, payload in items]


def update_payload(fields=(), added=None, removed=None):
    return PersonChange.build(
        fields=fields, added=Sets.of(**(added or {})), removed=Sets.of(**(removed or {}))
    ).to_json()


def bulk_person_creates(realm, first, count, tag=None):
    """Persons and their create rows as person_create writes them, in bulk (an email each, a phone on every
    second, the tag on every third)."""
    persons = Person.objects.bulk_create(
        [
            Person(
                realm=realm,
                external_id=f"f-{i}",
                first_name="P",
                last_name=f"L{i}",
                sync_status=SyncStatus.PENDING,
            )
            for i in range(first, first + count)
        ]
    )
    PersonEmail.objects.bulk_create(
        [PersonEmail(realm=realm, person=p, address=f"f{first + n}@example.com") for n, p in enumerate(persons)]
    )
    PersonPhone.objects.bulk_create(
        [PersonPhone(realm=realm, person=p, number=f"3859{first + n:09d}") for n, p in enumerate(persons) if n % 2 == 0]
    )
    if tag is not None:
        Person.tags.through.objects.bulk_create(
            [Person.tags.through(person_id=p.pk, tag_id=tag.pk) for n, p in enumerate(persons) if n % 3 == 0]
        )
    OutboxEntry.objects.bulk_create(
        outbox_rows(realm, OutboxEntity.PERSON, OutboxOp.CREATE, [(p.pk, {}) for p in persons])
    )
    return persons


def remote(sandbox, person):
    """The sandbox's copy of a person, by the Infobip id the push stored on it."""
    person.refresh_from_db()
    return sandbox.store.persons.get(person.infobip_id)


def make_person(realm, n=1, **extra):
    """A person created through the service, so its create row is in the outbox."""
    return people.person_create(
        realm=realm,
        attributes={"first_name": "Jane", "last_name": f"Doe{n}", "external_id": f"ext-{n}"},
        emails=[f"jane{n}@example.com"],
        **extra,
    )
