"""The Mobile SDK scenarios over REST: install, login with a confirmed identity (none / lead / customer), logout."""

import pytest

from infobip.models import OutboxEntity, OutboxEntry
from people.models import Channel, ChannelProfile, Person
from tests.people.factories import EventDefinitionFactory, PersonFactory
from tracking import mobile

pytestmark = pytest.mark.django_db
APP = {"applicationId": "app-1", "pushRegistrationId": "reg-0001"}


def holder_of(realm, registration="reg-0001") -> Person:
    return ChannelProfile.objects.get(realm=realm, channel=Channel.PUSH, identifier=registration).person


def install(api, **extra):
    response = api.post("/v1/mobile/installations", {**APP, **extra}, format="json")
    assert response.status_code in (200, 201), response.json()
    return response


def login(api, **body):
    return api.post("/v1/mobile/installations/login", {**APP, **body}, format="json")


def test_install_creates_an_empty_lead_holding_the_registration_once(api, realm):
    first = install(api, data={"platform": "android"})
    assert first.status_code == 201
    assert first.json()["outcome"] == "created"
    person = holder_of(realm)
    assert first.json()["person"]["id"] == person.pk
    assert person.type == "LEAD"
    assert mobile.is_empty_lead(person)
    assert ChannelProfile.objects.get().data["platform"] == "android"
    again = install(api)
    assert (again.status_code, again.json()["outcome"], again.json()["person"]["id"]) == (200, "known", person.pk)
    assert Person.objects.count() == 1


