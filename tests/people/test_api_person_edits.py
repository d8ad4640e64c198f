"""PATCH merges, PUT replaces, and the dedicated contact/tag endpoints of an identity's person: realm-scoped,
idempotent, refusing to remove the last contact of a person without externalId, and followed by Infobip."""

import pytest

from infobip.models import OutboxEntry
from infobip.outbox.payloads import PersonChange
from people import services as person_services
from people.models import Person
from tests.api_support import api_client
from tests.companies.factories import CompanyFactory
from tests.identities.factories import ApiKeyFactory, IdentityFactory
from tests.infobip.conftest import drain_all, push_settings  # noqa: F401 (a fixture)
from tests.people.factories import PersonFactory


@pytest.fixture(autouse=True)
def _pushing(realm):
    """The realm pushes to Infobip, so every change records its outbox row."""
    realm.cdp_enabled = True
    realm.save(update_fields=["cdp_enabled"])


@pytest.fixture
def jane(realm):
    person = PersonFactory(
        realm=realm, external_id=None, first_name="Jane", city="London",
        emails=["jane@example.com"], phones=["385991234567"], tags=["VIP", "Old"],
    )  # fmt: skip
    identity = IdentityFactory(realm=realm, person=person)
    return identity, person


def url(identity, rest=""):
    return f"/v1/identities/{identity.pk}/person{rest}"


def tags_of(person):
    return sorted(person.tags.values_list("name", flat=True))


def emails_of(person):
    return sorted(person.emails.values_list("address", flat=True))


def phones_of(person):
    return sorted(person.phones.values_list("number", flat=True))


def last_change(person) -> PersonChange:
    entry = OutboxEntry.objects.filter(entity="person", entity_id=str(person.pk), op="update").latest("pk")
    return PersonChange.from_json(entry.payload)


def test_patch_merges_and_put_replaces(api, jane):
    identity, person = jane
    response = api.patch(url(identity), {"tags": ["New"], "lastName": "Doe"}, format="json")
    assert response.status_code == 200
    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.city) == ("Jane", "Doe", "London")
    assert tags_of(person) == ["New", "Old", "VIP"]

    body = {"firstName": "Janet", "tags": ["VIP"], "contactInformation": {"email": [{"address": "j2@example.com"}]}}
    response = api.put(url(identity), body, format="json")
    assert response.status_code == 200, response.json()
    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.city) == ("Janet", "", "")
    assert tags_of(person) == ["VIP"]
    assert emails_of(person) == ["j2@example.com"]
    assert phones_of(person) == ["385991234567"]  # a list not sent stays
    assert response.json()["person"]["tags"] == ["VIP"]


def test_tags_one_at_a_time_and_in_lists(api, jane):
    identity, person = jane
    assert api.post(url(identity, "/tags/Promo 2026")).status_code == 200
    assert tags_of(person) == ["Old", "Promo 2026", "VIP"]
    assert api.delete(url(identity, "/tags/old")).status_code == 200
    assert tags_of(person) == ["Promo 2026", "VIP"]
    assert set(last_change(person).removed.tags) == {"Old"}
    response = api.delete(url(identity, "/tags/Old"))
    assert response.status_code == 404
    assert response.json()["type"] == "tag_not_found"

    response = api.post(url(identity, "/tags"), {"add": ["A", "B"], "remove": ["VIP", "nope"]}, format="json")
    assert response.status_code == 200
    assert tags_of(person) == ["A", "B", "Promo 2026"]
    response = api.post(url(identity, "/tags"), {"add": "A", "drop": []}, format="json")
    assert response.status_code == 400
    assert set(response.json()["data"]["fields"]) == {"add", "drop"}


def test_contacts_one_at_a_time_and_in_lists(api, jane):
    identity, person = jane
    assert api.post(url(identity, "/contacts/email/second@example.com")).status_code == 200
    assert api.post(url(identity, "/contacts/phone/+385 98 111 2222")).status_code == 200
    assert phones_of(person) == ["385981112222", "385991234567"]
    assert api.delete(url(identity, "/contacts/phone/385991234567")).status_code == 200
    assert phones_of(person) == ["385981112222"]
    assert last_change(person).removed.phones == ("385991234567",)
    assert api.delete(url(identity, "/contacts/email/absent@example.com")).status_code == 404
    assert api.delete(url(identity, "/contacts/fax/1")).status_code == 404

    body = {"add": {"email": ["third@example.com"]}, "remove": {"email": ["JANE@example.com"], "phone": []}}
    response = api.post(url(identity, "/contacts"), body, format="json")
    assert response.status_code == 200, response.json()
    assert emails_of(person) == ["second@example.com", "third@example.com"]


