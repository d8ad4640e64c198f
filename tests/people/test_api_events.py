"""A person's events over REST (newest first, filtered, paged), event definitions updated over REST, and events
sent by email, phone or externalId with createPerson."""

import datetime as dt

import pytest

from people.models import EventDefinition, Person, PersonEvent
from tests.identities.factories import IdentityFactory
from tests.people.factories import EventDefinitionFactory, PersonEventFactory, PersonFactory

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def history(realm):
    person = PersonFactory(realm=realm, emails=["jane@example.com"])
    identity = IdentityFactory(realm=realm, person=person)
    cart = EventDefinitionFactory(realm=realm, definition_id="addToCart")
    order = EventDefinitionFactory(realm=realm, definition_id="order")
    for day in range(4):
        PersonEventFactory(
            person=person, definition=cart, event_id=f"c{day}", occurred_time=T0 + dt.timedelta(days=day)
        )
    PersonEventFactory(person=person, definition=order, event_id="o1", occurred_time=T0 + dt.timedelta(hours=12))
    PersonEventFactory(definition=cart, person=PersonFactory(realm=realm))  # someone else's
    return identity


def event_ids(response):
    return [e["eventId"] for e in response.json()["events"]]


def test_events_newest_first_filtered_and_paged(api, history):
    url = f"/v1/identities/{history.pk}/person/events"
    assert event_ids(api.get(url)) == ["c3", "c2", "c1", "o1", "c0"]
    assert event_ids(api.get(url + "?definitionId=order")) == ["o1"]
    assert event_ids(api.get(url + "?from=2026-01-02T00:00:00Z&to=2026-01-04")) == ["c2", "c1"]
    page = api.get(url + "?limit=2&page=2&includeTotalCount=true")
    assert (event_ids(page), page.json()["totalCount"]) == (["c1", "o1"], 5)
    assert event_ids(api.get(url + "?orderBy=occurredTime:asc&limit=1")) == ["c0"]
    bad = api.get(url + "?from=yesterday")
    assert bad.status_code == 400
    assert set(bad.json()["data"]["fields"]) == {"from"}


def test_another_realms_events_are_not_found(other_api, history):
    response = other_api.get(f"/v1/identities/{history.pk}/person/events")
    assert response.status_code == 404
    assert response.json()["name"] == "NotFound"


def test_event_definitions_are_updated_additively(api, realm, other_api):
    EventDefinitionFactory(realm=realm, definition_id="addToCart", fields=[{"name": "product", "type": "String"}])
    url = "/v1/identities/events/definitions/addToCart"
    body = {
        "title": "Added to cart",
        "fields": [{"name": "product", "type": "String"}, {"name": "n", "type": "Numeric"}],
    }
    assert other_api.patch(url, body, format="json").status_code == 404
    response = api.patch(url, body, format="json", HTTP_IDEMPOTENCY_KEY="def-1")
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Added to cart"
    definition = EventDefinition.objects.get(realm=realm, definition_id="addToCart")
    assert [f["name"] for f in definition.fields] == ["product", "n"]

    response = api.patch(url, {"fields": [{"name": "n", "type": "String"}]}, format="json")
    assert response.status_code == 400
    assert api.patch(url, {"definitionId": "other"}, format="json").status_code == 400
    assert api.patch(url, {"description": "Cart adds"}, format="json").json()["title"] == "Added to cart"


@pytest.fixture
def cart(realm):
    return EventDefinitionFactory(
        realm=realm, definition_id="addToCart", fields=[{"name": "product", "type": "String"}]
    )


def send(api, identifier_type, value, *, create=None, event_id=None):
    body = {"identifier": {"type": identifier_type, "value": value}, "data": {"properties": {"product": "Umbrella"}}}
    if create is not None:
        body["createPerson"] = create
    if event_id:
        body["data"]["eventId"] = event_id
    return api.post("/v1/identities/persons/events/addToCart", body, format="json")


def test_an_event_reaches_the_person_holding_the_identifier(api, realm, cart):
    jane = PersonFactory(realm=realm, emails=["Jane@Example.com"], phones=["385991234567"], external_id="ext-1")
    for kind, value in [("EMAIL", "jane@example.com"), ("PHONE", "+385 99 123 4567"), ("EXTERNAL_ID", "ext-1")]:
        response = send(api, kind, value)
        assert response.status_code == 201, response.json()
        assert (response.json()["person"], response.json()["personCreated"]) == (str(jane.pk), False)
    assert PersonEvent.objects.filter(person=jane).count() == 3


def test_a_missing_person_is_created_only_when_asked(api, realm, other_realm, cart):
    PersonFactory(realm=other_realm, emails=["new@example.com"])  # another realm's: not this one's person
    response = send(api, "EMAIL", "new@example.com")
    assert response.status_code == 404
    assert response.json()["type"] == "person_not_found"
    assert not Person.objects.filter(realm=realm).exists()

    response = send(api, "EMAIL", "new@example.com", create=True, event_id="e-1")
    assert response.status_code == 201
    assert response.json()["personCreated"] is True
    person = Person.objects.get(realm=realm)
    assert (person.type, list(person.emails.values_list("address", flat=True))) == ("CUSTOMER", ["new@example.com"])
    again = send(api, "EMAIL", "new@example.com", create=True, event_id="e-1")
    assert (again.status_code, again.json()["personCreated"]) == (200, False)
    assert Person.objects.filter(realm=realm).count() == 1

    response = send(api, "EXTERNAL_ID", "crm-7", create=True)
    assert Person.objects.get(pk=int(response.json()["person"])).external_id == "crm-7"


def test_nothing_is_created_for_an_unknown_definition_or_bad_properties(api, realm, cart):
    body = {"identifier": {"type": "PHONE", "value": "+385 99 765 4321"}, "createPerson": True, "data": {}}
    response = api.post("/v1/identities/persons/events/nope", body, format="json")
    assert response.status_code == 400
    body["data"] = {"properties": {"product": 3}}
    assert api.post("/v1/identities/persons/events/addToCart", body, format="json").status_code == 400
    assert not Person.objects.exists()
    response = send(api, "FAX", "1", create=True)
    assert response.status_code == 400
