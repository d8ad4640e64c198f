"""A stored Infobip id that Infobip handed to someone else's profile (the sandbox reset between pushes, so ids are
reused) is never PATCHed (nor PUT): the person, company or merge survivor is re-linked to the profile its
identifiers (a company: its name) find, or re-created."""

from __future__ import annotations

import pytest
from django.db import transaction

from companies import services as company_services
from companies.models import Company
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
from people import merging
from people import services as people_services
from people.models import Person, SyncStatus
from tests.infobip.conftest import bulk_person_creates, drain_all, outbox_rows, statuses, update_payload

pytestmark = pytest.mark.django_db


def _pushed(realm, count):
    persons = bulk_person_creates(realm, 0, count)
    drain_all()
    return list(Person.objects.filter(pk__in=[p.pk for p in persons]).order_by("pk"))


def _rename(realm, persons, name):
    Person.objects.filter(pk__in=[p.pk for p in persons]).update(first_name=name)
    OutboxEntry.objects.bulk_create(
        outbox_rows(
            realm, OutboxEntity.PERSON, OutboxOp.UPDATE, [(p.pk, update_payload(["first_name"])) for p in persons]
        )
    )


@pytest.mark.parametrize("count", [1, 6], ids=["single", "batch"])  # INFOBIP_OUTBOX_BATCH_MIN is 5
def test_an_id_infobip_gave_to_someone_else_is_not_overwritten(
    count, push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    persons = _pushed(cdp_realm, count)
    infobip_sandbox.reset()  # Infobip forgot them; its ids start again
    strangers = [infobip_client.create_person({"externalId": f"x-{n}", "firstName": "Stranger"}) for n in range(count)]
    assert {s["id"] for s in strangers} == {p.infobip_id for p in persons}  # our stored ids are theirs now

    _rename(cdp_realm, persons, "Changed")
    drain_all()

    store = infobip_sandbox.store.persons
    for stranger in strangers:  # untouched: no PATCH went to their ids
        assert (store[stranger["id"]]["externalId"], store[stranger["id"]]["firstName"]) == (
            stranger["externalId"],
            "Stranger",
        )
    for person in Person.objects.filter(pk__in=[p.pk for p in persons]):
        assert person.infobip_id not in {s["id"] for s in strangers}
        profile = store[person.infobip_id]
        assert (profile["externalId"], profile["firstName"], profile["lastName"]) == (
            person.external_id,
            "Changed",
            person.last_name,
        )  # re-created with everything we have, not just the changed field
        assert person.sync_status == SyncStatus.SYNCED
    assert len(store) == 2 * count
    assert statuses() == {"done": 2 * count}


def test_a_person_whose_profile_got_a_new_id_is_relinked(push_settings, cdp_realm, infobip_sandbox, infobip_client):
    (person,) = _pushed(cdp_realm, 1)
    infobip_sandbox.reset()
    stranger = infobip_client.create_person({"externalId": "x-1", "firstName": "Stranger"})
    ours = infobip_client.create_person({"externalId": person.external_id, "firstName": "Restored"})  # a new id
    assert stranger["id"] == person.infobip_id

    _rename(cdp_realm, [person], "Changed")
    drain_all()

    person.refresh_from_db()
    store = infobip_sandbox.store.persons
    assert person.infobip_id == ours["id"]  # re-linked to the profile our externalId finds, not made again
    assert store[ours["id"]]["firstName"] == "Changed"
    assert store[stranger["id"]]["firstName"] == "Stranger"
    assert len(store) == 2
    assert infobip_sandbox.stats()["effects"]["persons_created"] == 2  # the two made in this test's Infobip


def test_a_live_link_costs_one_match_call_per_round(push_settings, cdp_realm, infobip_sandbox):
    persons = _pushed(cdp_realm, 6)
    before = dict(infobip_sandbox.stats()["calls"])

    _rename(cdp_realm, persons, "Changed")
    drain_all()

    calls = {k: v - before.get(k, 0) for k, v in infobip_sandbox.stats()["calls"].items() if v != before.get(k, 0)}
    assert calls == {"POST /people/2/persons/match": 1, "PATCH /people/2/persons/batch": 1}
    assert {infobip_sandbox.store.persons[p.infobip_id]["firstName"] for p in persons} == {"Changed"}


# ------------------------------------------------------------------------------- companies and merge survivors


@pytest.mark.parametrize("count", [1, 6], ids=["single", "batch"])
def test_a_company_id_infobip_gave_to_another_company_is_not_overwritten(
    count, push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    ours = [company_services.company_create(realm=cdp_realm, attributes={"name": f"Acme {n}"}) for n in range(count)]
    drain_all()
    ours = [Company.objects.get(pk=c.pk) for c in ours]
    infobip_sandbox.reset()  # Infobip forgot them; its ids start again
    strangers = [infobip_client.create_company({"name": f"Stranger {n}", "industry": "Mining"}) for n in range(count)]
    assert {s["id"] for s in strangers} == {c.infobip_id for c in ours}

    for company in ours:
        company_services.company_update(company=company, attributes={"industry": "Retail"})
    drain_all()

    store = infobip_sandbox.store.companies
    for stranger in strangers:  # untouched: no PATCH went to their ids
        assert (store[stranger["id"]]["name"], store[stranger["id"]]["industry"]) == (stranger["name"], "Mining")
    for company in Company.objects.filter(pk__in=[c.pk for c in ours]):
        assert company.infobip_id not in {s["id"] for s in strangers}
        assert (store[company.infobip_id]["name"], store[company.infobip_id]["industry"]) == (company.name, "Retail")
        assert company.sync_status == SyncStatus.SYNCED
    assert len(store) == 2 * count
    assert set(statuses()) == {"done"}


def test_a_company_whose_profile_got_a_new_id_is_relinked_by_its_name(
    push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    company = company_services.company_create(realm=cdp_realm, attributes={"name": "Acme"})
    drain_all()
    company.refresh_from_db()
    infobip_sandbox.reset()
    stranger = infobip_client.create_company({"name": "Stranger"})
    restored = infobip_client.create_company({"name": "Acme", "industry": "Old"})
    assert stranger["id"] == company.infobip_id

    company_services.company_update(company=company, attributes={"industry": "Retail"})
    drain_all()

    company.refresh_from_db()
    store = infobip_sandbox.store.companies
    assert company.infobip_id == restored["id"]  # adopted by its name, not made twice
    assert store[restored["id"]]["industry"] == "Retail"
    assert store[stranger["id"]]["name"] == "Stranger"
    assert len(store) == 2


def test_a_merge_survivor_whose_id_infobip_gave_to_someone_else_is_not_overwritten(
    push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    survivor, absorbed = _pushed(cdp_realm, 2)
    infobip_sandbox.reset()
    stranger = infobip_client.create_person({"externalId": "stranger", "firstName": "Stranger"})
    assert stranger["id"] == survivor.infobip_id

    merging.persons_merge(survivor=survivor, others=[absorbed])
    drain_all()

    store = infobip_sandbox.store.persons
    assert (store[stranger["id"]]["externalId"], store[stranger["id"]]["firstName"]) == ("stranger", "Stranger")
    survivor.refresh_from_db()
    assert survivor.infobip_id != stranger["id"]
    profile = store[survivor.infobip_id]
    assert profile["externalId"] == survivor.external_id
    assert sorted(e["address"] for e in profile["contactInformation"]["email"]) == ["f0@example.com", "f1@example.com"]
    assert len(store) == 2
    assert survivor.sync_status == SyncStatus.SYNCED
    assert set(statuses()) <= {"done", "skipped"}


# ------------------------------------------------------------------------------------------------- deletes


@pytest.mark.parametrize("count", [1, 6], ids=["single", "batch"])
def test_a_delete_by_an_id_infobip_gave_to_someone_else_spares_that_profile(
    count, push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    persons = _pushed(cdp_realm, count)
    infobip_sandbox.reset()
    strangers = [infobip_client.create_person({"externalId": f"x-{n}", "firstName": "Stranger"}) for n in range(count)]
    ours = [infobip_client.create_person({"externalId": p.external_id}) for p in persons]  # back under new ids
    assert {s["id"] for s in strangers} == {p.infobip_id for p in persons}

    for person in persons:
        with transaction.atomic():
            people_services.person_delete(person=person)
    drain_all()

    store = infobip_sandbox.store.persons
    assert sorted(store) == sorted(s["id"] for s in strangers)  # ours deleted (found by externalId), theirs kept
    assert {store[s["id"]]["firstName"] for s in strangers} == {"Stranger"}
    assert not {o["id"] for o in ours} & set(store)
    assert set(statuses()) == {"done"}


def test_a_company_delete_by_an_id_infobip_gave_to_another_company_spares_it(
    push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    company = company_services.company_create(realm=cdp_realm, attributes={"name": "Acme"})
    drain_all()
    company.refresh_from_db()
    infobip_sandbox.reset()
    stranger = infobip_client.create_company({"name": "Stranger"})
    restored = infobip_client.create_company({"name": "Acme"})
    assert stranger["id"] == company.infobip_id

    company_services.company_delete(company=company)
    drain_all()

    assert list(infobip_sandbox.store.companies) == [stranger["id"]]  # ours deleted by its name, theirs kept
    assert restored["id"] not in infobip_sandbox.store.companies


def test_a_merge_never_deletes_a_stranger_holding_the_absorbed_persons_old_id(
    push_settings, cdp_realm, infobip_sandbox, infobip_client
):
    survivor, absorbed = _pushed(cdp_realm, 2)
    infobip_sandbox.reset()
    ours = infobip_client.create_person({"externalId": survivor.external_id})  # the survivor's profile: id 1
    stranger = infobip_client.create_person({"externalId": "stranger", "firstName": "Stranger"})
    assert (ours["id"], stranger["id"]) == (survivor.infobip_id, absorbed.infobip_id)

    merging.persons_merge(survivor=survivor, others=[absorbed])
    drain_all()

    store = infobip_sandbox.store.persons
    assert store[stranger["id"]]["firstName"] == "Stranger"
    survivor.refresh_from_db()
    assert store[survivor.infobip_id]["externalId"] == survivor.external_id
    assert len(store) == 2