def test_the_last_contact_of_a_person_without_external_id_stays(api, realm):
    person = PersonFactory(realm=realm, external_id=None, emails=["only@example.com"])
    identity = IdentityFactory(realm=realm, person=person)
    response = api.delete(url(identity, "/contacts/email/only@example.com"))
    assert response.status_code == 400
    assert response.json()["type"] == "last_contact"
    assert "no externalId" in response.json()["data"]["fields"]["contactInformation.email"][0]
    assert emails_of(person) == ["only@example.com"]
    response = api.put(url(identity), {"contactInformation": {"email": []}}, format="json")
    assert response.status_code == 400
    assert emails_of(person) == ["only@example.com"]

    Person.objects.filter(pk=person.pk).update(external_id="ext-9")
    assert api.delete(url(identity, "/contacts/email/only@example.com")).status_code == 200
    assert emails_of(person) == []


def test_a_repeated_idempotency_key_replays_the_first_answer(api, jane):
    identity, person = jane
    first = api.delete(url(identity, "/tags/VIP"), HTTP_IDEMPOTENCY_KEY="untag-1")
    again = api.delete(url(identity, "/tags/VIP"), HTTP_IDEMPOTENCY_KEY="untag-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert OutboxEntry.objects.filter(entity="person", entity_id=str(person.pk), op="update").count() == 1


def test_another_realms_person_is_not_found(other_api, jane):
    identity, person = jane
    calls = [
        ("patch", url(identity), {"firstName": "X"}),
        ("put", url(identity), {"firstName": "X"}),
        ("post", url(identity, "/tags/X"), None),
        ("delete", url(identity, "/tags/VIP"), None),
        ("post", url(identity, "/tags"), {"add": ["X"]}),
        ("post", url(identity, "/contacts/email/x@example.com"), None),
        ("delete", url(identity, "/contacts/email/jane@example.com"), None),
        ("post", url(identity, "/contacts"), {"remove": {"email": ["jane@example.com"]}}),
    ]
    for method, path, body in calls:
        response = getattr(other_api, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["name"] == "NotFound"
    person.refresh_from_db()
    assert (person.first_name, tags_of(person), emails_of(person)) == ("Jane", ["Old", "VIP"], ["jane@example.com"])


def test_the_person_body_sets_the_company_of_the_person_and_its_identities(api, realm, other_realm, jane):
    identity, person = jane
    second = IdentityFactory(realm=realm, person=person)
    company = CompanyFactory(realm=realm)
    response = api.patch(url(identity), {"company": str(company.pk)}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["person"]["company"] == str(company.pk)
    person.refresh_from_db(), identity.refresh_from_db(), second.refresh_from_db()
    assert person.company_id == identity.company_id == second.company_id == company.pk
    move = last_change(person).company
    assert (move.from_id, move.to_id) == (None, company.pk)

    foreign = CompanyFactory(realm=other_realm)
    response = api.patch(url(identity), {"company": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert "company" in response.json()["data"]["fields"]
    assert api.patch(url(identity), {"company": None}, format="json").status_code == 200
    identity.refresh_from_db()
    assert identity.company_id is None


def test_infobip_ends_without_the_removed_tag_and_phone(cdp_realm, push_settings, infobip_sandbox):  # noqa: F811
    key = ApiKeyFactory(realm=cdp_realm)
    api = api_client(key.plain)
    person = person_services.person_create(
        realm=cdp_realm, attributes={"first_name": "Jane", "external_id": "ext-1"},
        phones=["385991234567", "385981112222"],
    )  # fmt: skip
    identity = IdentityFactory(realm=cdp_realm, person=person)
    assert api.post(url(identity, "/tags"), {"add": ["VIP", "Old"]}, format="json").status_code == 200
    drain_all()
    person.refresh_from_db()
    record = infobip_sandbox.store.persons[person.infobip_id]
    assert sorted(record["tags"]) == ["Old", "VIP"]
    assert len(record["contactInformation"]["phone"]) == 2

    assert api.delete(url(identity, "/tags/Old")).status_code == 200
    assert api.delete(url(identity, "/contacts/phone/385981112222")).status_code == 200
    drain_all()
    record = infobip_sandbox.store.persons[person.infobip_id]
    assert record["tags"] == ["VIP"]
    assert record["contactInformation"]["phone"] == [{"number": "385991234567"}]
