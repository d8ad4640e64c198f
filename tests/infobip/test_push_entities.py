"""The outbox push of what hangs off persons over real HTTP against the sandbox: events, tags, custom
attributes, event definitions, companies, and merges with their undo."""

from __future__ import annotations

import pytest
from django.utils import timezone

from companies import services as company_services
from infobip.models import OutboxAttempt, OutboxEntry, OutboxStatus
from infobip.outbox import engine
from infobip.outbox.payloads import PersonCreate
from people import merging
from people import services as people
from people.models import EventDefinition, Person, SyncStatus
from tests.infobip.conftest import POST_PERSON, drain_all, make_person, remote, statuses
from tests.people.factories import PersonEventFactory, PersonFactory

pytestmark = pytest.mark.django_db

# ------------------------------------------------------------------------------------------------ events


def test_events_carry_our_event_id_and_a_repeat_is_recorded_once(cdp_realm, push_settings, infobip_sandbox):
    people.event_definition_create(
        realm=cdp_realm, definition_id="addToCart", title="Add", fields=[{"name": "itemName", "type": "String"}]
    )
    person = make_person(cdp_realm)
    for n in range(3):
        people.person_event_record(
            person=person, definition_id="addToCart", properties={"itemName": f"i{n}"}, event_id=f"evt-{n}"
        )
    drain_all()
    infobip_id = Person.objects.get(pk=person.pk).infobip_id
    assert sorted(e["eventId"] for e in infobip_sandbox.store.events[infobip_id]) == ["evt-0", "evt-1", "evt-2"]
    assert infobip_sandbox.calls("POST /peopleevents/2/persons/{personId}/definitions/{definitionId}/events") == 3
    OutboxEntry.objects.filter(entity="event").update(status=OutboxStatus.PENDING)  # a repeat, as after a crash
    drain_all()
    assert len(infobip_sandbox.store.events[infobip_id]) == 3
    assert infobip_sandbox.stats()["effects"]["events_deduplicated"] == 3


def test_a_backlog_of_events_goes_in_one_batch(cdp_realm, push_settings, infobip_sandbox):
    people.event_definition_create(realm=cdp_realm, definition_id="pageView", title="View")
    person = make_person(cdp_realm)
    drain_all()
    for _n in range(25):
        people.person_event_record(person=Person.objects.get(pk=person.pk), definition_id="pageView")
    drain_all()
    assert infobip_sandbox.calls("POST /people/3/events") == 1
    assert len(infobip_sandbox.store.events[Person.objects.get(pk=person.pk).infobip_id]) == 25


def test_an_event_waits_for_its_person_to_reach_infobip(cdp_realm, push_settings, infobip_sandbox):
    push_settings.INFOBIP_OUTBOX_BACKOFF_BASE = push_settings.INFOBIP_OUTBOX_BACKOFF_CAP = 60
    people.event_definition_create(realm=cdp_realm, definition_id="pageView", title="View")
    infobip_sandbox.faults.script(POST_PERSON, *([503] * 4))
    person = make_person(cdp_realm)
    people.person_event_record(person=person, definition_id="pageView", event_id="first")
    engine.drain()
    event_row = OutboxEntry.objects.get(entity="event")
    assert (event_row.status, event_row.attempts) == (OutboxStatus.PENDING, 0)
    assert "Waiting for person" in event_row.last_error
    OutboxEntry.objects.update(next_attempt_at=timezone.now())
    drain_all()
    infobip_id = Person.objects.get(pk=person.pk).infobip_id
    assert [e["eventId"] for e in infobip_sandbox.store.events[infobip_id]] == ["first"]


# ---------------------------------------------------------------------------------------- reference data


