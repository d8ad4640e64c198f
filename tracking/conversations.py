"""Conversations (seed 002's Chatbots and Inbox rule): session start/end events of a chat or inbox channel go
to the person's timeline; when no profile has the contact, a **Customer** is created (origin ``CONVERSATIONS``).

The events are person events (people.PersonEvent) of four definitions created on first use per realm
(``chatbotSessionStart`` … ``inboxSessionEnd``, a ``sessionId`` field), so they show on the timeline and reach
Infobip through the outbox like any event. Their eventId is derived from (channel, event, session): a retried
call adds nothing. A conversation never changes an existing profile's type or attributes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ErrorCollector, ValidationError
from people import journey, validation
from people.event_services import event_definition_create, person_event_record
from people.models import EventDefinition, Origin, Person
from people.services import person_create
from tracking import selectors

CHANNELS = {"CHATBOTS": "chatbot", "INBOX": "inbox"}
EVENTS = {"SESSION_START": "SessionStart", "SESSION_END": "SessionEnd"}
TITLES = {"chatbot": "Chatbot session", "inbox": "Inbox session"}
SESSION_ID_MAX = 200
MSG_NO_CONTACT = "give at least one of phone, email or externalId"


def definition_id(channel: str, event: str) -> str:
    return CHANNELS[channel] + EVENTS[event]


def event_id(channel: str, event: str, session_id: str) -> str:
    """The same session's same event is one event, however often it is reported."""
    digest = hashlib.sha256(f"{channel}\x00{event}\x00{session_id}".encode()).hexdigest()
    return f"cv-{digest[:33]}"


def _definition(realm, channel: str, event: str) -> EventDefinition:
    wanted = definition_id(channel, event)
    existing = EventDefinition.objects.filter(realm=realm, definition_id=wanted).first()
    if existing is not None:
        return existing
    started = event == "SESSION_START"
    return event_definition_create(
        realm=realm,
        definition_id=wanted,
        title=f"{TITLES[CHANNELS[channel]]} {'started' if started else 'ended'}",
        description="Recorded by cdpadmin from the conversation channel (tracking.conversations).",
        fields=[{"name": "sessionId", "type": "String"}],
    )


def _clean(realm, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    errors = ErrorCollector()
    for key in sorted(set(payload) - {"channel", "event", "sessionId", "occurredTime", "contact", "attributes"}):
        errors.add(key, "is not a field here; use channel, event, sessionId, occurredTime, contact, attributes")
    channel, event, session_id = payload.get("channel"), payload.get("event"), payload.get("sessionId")
    if not isinstance(channel, str) or channel not in CHANNELS:
        errors.add("channel", f"must be one of {', '.join(CHANNELS)}")
    if not isinstance(event, str) or event not in EVENTS:
        errors.add("event", f"must be one of {', '.join(EVENTS)}")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= SESSION_ID_MAX or "\x00" in session_id:
        errors.add("sessionId", f"must be a text of 1 to {SESSION_ID_MAX} characters")
    occurred = payload.get("occurredTime")
    when = None
    if occurred is not None:
        when = parse_datetime(occurred) if isinstance(occurred, str) else None
        if when is None or when.tzinfo is None or when > timezone.now() + dt.timedelta(minutes=5):
            errors.add("occurredTime", "must be an ISO date-time with a zone, not in the future")
    contact = payload.get("contact")
    external_id, emails, phones = None, [], []
    if not isinstance(contact, dict):
        errors.add("contact", "must be an object with phone, email or externalId")
        contact = {}
    for key in sorted(set(contact) - {"phone", "email", "externalId"}):
        errors.add(f"contact.{key}", "is not a contact; use phone, email or externalId")
    for key, normalize, into in (
        ("email", validation.normalize_email, emails),
        ("phone", lambda v: validation.normalize_phone(v, realm.default_country), phones),
    ):
        value = contact.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.add(f"contact.{key}", "must be a text")
            continue
        try:
            into.append(normalize(value))
        except ValidationError as exc:
            errors.add(f"contact.{key}", "; ".join(r for rs in exc.fields.values() for r in rs))
    if contact.get("externalId") is not None:
        if isinstance(contact["externalId"], str) and contact["externalId"].strip():
            external_id = contact["externalId"].strip()
        else:
            errors.add("contact.externalId", "must be a non-empty text")
    if not (external_id or emails or phones) and not any(k.startswith("contact") for k in errors.fields):
        errors.add("contact", MSG_NO_CONTACT)
    attributes = payload.get("attributes") or {}
    if not isinstance(attributes, dict):
        errors.add("attributes", "must be an object")
        attributes = {}
    errors.raise_if_any()
    return {
        "channel": channel, "event": event, "session_id": session_id, "when": when, "external_id": external_id,
        "emails": emails, "phones": phones, "attributes": attributes,
    }  # fmt: skip


def conversation_event_record(*, realm, payload: Any, attribute_names: dict[str, str]) -> tuple[Person, bool, bool]:
    """Record one session start/end for the person holding the contact (a new Customer when nobody does).
    ``attribute_names``: API name → model field of what ``attributes`` may set on a new customer. Returns
    (person, person_created, event_created)."""
    clean = _clean(realm, payload)
    errors = ErrorCollector()
    for name in sorted(set(clean["attributes"]) - set(attribute_names)):
        errors.add(f"attributes.{name}", "is not a standard attribute a conversation sets")
    errors.raise_if_any()
    with transaction.atomic():
        found = selectors.persons_matching_locked(realm, clean["external_id"], clean["emails"], clean["phones"])
        person = next((p for p in found if p.type == journey.CUSTOMER), found[0] if found else None)
        created = person is None
        if created:
            attributes = {attribute_names[k]: v for k, v in clean["attributes"].items()}
            person = person_create(
                realm=realm,
                attributes={**attributes, "type": journey.CUSTOMER, "external_id": clean["external_id"]},
                emails=clean["emails"],
                phones=clean["phones"],
                origin=Origin.CONVERSATIONS,
            )
        definition = _definition(realm, clean["channel"], clean["event"])
        _event, event_created = person_event_record(
            person=person,
            definition_id=definition.definition_id,
            properties={"sessionId": clean["session_id"]},
            event_id=event_id(clean["channel"], clean["event"], clean["session_id"]),
            occurred_time=clean["when"],
        )
    return person, created, event_created
