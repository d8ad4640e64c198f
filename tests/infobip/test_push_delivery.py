"""How the outbox delivers, over real HTTP against the sandbox: backoff, dead letters, claims and leases,
the refusal inside a transaction, wake-ups and the minute schedule."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import transaction
from django.utils import timezone

from infobip import services
from infobip.models import OutboxAttempt, OutboxEntry, OutboxStatus
from infobip.outbox import engine
from infobip.outbox.person_plan import Collections
from infobip.outbox.recording import wakeup_clear
from people import services as people
from people.models import Person, SyncStatus
from tests.infobip.conftest import POST_PERSON, drain_all, make_person, remote, statuses

pytestmark = pytest.mark.django_db


def test_server_errors_back_off_are_recorded_and_succeed_later(cdp_realm, push_settings, infobip_sandbox):
    push_settings.INFOBIP_OUTBOX_BACKOFF_BASE = push_settings.INFOBIP_OUTBOX_BACKOFF_CAP = 60
    infobip_sandbox.faults.script(POST_PERSON, *([503] * 4))  # the client's own 3 retries are not enough
    person = make_person(cdp_realm)
    engine.drain()
    entry = OutboxEntry.objects.get(entity="person")
    person.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    assert entry.next_attempt_at > timezone.now() + dt.timedelta(seconds=20)  # 60 s with jitter: 30..60
    assert "503" in entry.last_error
    assert (person.sync_status, "503" in person.sync_error) == (SyncStatus.PENDING, True)
    failed = OutboxAttempt.objects.get(entry=entry)
    assert (failed.ok, failed.status_code) == (False, 503)
    OutboxEntry.objects.update(next_attempt_at=timezone.now())
    drain_all()
    person.refresh_from_db()
    assert (person.sync_status, person.sync_error) == (SyncStatus.SYNCED, "")
    assert len(infobip_sandbox.store.persons) == 1


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.INFOBIP_OUTBOX_BACKOFF_BASE = 10
    settings.INFOBIP_OUTBOX_BACKOFF_CAP = 100
    assert 5 <= engine.backoff_seconds(1) <= 10
    assert 20 <= engine.backoff_seconds(3) <= 40
    assert 50 <= engine.backoff_seconds(30) <= 100


def test_a_change_that_keeps_failing_becomes_a_dead_letter_and_can_be_retried(
    cdp_realm, push_settings, infobip_sandbox
):
    infobip_sandbox.faults.configure(error_rate=1.0, endpoints=[POST_PERSON])
    person = make_person(cdp_realm)
    drain_all()
    entry = OutboxEntry.objects.get(entity="person")
    person.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.DEAD, 8)
    assert "gave up after 8 attempts" in entry.last_error
    assert person.sync_status == SyncStatus.FAILED
    infobip_sandbox.faults.clear()
    assert services.outbox_retry(entries=[entry]) == 1
    assert Person.objects.get(pk=person.pk).sync_status == SyncStatus.PENDING
    drain_all()
    person.refresh_from_db()
    assert person.sync_status == SyncStatus.SYNCED
    assert len(infobip_sandbox.store.persons) == 1


def test_a_refusal_is_a_dead_letter_at_once(cdp_realm, push_settings, infobip_sandbox, infobip_client):
    infobip_client.create_event_definition(
        {"definitionId": "purchase", "title": "Purchase", "fields": [{"name": "price", "type": "String"}]}
    )
    people.event_definition_create(
        realm=cdp_realm, definition_id="purchase", title="Purchase", fields=[{"name": "price", "type": "Decimal"}]
    )
    person = make_person(cdp_realm)
    _event, _ = people.person_event_record(person=person, definition_id="purchase", properties={"price": 9.5})
    drain_all()
    entry = OutboxEntry.objects.get(entity="event")
    assert (entry.status, entry.attempts) == (OutboxStatus.DEAD, 1)
    assert "400" in entry.last_error


def test_a_dead_change_blocks_later_changes_of_the_same_entity_until_retried(cdp_realm, push_settings, infobip_sandbox):
    infobip_sandbox.faults.configure(error_rate=1.0, endpoints=[POST_PERSON])
    person = make_person(cdp_realm)
    drain_all()
    people.person_update(person=person, attributes={"first_name": "Later"})
    infobip_sandbox.faults.clear()
    drain_all()
    later = OutboxEntry.objects.get(entity="person", op="update")
    assert (later.status, later.attempts) == (OutboxStatus.PENDING, 0)  # never sent before the dead create
    assert infobip_sandbox.store.persons == {}
    services.outbox_retry(entries=OutboxEntry.objects.filter(status=OutboxStatus.DEAD))
    drain_all()
    assert remote(infobip_sandbox, person)["firstName"] == "Later"
    assert statuses() == {"done": 2}


def test_discarding_a_dead_letter_lets_the_entity_go_on(cdp_realm, push_settings, infobip_sandbox):
    infobip_sandbox.faults.configure(error_rate=1.0, endpoints=[POST_PERSON])
    person = make_person(cdp_realm)
    drain_all()
    people.person_update(person=person, attributes={"first_name": "Later"})
    infobip_sandbox.faults.clear()
    services.outbox_discard(entries=OutboxEntry.objects.filter(status="dead"), reason="checked by staff")
    drain_all()
    assert remote(infobip_sandbox, person)["firstName"] == "Later"  # the update of a new person creates it
    assert statuses() == {"skipped": 1, "done": 1}


# ------------------------------------------------------------------------------------- claims and leases


def test_a_worker_killed_after_sending_leaves_nothing_twice(cdp_realm, push_settings, infobip_sandbox):
    persons = [make_person(cdp_realm, n) for n in range(3)]
    works = engine.claim(worker="doomed")
    engine.deliver(works, worker="doomed")  # ... and the worker dies before recording anything
    assert len(infobip_sandbox.store.persons) == 3
    assert engine.claim(worker="other") == []  # the lease still holds
    OutboxEntry.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    drain_all()
    assert len(infobip_sandbox.store.persons) == 3
    assert {remote(infobip_sandbox, p)["externalId"] for p in persons} == {"ext-0", "ext-1", "ext-2"}
    assert set(OutboxEntry.objects.values_list("attempts", flat=True)) == {2}


def test_a_late_worker_that_lost_its_lease_records_nothing(cdp_realm, push_settings, infobip_sandbox):
    make_person(cdp_realm)
    works = engine.claim(worker="slow")
    OutboxEntry.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    taken = engine.claim(worker="fast")
    assert [w.entity for w in taken] == ["person"]
    engine.deliver(works, worker="slow")
    assert engine.record(works, worker="slow") == {}
    assert OutboxEntry.objects.get().status == OutboxStatus.PENDING


def test_a_later_change_is_not_claimed_while_an_earlier_one_is_in_flight(cdp_realm, push_settings):
    person = make_person(cdp_realm)
    first = engine.claim(worker="a")
    people.person_update(person=person, attributes={"first_name": "Later"})
    assert engine.claim(worker="b") == []
    assert [e.op for e in first[0].entries] == ["create"]


def test_workers_die_too_often_on_a_row_it_becomes_dead(cdp_realm, push_settings):
    make_person(cdp_realm)
    OutboxEntry.objects.update(attempts=8, locked_until=timezone.now() - dt.timedelta(seconds=1), locked_by="x")
    assert engine.claim(worker="w") == []
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.DEAD
    assert "No worker finished" in entry.last_error


def test_the_push_refuses_to_run_inside_a_transaction(cdp_realm, push_settings):
    make_person(cdp_realm)
    works = engine.claim(worker="w")
    with transaction.atomic(), pytest.raises(RuntimeError, match="inside a database transaction"):
        engine.deliver(works, worker="w")


# ----------------------------------------------------------------------------------------------- wake-up


def test_commits_wake_one_drain_task_until_it_starts(
    cdp_realm, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INFOBIP_OUTBOX_AUTODRAIN = True
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *a, **k: queued.append(func))
    wakeup_clear()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(20):
            make_person(cdp_realm, n)
    assert queued == ["infobip.tasks.drain_outbox"]
    wakeup_clear()  # what the drain task does when it starts
    with django_capture_on_commit_callbacks(execute=True):
        make_person(cdp_realm, 99)
    assert queued == ["infobip.tasks.drain_outbox"] * 2


def test_the_rounds_bodies_are_what_the_api_renders(cdp_realm):
    from people.representation import person_as_infobip

    person = people.person_create(
        realm=cdp_realm,
        attributes={"first_name": "Ana", "external_id": "b-1", "birth_date": "1990-02-03", "gender": "FEMALE"},
        phones=["+385 91 111 2222", "+385 98 333 4444"],
        emails=["b@example.com", "a@example.com"],
        tags=["Zeta", "Alpha"],
    )
    fresh = Person.objects.get(pk=person.pk)
    assert Collections.load([person.pk]).body(fresh) == person_as_infobip(fresh)


def test_the_minute_schedule_drains_resumes_and_purges_old_deliveries(cdp_realm, push_settings, infobip_sandbox):
    from infobip import tasks

    make_person(cdp_realm, 1)
    drain_all()
    OutboxEntry.objects.update(processed_at=timezone.now() - dt.timedelta(days=40))
    make_person(cdp_realm, 2)
    result = tasks.outbox_tick()
    assert (result["purged"], result["entries"], result["resumed_sync_runs"]) == (1, 1, [])
    assert list(OutboxEntry.objects.values_list("status", flat=True)) == [OutboxStatus.DONE]
    assert OutboxAttempt.objects.count() == 1


def test_the_minute_schedule_is_registered_once_however_often_it_is_set_up(db):
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=io.StringIO())
    call_command("setup_schedules", stdout=io.StringIO())
    schedule = Schedule.objects.get(name="infobip-outbox-tick")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("infobip.tasks.outbox_tick", "I", 1)
