"""Conversations (Chatbots, Inbox): session start/end on an existing profile's timeline, a new Customer when
nobody has the contact, once per session and event however often reported, through the outbox."""

import pytest

from infobip.models import OutboxEntity, OutboxEntry
from people.models import EventDefinition, Person, PersonEvent
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
URL = "/v1/conversations/events"


def event(api, **body):
    base = {"channel": "CHATBOTS", "event": "SESSION_START", "sessionId": "chat-0001"}
    return api.post(URL, {**base, **body}, format="json")


def test_an_existing_lead_gets_the_events_and_stays_a_lead(api, realm):
    lead = PersonFactory(realm=realm, type="LEAD", phones=["385912345678"], first_name="Ana")
    start = event(api, contact={"phone": "091 234 5678"}, occurredTime="2026-12-01T10:00:00Z")
    end = event(api, event="SESSION_END", contact={"phone": "+385912345678"}, occurredTime="2026-12-01T10:05:00Z")
    assert (start.status_code, end.status_code) == (200, 200), start.json()
    assert start.json()["person"]["id"] == lead.pk
    assert (start.json()["personCreated"], start.json()["eventCreated"]) == (False, True)
    timeline = list(lead.events.order_by("occurred_time").values_list("definition__definition_id", "properties"))
    assert timeline == [
        ("chatbotSessionStart", {"sessionId": "chat-0001"}),
        ("chatbotSessionEnd", {"sessionId": "chat-0001"}),
    ]
    lead.refresh_from_db()
    assert (lead.type, lead.first_name) == ("LEAD", "Ana")


def test_nobody_with_the_contact_means_a_new_customer(api, realm):
    response = event(api, channel="INBOX", contact={"email": "new@example.com"}, attributes={"firstName": "Ivo"})
    assert response.status_code == 201, response.json()
    assert response.json()["personCreated"] is True
    person = Person.objects.get(pk=response.json()["person"]["id"])
    assert (person.type, person.origin, person.first_name) == ("CUSTOMER", "CONVERSATIONS", "Ivo")
    assert person.events.get().definition.definition_id == "inboxSessionStart"
    assert EventDefinition.objects.filter(realm=realm, definition_id="inboxSessionStart").count() == 1


def test_a_retried_report_adds_nothing(api, realm):
    PersonFactory(realm=realm, type="CUSTOMER", emails=["c@example.com"])
    first = event(api, contact={"email": "c@example.com"})
    again = event(api, contact={"email": "C@example.com"})
    assert (first.json()["eventCreated"], again.json()["eventCreated"]) == (True, False)
    assert PersonEvent.objects.count() == 1
    assert Person.objects.count() == 1


def test_refusals(api, realm):
    for body, field in (
        ({"channel": "SMS", "contact": {"email": "a@example.com"}}, "channel"),
        ({"event": "TYPING", "contact": {"email": "a@example.com"}}, "event"),
        ({"contact": {}}, "contact"),
        ({"contact": {"email": "nope"}}, "contact.email"),
        ({"contact": {"email": "a@example.com"}, "attributes": {"type": "LEAD"}}, "attributes.type"),
        ({"contact": {"email": "a@example.com"}, "occurredTime": "yesterday"}, "occurredTime"),
    ):
        response = event(api, **body)
        assert response.status_code == 400, body
        assert field in response.json()["data"]["fields"], response.json()
    assert not Person.objects.exists()


def test_conversation_events_go_through_the_outbox(cdp_realm):
    from tracking.conversations import conversation_event_record

    _person, created, _ = conversation_event_record(
        realm=cdp_realm,
        payload={
            "channel": "CHATBOTS",
            "event": "SESSION_START",
            "sessionId": "s-1",
            "contact": {"phone": "+385912345678"},
        },
        attribute_names={},
    )
    assert created
    entities = set(OutboxEntry.objects.filter(realm=cdp_realm).values_list("entity", flat=True))
    assert {OutboxEntity.PERSON, OutboxEntity.EVENT, OutboxEntity.EVENT_DEFINITION} <= entities