def test_tags_custom_attributes_and_event_definitions(cdp_realm, push_settings, infobip_sandbox):
    tag = people.tag_create(realm=cdp_realm, name="Gold")
    definition = people.custom_attribute_definition_create(realm=cdp_realm, name="Tier", data_type="STRING")
    event_definition = people.event_definition_create(
        realm=cdp_realm, definition_id="signup", title="Signup", fields=[{"name": "plan", "type": "String"}]
    )
    drain_all()
    store = infobip_sandbox.store
    assert "Gold" in store.tags
    assert store.custom_attributes["Tier"]["dataType"] == "STRING"
    assert store.definitions["signup"]["title"] == "Signup"
    people.event_definition_update(
        definition=event_definition,
        title="Sign-up",
        fields=[{"name": "plan", "type": "String"}, {"name": "seats", "type": "Numeric"}],
    )
    people.tag_delete(tag=tag)
    people.custom_attribute_definition_delete(definition=definition)
    drain_all()
    assert "Gold" not in store.tags
    assert "Tier" not in store.custom_attributes
    assert store.definitions["signup"]["title"] == "Sign-up"
    assert [f["name"] for f in store.definitions["signup"]["fields"]] == ["plan", "seats"]


def test_companies_and_their_persons(cdp_realm, push_settings, infobip_sandbox):
    company = company_services.company_create(realm=cdp_realm, attributes={"name": "Acme", "industry": "IT"})
    person = make_person(cdp_realm, company=company)
    drain_all()
    company.refresh_from_db()
    person.refresh_from_db()
    store = infobip_sandbox.store
    assert store.companies[company.infobip_id]["industry"] == "IT"
    assert store.person_company[person.infobip_id] == company.infobip_id
    assert company.sync_status == SyncStatus.SYNCED
    company_services.company_update(company=company, attributes={"industry": "Retail"})
    people.person_update(person=person, company=None)
    drain_all()
    assert store.companies[company.infobip_id]["industry"] == "Retail"
    assert person.infobip_id not in store.person_company
    company_services.company_delete(company=company)
    drain_all()
    assert store.companies == {}


def test_a_company_delete_spares_the_profile_of_a_newer_company_with_its_name(
    cdp_realm, push_settings, infobip_sandbox
):
    old = company_services.company_create(realm=cdp_realm, attributes={"name": "Acme"})
    company_services.company_delete(company=old)  # deleted before its create reached Infobip: found by name
    new = company_services.company_create(realm=cdp_realm, attributes={"name": "Acme"})
    infobip_sandbox.faults.script("DELETE /people/2/companies", *([503] * 4))  # the new one is made meanwhile
    drain_all()
    new.refresh_from_db()
    assert list(infobip_sandbox.store.companies) == [new.infobip_id]
    delete = OutboxEntry.objects.get(entity="company", op="delete")
    assert delete.status == OutboxStatus.SKIPPED
    assert f"company {new.pk} here holds its name now" in delete.last_error


def test_company_backlog_goes_through_the_batch_endpoints(cdp_realm, push_settings, infobip_sandbox):
    companies = [company_services.company_create(realm=cdp_realm, attributes={"name": f"Co {n}"}) for n in range(8)]
    drain_all()
    assert infobip_sandbox.calls("POST /people/2/companies/batch") == 1
    for company in companies:
        company.refresh_from_db()
        assert infobip_sandbox.store.companies[company.infobip_id]["name"] == company.name
        company_services.company_update(company=company, attributes={"industry": "Travel"})
    drain_all()
    assert infobip_sandbox.calls("PATCH /people/2/companies/batch") == 1
    assert infobip_sandbox.calls("PATCH /people/2/companies") == 0
    assert {c["industry"] for c in infobip_sandbox.store.companies.values()} == {"Travel"}


# ------------------------------------------------------------------------------------------------ merges


