"""A person's company and its identities' company are one fact, settable from the identity, the person's body or
the company's persons endpoints, and pushed to Infobip."""

import pytest

from infobip.models import OutboxEntry
from infobip.outbox.payloads import PersonChange
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory
from tests.people.factories import PersonFactory


@pytest.fixture(autouse=True)
def _pushing(realm):
    realm.cdp_enabled = True
    realm.save(update_fields=["cdp_enabled"])


def moves_of(person):
    entries = OutboxEntry.objects.filter(entity="person", entity_id=str(person.pk), op="update").order_by("pk")
    return [(c.from_id, c.to_id) for c in (PersonChange.from_json(e.payload).company for e in entries) if c]


def test_patching_the_identitys_company_moves_its_person(api, realm):
    person = PersonFactory(realm=realm)
    identity = IdentityFactory(realm=realm, person=person)
    company = CompanyFactory(realm=realm)
    response = api.patch(f"/v1/identities/{identity.pk}", {"company": str(company.pk)}, format="json")
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.company_id == company.pk
    assert moves_of(person) == [(None, company.pk)]
    response = api.patch(f"/v1/identities/{identity.pk}", {"company": None}, format="json")
    person.refresh_from_db()
    assert person.company_id is None
    assert moves_of(person) == [(None, company.pk), (company.pk, None)]


def test_company_persons_are_listed_added_and_removed(api, realm):
    company, other = CompanyFactory(realm=realm), CompanyFactory(realm=realm)
    ann, bob = PersonFactory(realm=realm), PersonFactory(realm=realm, company=other)
    identity = IdentityFactory(realm=realm, person=bob, company=other)
    PersonFactory(realm=realm)  # of no company

    url = f"/v1/identities/companies/{company.pk}/persons"
    response = api.post(url, {"persons": [ann.pk, bob.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="join-1")
    assert response.status_code == 200, response.json()
    assert sorted(p["id"] for p in response.json()["persons"]) == [ann.pk, bob.pk]
    identity.refresh_from_db()
    assert identity.company_id == company.pk
    assert moves_of(bob) == [(other.pk, company.pk)]
    replay = api.post(url, {"persons": [ann.pk, bob.pk]}, format="json", HTTP_IDEMPOTENCY_KEY="join-1")
    assert replay["Idempotent-Replayed"] == "true"

    response = api.get(url + "?includeTotalCount=true&limit=1")
    assert (response.json()["totalCount"], len(response.json()["persons"])) == (2, 1)

    response = api.delete(url, {"persons": [ann.pk]}, format="json")
    assert [p["id"] for p in response.json()["persons"]] == [bob.pk]
    ann.refresh_from_db()
    assert ann.company_id is None
    response = api.delete(f"/v1/identities/companies/{other.pk}/persons", {"persons": [bob.pk]}, format="json")
    assert response.status_code == 200
    bob.refresh_from_db()
    assert bob.company_id == company.pk  # not a member of `other`: stays


def test_bad_members_are_field_errors(api, realm, other_realm):
    company = CompanyFactory(realm=realm)
    foreign = PersonFactory(realm=other_realm)
    url = f"/v1/identities/companies/{company.pk}/persons"
    response = api.post(url, {"persons": [foreign.pk, "x"], "more": 1}, format="json")
    assert response.status_code == 400
    assert set(response.json()["data"]["fields"]) == {"persons[1]", "more"}
    response = api.post(url, {"persons": [foreign.pk]}, format="json")
    assert set(response.json()["data"]["fields"]) == {"persons[0]"}
    foreign.refresh_from_db()
    assert foreign.company_id is None


def test_another_realms_company_is_not_found(other_api, realm):
    company = CompanyFactory(realm=realm)
    person = PersonFactory(realm=realm, company=company)
    url = f"/v1/identities/companies/{company.pk}/persons"
    assert other_api.get(url).status_code == 404
    assert other_api.post(url, {"persons": [person.pk]}, format="json").status_code == 404
    assert other_api.delete(url, {"persons": [person.pk]}, format="json").status_code == 404
    person.refresh_from_db()
    assert person.company_id == company.pk