def test_login_without_a_profile_makes_the_installation_lead_a_customer(api, realm):
    lead_id = install(api).json()["person"]["id"]
    response = login(api, email=["Ana@Example.com"], phone=["091 234 5678"], attributes={"firstName": "Ana"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "created"
    assert body["person"]["id"] == lead_id
    person = Person.objects.get(pk=lead_id)
    assert (person.type, person.first_name) == ("CUSTOMER", "Ana")
    assert person.converted_at is not None
    assert list(person.emails.values_list("address", flat=True)) == ["Ana@example.com"]
    assert list(person.phones.values_list("number", flat=True)) == ["385912345678"]
    assert holder_of(realm) == person
    assert Person.objects.count() == 1


def test_login_with_a_leads_email_merges_the_lead_away_into_the_customer(api, realm):
    known_lead = PersonFactory(realm=realm, type="LEAD", emails=["ana@example.com"], city="Split")
    definition = EventDefinitionFactory(realm=realm, definition_id="viewed")
    known_lead.events.create(realm=realm, definition=definition, event_id="ev-lead-1")
    installation_lead = install(api).json()["person"]["id"]
    response = login(api, email=["ana@example.com"], externalId="crm-7", attributes={"lastName": "Horvat"})
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == "lead_merged"
    customer = Person.objects.get(pk=response.json()["person"]["id"])
    assert customer.pk == installation_lead
    assert (customer.type, customer.external_id, customer.city, customer.last_name) == (
        "CUSTOMER", "crm-7", "Split", "Horvat",
    )  # fmt: skip
    assert holder_of(realm) == customer
    known_lead.refresh_from_db()
    assert known_lead.merged_into_id == customer.pk
    assert list(customer.events.values_list("event_id", flat=True)) == ["ev-lead-1"]
    assert Person.objects.active().count() == 1


def test_login_of_an_existing_customer_moves_the_registration_and_deletes_the_lead(api, realm):
    customer = PersonFactory(realm=realm, type="CUSTOMER", phones=["385912345678"], first_name="Iva")
    lead_id = install(api).json()["person"]["id"]
    response = login(api, phone=["+385 91 234 5678"])
    assert response.status_code == 200, response.json()
    assert (response.json()["outcome"], response.json()["person"]["id"]) == ("customer", customer.pk)
    assert holder_of(realm) == customer
    assert Person.objects.get(pk=lead_id).merged_into_id == customer.pk
    customer.refresh_from_db()
    assert (customer.type, customer.first_name) == ("CUSTOMER", "Iva")
    # The same customer logging in again keeps the registration and creates nothing.
    again = login(api, phone=["385912345678"])
    assert (again.json()["outcome"], again.json()["person"]["id"]) == ("customer", customer.pk)
    assert Person.objects.active().count() == 1


def test_logout_detaches_the_registration_and_a_new_empty_lead_takes_it(api, realm):
    install(api)
    customer_id = login(api, email=["ana@example.com"]).json()["person"]["id"]
    response = api.post("/v1/mobile/installations/logout", APP, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["outcome"], body["previousPerson"]) == ("detached", customer_id)
    lead = holder_of(realm)
    assert lead.pk == body["person"]["id"] != customer_id
    assert mobile.is_empty_lead(lead)
    customer = Person.objects.get(pk=customer_id)
    assert customer.type == "CUSTOMER"
    assert not customer.channel_profiles.exists()
    assert customer.emails.count() == 1
    # Logging out again: the empty lead keeps it, nobody new.
    again = api.post("/v1/mobile/installations/logout", APP, format="json")
    assert (again.json()["outcome"], again.json()["person"]["id"]) == ("unchanged", lead.pk)
    # Logging in as another new user after the logout: the new lead becomes that customer.
    other = login(api, email=["bo@example.com"])
    assert (other.json()["outcome"], other.json()["person"]["id"]) == ("created", lead.pk)


def test_login_as_someone_else_without_logout_leaves_the_first_customer_alone(api, realm):
    install(api)
    first = login(api, email=["ana@example.com"]).json()["person"]["id"]
    second = login(api, email=["bo@example.com"]).json()
    assert second["outcome"] == "created"
    assert second["person"]["id"] != first
    assert holder_of(realm).pk == second["person"]["id"]
    assert Person.objects.get(pk=first).emails.get().address == "ana@example.com"


def test_refusals(api, realm, other_api):
    install(api)
    unknown = login(api, pushRegistrationId="reg-unknown", email=["a@example.com"])
    assert unknown.status_code == 404
    assert other_api.post("/v1/mobile/installations/login", {**APP, "email": ["a@example.com"]}, format="json")\
        .status_code == 404  # fmt: skip
    assert login(api).status_code == 400
    bad = login(api, email=["not-an-email"], attributes={"type": "LEAD"})
    assert (bad.status_code, list(bad.json()["data"]["fields"])) == (400, ["attributes.type"])
    bad = login(api, email=["not-an-email"])
    assert (bad.status_code, list(bad.json()["data"]["fields"])) == (400, ["email[0]"])
    bad = login(api, email=["a@example.com"], attributes={"firstName": "A<b"})
    assert bad.status_code == 400
    assert "'<'" in str(bad.json()["data"]["fields"]["firstName"])
    PersonFactory(realm=realm, type="CUSTOMER", emails=["a@example.com"])
    PersonFactory(realm=realm, type="CUSTOMER", emails=["b@example.com"])
    two = login(api, email=["a@example.com", "b@example.com"])
    assert two.status_code == 409
    assert holder_of(realm).type == "LEAD"
    assert api.post("/v1/mobile/installations", {"applicationId": ""}, format="json").status_code == 400


def test_the_merge_and_the_conversion_reach_the_outbox(cdp_realm):
    lead = PersonFactory(realm=cdp_realm, type="LEAD", emails=["ana@example.com"])
    holder, _ = mobile.installation_register(realm=cdp_realm, application_id="app-1", registration_id="reg-1")
    person, outcome = mobile.installation_login(
        realm=cdp_realm, application_id="app-1", registration_id="reg-1", emails=["ana@example.com"]
    )
    assert (outcome, person.pk) == ("lead_merged", holder.pk)
    entities = set(OutboxEntry.objects.filter(realm=cdp_realm).values_list("entity", flat=True))
    assert {OutboxEntity.PERSON, OutboxEntity.MERGE} <= entities
    lead.refresh_from_db()
    assert lead.merged_into_id == holder.pk