def test_a_merge_deletes_the_absorbed_profile_updates_the_survivor_and_moves_its_events(
    cdp_realm, push_settings, infobip_sandbox
):
    people.event_definition_create(realm=cdp_realm, definition_id="pageView", title="View")
    survivor = make_person(cdp_realm, 1, phones=["+385 91 111 1111"])
    absorbed = make_person(cdp_realm, 2, phones=["+385 91 222 2222"])
    people.person_event_record(person=absorbed, definition_id="pageView", event_id="absorbed-event")
    drain_all()
    absorbed_infobip = Person.objects.get(pk=absorbed.pk).infobip_id
    merging.persons_merge(survivor=Person.objects.get(pk=survivor.pk), others=[Person.objects.get(pk=absorbed.pk)])
    drain_all()
    store = infobip_sandbox.store
    assert absorbed_infobip not in store.persons
    record = remote(infobip_sandbox, survivor)
    assert sorted(e["address"] for e in record["contactInformation"]["email"]) == [
        "jane1@example.com",
        "jane2@example.com",
    ]
    assert len(record["contactInformation"]["phone"]) == 2
    assert [e["eventId"] for e in store.events[record["id"]]] == ["absorbed-event"]
    assert Person.objects.get(pk=survivor.pk).sync_status == SyncStatus.SYNCED
    assert statuses() == {"done": OutboxEntry.objects.count()}


def test_a_person_restored_with_its_events_gets_them_in_infobip(cdp_realm, push_settings, infobip_sandbox):
    """What undoing a merge writes: the absorbed person created again, with the events that are its own."""
    people.event_definition_create(realm=cdp_realm, definition_id="pageView", title="View")
    drain_all()
    restored = PersonFactory(realm=cdp_realm, external_id="back-1", sync_status=SyncStatus.PENDING)
    events = [
        PersonEventFactory(
            person=restored, definition=EventDefinition.objects.get(), event_id=f"own-{n}", properties={}
        )
        for n in range(2)
    ]
    OutboxEntry.objects.create(
        realm=cdp_realm, entity="person", entity_id=str(restored.pk), op="create",
        payload=PersonCreate(events=tuple(e.pk for e in events), reason="merge_undo").to_json(),
    )  # fmt: skip
    drain_all()
    record = remote(infobip_sandbox, restored)
    assert sorted(e["eventId"] for e in infobip_sandbox.store.events[record["id"]]) == ["own-0", "own-1"]
    assert statuses() == {"done": OutboxEntry.objects.count()}


def test_undoing_a_merge_brings_the_absorbed_profile_back_to_infobip(cdp_realm, push_settings, infobip_sandbox):
    people.event_definition_create(realm=cdp_realm, definition_id="pageView", title="View")
    survivor = make_person(cdp_realm, 1)
    absorbed = make_person(cdp_realm, 2)
    people.person_event_record(person=absorbed, definition_id="pageView", event_id="theirs")
    drain_all()
    record = merging.persons_merge(
        survivor=Person.objects.get(pk=survivor.pk), others=[Person.objects.get(pk=absorbed.pk)]
    )
    drain_all()
    assert len(infobip_sandbox.store.persons) == 1
    merging.merge_undo(record=record)
    drain_all()
    store = infobip_sandbox.store
    assert len(store.persons) == 2
    back = remote(infobip_sandbox, absorbed)
    assert [e["address"] for e in back["contactInformation"]["email"]] == ["jane2@example.com"]
    assert [e["eventId"] for e in store.events[back["id"]]] == ["theirs"]
    kept = remote(infobip_sandbox, survivor)
    assert [e["address"] for e in kept["contactInformation"]["email"]] == ["jane1@example.com"]
    assert statuses() == {"done": OutboxEntry.objects.count()}


def test_an_undo_supersedes_the_merge_push_still_failing_and_infobip_ends_with_both_persons(
    cdp_realm, push_settings, infobip_sandbox
):
    """Issue 15.1: the merge's push was failing when the merge was undone; once the faults clear, its retry
    must not delete the restored person (the undo supersedes it)."""
    survivor, absorbed = make_person(cdp_realm, 1), make_person(cdp_realm, 2)
    drain_all()
    infobip_sandbox.faults.configure(error_rate=1.0, endpoints=["PUT /people/2/persons"])
    record = merging.persons_merge(
        survivor=Person.objects.get(pk=survivor.pk), others=[Person.objects.get(pk=absorbed.pk)]
    )
    engine.drain(max_rounds=1)  # the absorbed profile is deleted, the survivor's PUT fails: the merge waits
    merge_entry = OutboxEntry.objects.get(entity="merge")
    assert (merge_entry.status, "503" in merge_entry.last_error or "500" in merge_entry.last_error) == (
        OutboxStatus.PENDING,
        True,
    )
    merging.merge_undo(record=record)
    merge_entry.refresh_from_db()
    assert merge_entry.status == OutboxStatus.SUPERSEDED
    assert f"merge {record.pk} was undone" in merge_entry.last_error
    infobip_sandbox.faults.clear()
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())
    drain_all()
    store = infobip_sandbox.store
    assert len(store.persons) == 2
    for person, email in ((survivor, "jane1@example.com"), (absorbed, "jane2@example.com")):
        there = remote(infobip_sandbox, person)
        assert there is not None
        assert person.sync_status == SyncStatus.SYNCED
        assert [e["address"] for e in there["contactInformation"]["email"]] == [email]
    assert survivor.infobip_id != absorbed.infobip_id
    assert OutboxAttempt.objects.filter(entry=merge_entry).count() > 0  # it had really been tried
    assert OutboxStatus.DEAD not in statuses()


