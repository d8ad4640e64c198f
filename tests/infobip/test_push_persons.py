"""The outbox push of persons over real HTTP against the sandbox: creates, updates, deletes, coalescing,
adoption by identifiers, batches, and relinking after Infobip lost its data."""

from __future__ import annotations

import pytest
from django.db import transaction

from infobip.models import OutboxAttempt, OutboxEntry, OutboxStatus
from infobip.outbox import engine, outbox_record
from infobip.outbox.payloads import PersonGone
from people import services as people
from people.models import CustomAttributeDefinition, Person, SyncStatus, Tag
from tests.infobip.conftest import POST_PERSON, drain_all, make_person, remote, statuses

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("fault", ["503", "lose"])
def test_a_create_that_fails_transiently_writes_our_state_onto_the_profile_its_lookup_finds(
    fault, cdp_realm, push_settings, infobip_sandbox
):
    """The safe create's look-up after a 5xx cannot tell our own lost create from a profile that was there before
    (an absorbed person's profile that a merge undo brings back): either way our state is written onto it."""
    existing = infobip_sandbox.load_persons(
        [{"externalId": "ext-1", "firstName": "Old", "contactInformation": {"email": [{"address": "old@example.com"}]}}]
    )[0]
    infobip_sandbox.faults.script(POST_PERSON, fault)
    person = make_person(cdp_realm)
    drain_all()
    person.refresh_from_db()
    assert person.infobip_id == existing
    record = infobip_sandbox.store.persons[existing]
    assert (record["firstName"], record["lastName"]) == ("Jane", "Doe1")
    assert "jane1@example.com" in {e["address"] for e in record["contactInformation"]["email"]}
    assert len(infobip_sandbox.store.persons) == 1
    assert person.sync_status == SyncStatus.SYNCED


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


# ----------------------------------------------------------------------------------------------- batches


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


# ----------------------------------------------------------------------------------- deletes and relinks


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
