"""The outbox push over real HTTP against the sandbox: every kind of change, coalescing, order, batches,
failures and dead letters, merges, realms without the extension, wake-ups."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import transaction
from django.utils import timezone

from companies import services as company_services
from infobip import services
from infobip.models import OutboxAttempt, OutboxEntry, OutboxStatus
from infobip.outbox import engine, outbox_record
from infobip.outbox.payloads import PersonCreate, PersonGone
from infobip.outbox.person_plan import Collections
from infobip.outbox.recording import wakeup_clear
from people import merging
from people import services as people
from people.models import CustomAttributeDefinition, EventDefinition, Person, SyncStatus, Tag
from tests.infobip.conftest import drain_all, statuses
from tests.people.factories import PersonEventFactory, PersonFactory

pytestmark = pytest.mark.django_db

POST_PERSON = "POST /people/2/persons"


def remote(sandbox, person):
    person.refresh_from_db()
    return sandbox.store.persons.get(person.infobip_id)


def make_person(realm, n=1, **extra):
    return people.person_create(
        realm=realm,
        attributes={"first_name": "Jane", "last_name": f"Doe{n}", "external_id": f"ext-{n}"},
        emails=[f"jane{n}@example.com"],
        **extra,
    )


def test_create_stores_the_infobip_id_and_marks_the_person_synced(cdp_realm, push_settings, infobip_sandbox):
    person = people.person_create(
        realm=cdp_realm,
        attributes={"first_name": "Jane", "last_name": "Smith", "external_id": "ext-1"},
        phones=["+385 91 234 5678"],
        emails=["jane@example.com"],
        tags=["VIP"],
    )
    report = drain_all()
    record = remote(infobip_sandbox, person)
    assert person.sync_status == SyncStatus.SYNCED
    assert person.synced_at is not None
    assert (record["firstName"], record["externalId"], record["tags"]) == ("Jane", "ext-1", ["VIP"])
    assert record["contactInformation"]["phone"] == [{"number": "385912345678"}]
    assert report.outcomes["done"] == 2  # the tag and the person
    attempt = OutboxAttempt.objects.get(entry__entity="person")
    assert (attempt.ok, attempt.status_code) == (True, 200)
    assert attempt.request.startswith("POST /people/2/persons EXTERNAL_ID=ext-1")


def test_updates_patch_what_changed_and_remove_contacts_and_tags(cdp_realm, push_settings, infobip_sandbox):
    person = people.person_create(
        realm=cdp_realm,
        attributes={"first_name": "Jane", "external_id": "e1"},
        emails=["a@example.com", "b@example.com"],
        tags=["VIP", "Old"],
    )
    drain_all()
    infobip_sandbox.reset_stats = None
    calls_before = dict(infobip_sandbox.stats()["calls"])
    people.person_update(
        person=person,
        attributes={"first_name": "Janet", "city": "Split"},
        phones=["+385 98 111 2222"],
        tags=["New"],
        remove_emails=["b@example.com"],
        remove_tags=["Old"],
    )
    drain_all()
    record = remote(infobip_sandbox, person)
    assert (record["firstName"], record["city"]) == ("Janet", "Split")
    assert sorted(record["tags"]) == ["New", "VIP"]
    assert record["contactInformation"]["email"] == [{"address": "a@example.com"}]
    assert record["contactInformation"]["phone"] == [{"number": "385981112222"}]
    calls = infobip_sandbox.stats()["calls"]
    assert calls.get("PATCH /people/2/persons", 0) - calls_before.get("PATCH /people/2/persons", 0) == 1
    assert calls.get("DELETE /people/2/persons/contactInformation") == 1
    assert calls.get("DELETE /people/2/tags/{name}/persons") == 1
    assert calls.get(POST_PERSON) == 1
    assert person.sync_status == SyncStatus.SYNCED


def test_changes_of_one_person_are_coalesced_into_one_call(cdp_realm, push_settings, infobip_sandbox):
    person = make_person(cdp_realm)
    for name in ("A", "B", "C"):
        people.person_update(person=person, attributes={"first_name": name})
    report = drain_all()
    assert report.entries == 4
    calls = infobip_sandbox.stats()["calls"]
    assert calls == {POST_PERSON: 1}
    assert remote(infobip_sandbox, person)["firstName"] == "C"
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {OutboxStatus.DONE}


def test_delete_removes_the_person_from_infobip(cdp_realm, push_settings, infobip_sandbox):
    person = make_person(cdp_realm)
    drain_all()
    infobip_id = Person.objects.get(pk=person.pk).infobip_id
    people.person_delete(person=person)
    drain_all()
    assert infobip_id not in infobip_sandbox.store.persons
    assert infobip_sandbox.stats()["effects"]["persons_deleted"] == 1


def test_a_person_created_and_deleted_before_the_push_is_looked_for_not_created(
    cdp_realm, push_settings, infobip_sandbox
):
    person = make_person(cdp_realm)
    people.person_delete(person=person)
    drain_all()
    calls = infobip_sandbox.stats()["calls"]
    assert POST_PERSON not in calls
    assert calls["GET /people/2/persons"] >= 1  # a lost earlier attempt could have made it: look, find nothing
    assert infobip_sandbox.store.persons == {}


def test_a_lost_create_response_never_makes_a_duplicate(cdp_realm, push_settings, infobip_sandbox):
    infobip_sandbox.faults.script(POST_PERSON, "lose")
    person = make_person(cdp_realm)
    drain_all()
    assert len(infobip_sandbox.store.persons) == 1
    assert remote(infobip_sandbox, person)["externalId"] == "ext-1"
    assert infobip_sandbox.stats()["faults"]["lost_responses"][POST_PERSON] == 1
    assert infobip_sandbox.calls(POST_PERSON) == 1  # looked up, found, never sent again


def test_a_create_whose_identifier_exists_in_infobip_adopts_that_person(cdp_realm, push_settings, infobip_sandbox):
    existing = infobip_sandbox.load_persons(
        [{"firstName": "Old", "contactInformation": {"email": [{"address": "jane1@example.com"}]}}]
    )[0]
    person = make_person(cdp_realm)
    drain_all()
    person.refresh_from_db()
    assert person.infobip_id == existing
    assert len(infobip_sandbox.store.persons) == 1
    record = infobip_sandbox.store.persons[existing]
    assert (record["firstName"], record["externalId"]) == ("Jane", "ext-1")


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


def test_missing_tags_and_attributes_are_created_in_infobip_first(cdp_realm, push_settings, infobip_sandbox):
    Tag.objects.create(realm=cdp_realm, name="Imported")  # made without an outbox row (e.g. by a bulk import)
    CustomAttributeDefinition.objects.create(realm=cdp_realm, name="Score", data_type="INTEGER")
    person = make_person(cdp_realm, tags=["Imported"], custom_attributes={"Score": 7})
    drain_all()
    record = remote(infobip_sandbox, person)
    assert (record["tags"], record["customAttributes"]) == (["Imported"], {"Score": 7})
    assert person.sync_status == SyncStatus.SYNCED


def test_a_realm_without_the_extension_pushes_nothing(cdp_realm, push_settings, infobip_sandbox):
    make_person(cdp_realm)
    cdp_realm.cdp_enabled = False
    cdp_realm.save()
    drain_all()
    assert infobip_sandbox.stats()["calls"] == {}
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.SKIPPED
    assert "extension is off" in entry.last_error


def test_a_person_without_identifiers_is_created_once_and_an_ambiguous_failure_is_not_repeated(
    cdp_realm, push_settings, infobip_sandbox
):
    person = people.person_create(realm=cdp_realm, attributes={"first_name": "Nobody"})
    infobip_sandbox.faults.script(POST_PERSON, "lose")
    drain_all()
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.DEAD
    assert "no externalId, email or phone" in entry.last_error
    assert infobip_sandbox.calls(POST_PERSON) == 1
    assert len(infobip_sandbox.store.persons) == 1  # made once, never twice
    person.refresh_from_db()
    assert person.sync_status == SyncStatus.FAILED


# ------------------------------------------------------------------------------------------------ batches


def test_a_backlog_goes_through_the_batch_endpoints(cdp_realm, push_settings, infobip_sandbox):
    persons = [make_person(cdp_realm, n) for n in range(30)]
    drain_all()
    calls = infobip_sandbox.stats()["calls"]
    assert calls == {"POST /people/2/persons/batch": 1, "POST /people/2/persons/match": 1}
    for person in persons:
        assert remote(infobip_sandbox, person)["externalId"] == person.external_id
    for person in persons:
        people.person_update(person=Person.objects.get(pk=person.pk), attributes={"city": "Zadar"})
    drain_all()
    assert infobip_sandbox.calls("PATCH /people/2/persons/batch") == 1
    assert {p["city"] for p in infobip_sandbox.store.persons.values()} == {"Zadar"}
    for person in persons:
        people.person_delete(person=Person.objects.get(pk=person.pk))
    drain_all()
    assert infobip_sandbox.calls("DELETE /people/2/persons/batch") == 1
    assert infobip_sandbox.store.persons == {}
    assert set(OutboxEntry.objects.values_list("status", flat=True)) == {OutboxStatus.DONE}


def test_tag_removals_of_many_persons_go_one_call_per_tag(cdp_realm, push_settings, infobip_sandbox):
    persons = [make_person(cdp_realm, n, tags=["Old", "Keep"]) for n in range(12)]
    drain_all()
    for person in persons:
        people.person_update(person=Person.objects.get(pk=person.pk), remove_tags=["Old"], attributes={"city": "Pula"})
    drain_all()
    assert infobip_sandbox.calls("DELETE /people/2/tags/{name}/persons") == 1
    assert infobip_sandbox.calls("PATCH /people/2/persons/batch") == 1
    assert infobip_sandbox.calls("PATCH /people/2/persons") == 0
    assert infobip_sandbox.store.tag_members["Old"] == set()
    assert {(tuple(p["tags"]), p["city"]) for p in infobip_sandbox.store.persons.values()} == {(("Keep",), "Pula")}


def test_a_lost_batch_create_response_adopts_our_own_persons(cdp_realm, push_settings, infobip_sandbox):
    infobip_sandbox.faults.script("POST /people/2/persons/batch", "lose")
    persons = [make_person(cdp_realm, n) for n in range(20)]
    drain_all()
    assert len(infobip_sandbox.store.persons) == 20
    assert infobip_sandbox.calls("POST /people/2/persons/batch") == 2
    assert {remote(infobip_sandbox, p)["externalId"] for p in persons} == {p.external_id for p in persons}


def test_batch_items_infobip_refuses_go_through_the_single_path(cdp_realm, push_settings, infobip_sandbox):
    Tag.objects.create(realm=cdp_realm, name="Quiet")  # not in Infobip: the batch refuses the items using it
    persons = [make_person(cdp_realm, n, tags=["Quiet"] if n % 2 else []) for n in range(10)]
    drain_all()
    assert len(infobip_sandbox.store.persons) == 10
    assert all(Person.objects.get(pk=p.pk).sync_status == SyncStatus.SYNCED for p in persons)
    assert infobip_sandbox.store.tag_members["Quiet"] == {Person.objects.get(pk=p.pk).infobip_id for p in persons[1::2]}


# ------------------------------------------------------------------------------------------------- events


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


# ------------------------------------------------------------------------------------- reference data


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


# ------------------------------------------------------------------------------------------------- merges


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


def test_a_delete_spares_an_infobip_id_that_a_live_person_holds_now(cdp_realm, push_settings, infobip_sandbox):
    keeper = make_person(cdp_realm, 1)
    drain_all()
    keeper.refresh_from_db()
    with transaction.atomic():  # an old delete that names the id a newer local fact gave to `keeper`
        outbox_record(
            realm=cdp_realm, entity="person", entity_id=999_999, op="delete",
            payload=PersonGone(infobip_id=keeper.infobip_id, emails=("old@example.com",)).to_json(),
        )  # fmt: skip
    drain_all()
    assert keeper.infobip_id in infobip_sandbox.store.persons
    assert "DELETE /people/2/persons" not in infobip_sandbox.stats()["calls"]
    entry = OutboxEntry.objects.get(entity_id="999999")
    assert entry.status == OutboxStatus.SKIPPED
    assert f"belongs to person {keeper.pk} here now" in entry.last_error


def test_a_person_delete_supersedes_its_pending_changes(cdp_realm, push_settings, infobip_sandbox):
    person = make_person(cdp_realm)
    drain_all()
    people.person_update(person=Person.objects.get(pk=person.pk), attributes={"city": "Split"})
    people.person_delete(person=Person.objects.get(pk=person.pk))
    update = OutboxEntry.objects.get(entity="person", op="update")
    assert (update.status, update.last_error) == (
        OutboxStatus.SUPERSEDED,
        f"Superseded: person {person.pk} was deleted (its delete is sent instead).",
    )
    drain_all()
    assert infobip_sandbox.store.persons == {}
    assert "PATCH /people/2/persons" not in infobip_sandbox.stats()["calls"]


def test_after_infobip_lost_its_data_persons_are_relinked_by_their_identifiers_never_left_failed(
    cdp_realm, push_settings, infobip_sandbox
):
    """Issue 15.3: the sandbox restarted empty while our rows kept their Infobip ids; the next change re-creates
    the person, Infobip reuses an id another local person still holds: that one is re-linked too."""
    first, second = make_person(cdp_realm, 1), make_person(cdp_realm, 2)
    drain_all()
    first.refresh_from_db()
    assert first.infobip_id == 1
    infobip_sandbox.reset()  # Infobip forgot everything; ids start at 1 again
    people.person_update(person=Person.objects.get(pk=second.pk), attributes={"city": "Split"})
    drain_all()
    store = infobip_sandbox.store
    assert len(store.persons) == 2
    for person, external_id in ((first, "ext-1"), (second, "ext-2")):
        there = remote(infobip_sandbox, person)
        assert there["externalId"] == external_id
        assert (person.sync_status, person.sync_error) == (SyncStatus.SYNCED, "")
    assert remote(infobip_sandbox, second)["city"] == "Split"
    assert set(statuses()) == {OutboxStatus.DONE}
    creates = OutboxEntry.objects.filter(entity="person", entity_id=str(first.pk), op="create")
    assert creates.count() == 2  # its own, and the one its relink queued


def test_a_profile_found_by_shared_identifiers_is_not_taken_from_its_holder(
    cdp_realm, push_settings, infobip_sandbox, infobip_client
):
    """The other side of the stale-id check: the profile Infobip answers with really is the holder's (it carries
    the holder's identifiers), so the change waits with the reason instead of stealing the link."""
    holder = make_person(cdp_realm, 1)
    drain_all()
    holder.refresh_from_db()
    infobip_client.update_person(  # someone gave the holder's profile the newcomer's email in Infobip
        "ID", holder.infobip_id, {"contactInformation": {"email": [{"address": "other@example.com"}]}}
    )
    newcomer = people.person_create(realm=cdp_realm, attributes={"first_name": "Other"}, emails=["other@example.com"])
    engine.drain(max_rounds=1)
    entry = OutboxEntry.objects.get(entity_id=str(newcomer.pk))
    assert entry.status == OutboxStatus.PENDING
    assert f"is the Infobip profile of person {holder.pk} here" in entry.last_error
    holder.refresh_from_db()
    assert holder.infobip_id is not None


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
    from django.db import transaction

    make_person(cdp_realm)
    works = engine.claim(worker="w")
    with transaction.atomic(), pytest.raises(RuntimeError, match="inside a database transaction"):
        engine.deliver(works, worker="w")


# ------------------------------------------------------------------------------------------------ wake-up


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