def test_a_new_survivor_waits_for_the_merge_push_without_spending_attempts(cdp_realm, push_settings, infobip_sandbox):
    """A survivor never pushed yet, holding the absorbed person's email: its create finds the absorbed profile by
    that email, which the merge's push is about to delete. It waits for that push with no attempt counted (in a
    backlog the merge row may be claimed long after: the 10,000-change SIGKILL run had 88 such rows die)."""
    absorbed = make_person(cdp_realm, 2)
    drain_all()
    survivor = make_person(cdp_realm, 1)  # its create row is still pending
    merging.persons_merge(survivor=Person.objects.get(pk=survivor.pk), others=[Person.objects.get(pk=absorbed.pk)])
    infobip_sandbox.faults.script("DELETE /people/2/persons", *([503] * 40))  # the merge's push keeps failing
    engine.drain(max_rounds=3)
    create = OutboxEntry.objects.get(entity="person", entity_id=str(survivor.pk), op="create")
    merge = OutboxEntry.objects.get(entity="merge")
    assert (create.status, create.attempts) == (OutboxStatus.PENDING, 0)
    assert "waits for that merge's push" in create.last_error
    assert (merge.status, merge.attempts > 0) == (OutboxStatus.PENDING, True)
    infobip_sandbox.faults.clear()
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())
    drain_all()
    survivor.refresh_from_db()
    there = remote(infobip_sandbox, survivor)
    assert sorted(e["address"] for e in there["contactInformation"]["email"]) == [
        "jane1@example.com",
        "jane2@example.com",
    ]
    assert list(infobip_sandbox.store.persons) == [survivor.infobip_id]
    assert set(statuses()) <= {"done", "skipped"}


def test_a_survivors_own_changes_wait_until_the_merge_push_is_done(cdp_realm, push_settings, infobip_sandbox):
    """The merge's push writes the survivor whole; the survivor's own rows are not sent beside it (two workers
    creating or re-linking one survivor at once could leave it linked to a profile the other deleted)."""
    survivor, absorbed = make_person(cdp_realm, 1), make_person(cdp_realm, 2)
    drain_all()
    people.person_update(person=Person.objects.get(pk=survivor.pk), attributes={"city": "Split"})
    merging.persons_merge(survivor=Person.objects.get(pk=survivor.pk), others=[Person.objects.get(pk=absorbed.pk)])
    engine.drain(max_rounds=1)  # one round claims both: the merge goes, the survivor's update waits
    update = OutboxEntry.objects.get(entity="person", entity_id=str(survivor.pk), op="update")
    assert (update.status, update.attempts) == (OutboxStatus.PENDING, 0)
    assert "waits for that merge's push" in update.last_error
    assert OutboxEntry.objects.get(entity="merge").status == OutboxStatus.DONE
    assert "PATCH /people/2/persons" not in infobip_sandbox.stats()["calls"]
    OutboxEntry.objects.filter(status=OutboxStatus.PENDING).update(next_attempt_at=timezone.now())
    drain_all()
    assert remote(infobip_sandbox, survivor)["city"] == "Split"
    assert set(statuses()) == {"done"}
