"""Every write of the tracking API: a batch of a visitor's events, and ``identify`` linking a visitor to a person.

Invariants: a site key only ever writes rows of its own site's realm; an event id is stored once per visitor
(a retried batch adds nothing); identify never changes a person's type and never a Customer's attributes
(people.journey.tracking_attributes), and a new person it creates is a Lead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import re
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ErrorCollector, ValidationError
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record
from people import journey, validation
from people.fields import PERSON_ATTRIBUTES
from people.models import Origin, Person, PersonType
from people.services import person_create, person_update
from tracking.models import EVENT_NAME_MAX, URL_MAX, EventKind, Site, TrackEvent, Visitor

MAX_EVENTS = 100
KINDS = frozenset(EventKind.values)
MAX_PROPERTIES_BYTES = 8_192
ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
TRACKABLE_ATTRIBUTES = {api: f for api, f in PERSON_ATTRIBUTES.items() if api not in ("type", "externalId")}
MSG_BAD_ID = "must be 8 to 64 letters, digits, '-' or '_'"
MSG_UNSTORABLE = "must not contain NUL characters or lone surrogates"


def _check_id(value: Any, field: str, errors: ErrorCollector) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        errors.add(field, MSG_BAD_ID)
        return ""
    return value


def _clean_event(index: int, raw: Any, now: dt.datetime, errors: ErrorCollector) -> dict[str, Any] | None:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        errors.add(where, "must be an object")
        return None
    event_id = _check_id(raw.get("id"), f"{where}.id", errors)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in KINDS:
        errors.add(f"{where}.type", f"must be one of {', '.join(EventKind.values)}")
    name = raw.get("name") or ("page_view" if kind == EventKind.PAGE_VIEW else None)
    if not isinstance(name, str) or not 0 < len(name) <= EVENT_NAME_MAX:
        errors.add(f"{where}.name", f"must be a text of 1 to {EVENT_NAME_MAX} characters")
    elif not _storable(name):
        errors.add(f"{where}.name", MSG_UNSTORABLE)
    url = raw.get("url") or ""
    if not isinstance(url, str) or len(url) > URL_MAX:
        errors.add(f"{where}.url", f"must be a text of at most {URL_MAX} characters")
    elif not _storable(url):
        errors.add(f"{where}.url", MSG_UNSTORABLE)
    properties = raw.get("properties") or {}
    text = "{}"
    if not isinstance(properties, dict):
        errors.add(f"{where}.properties", "must be an object")
    else:
        try:
            text = json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
        except (RecursionError, ValueError):
            errors.add(f"{where}.properties", "is nested too deeply")
            text = "{}"
        if len(text) > MAX_PROPERTIES_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_PROPERTIES_BYTES:
            errors.add(f"{where}.properties", f"is larger than {MAX_PROPERTIES_BYTES:,} bytes as JSON")
        elif "\\u0000" in text or not _storable(text):
            errors.add(f"{where}.properties", MSG_UNSTORABLE)
    occurred = _parse_time(raw.get("timestamp"))
    if occurred is None or occurred.tzinfo is None or occurred > now + dt.timedelta(minutes=5):
        errors.add(f"{where}.timestamp", "must be an ISO date-time with a zone, not in the future")
    return {"event_id": event_id, "kind": kind, "name": name, "url": url, "properties": text, "at": occurred}


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)  # C speed; Django's parser for what it does not read
    except ValueError:
        try:
            return parse_datetime(value)
        except ValueError:
            return None


def _storable(text: str) -> bool:
    """PostgreSQL stores no NUL and no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_batch(payload: Any) -> tuple[str, str, list[dict[str, Any]]]:
    """(visitor id, session id, events) of a batch body, or a ValidationError naming every problem."""
    errors = ErrorCollector()
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    visitor_id = _check_id(payload.get("visitorId"), "visitorId", errors)
    session_id = _check_id(payload.get("sessionId"), "sessionId", errors)
    raw_events = payload.get("events")
    if not isinstance(raw_events, list) or not 0 < len(raw_events) <= MAX_EVENTS:
        errors.add("events", f"must be a list of 1 to {MAX_EVENTS} events")
        raw_events = []
    now = timezone.now()
    events = [_clean_event(i, raw, now, errors) for i, raw in enumerate(raw_events)]
    errors.raise_if_any()
    return visitor_id, session_id, [e for e in events if e]


def visitor_get_or_create(site: Site, anonymous_id: str, now: dt.datetime) -> Visitor:
    visitor, _ = Visitor.objects.get_or_create(
        site=site, anonymous_id=anonymous_id, defaults={"realm_id": site.realm_id, "created": now, "last_seen": now}
    )
    return visitor


# One statement (one round trip, atomic by itself): the visitor and its session upserted, the events inserted
# from one JSON text (one parameter to quote, not an array per column; duplicates of a retried batch skipped by
# the unique (visitor, event_id)), the count returned.
_INGEST_SQL = """
WITH v AS (
    INSERT INTO tracking_visitor (site_id, realm_id, anonymous_id, created, last_seen)
    VALUES (%(site)s, %(realm)s, %(visitor)s, %(now)s, %(now)s)
    ON CONFLICT (site_id, anonymous_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
    RETURNING id, person_id
), s AS (
    INSERT INTO tracking_visitsession (visitor_id, session_id, started_at, last_event_at)
    SELECT v.id, %(session)s, %(first)s, %(last)s FROM v
    ON CONFLICT (visitor_id, session_id) DO UPDATE
        SET last_event_at = GREATEST(tracking_visitsession.last_event_at, EXCLUDED.last_event_at)
    RETURNING id
), ins AS (
    INSERT INTO tracking_trackevent
        (visitor_id, session_id, person_id, event_id, kind, name, url, properties, occurred_at, received_at)
    SELECT v.id, s.id, v.person_id, e.i, e.k, e.n, e.u, e.p, e.t, %(now)s
    FROM v, s, jsonb_to_recordset(%(events)s::jsonb) AS e(i varchar, k varchar, n varchar, u varchar, p jsonb,
                                                          t timestamptz)
    ON CONFLICT (visitor_id, event_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), v.id, v.person_id FROM v
"""


def track_batch_ingest(*, site: Site, payload: Any) -> int:
    """Store a batch of one visitor's events; returns how many were new (a retried batch stores none).

    One SQL statement (``_INGEST_SQL``), no Python per stored row; an identified visitor's batch of a pushing
    realm also writes its outbox row, in the same transaction."""
    visitor_id, session_id, events = clean_batch(payload)
    now = timezone.now()
    times = [e["at"] for e in events]
    rows = ",".join(
        '{"p":' + e["properties"] + ","
        + json.dumps({"i": e["event_id"], "k": e["kind"], "n": e["name"], "u": e["url"], "t": e["at"].isoformat()})[1:]
        for e in events
    )  # fmt: skip
    params = {
        "site": site.pk, "realm": site.realm_id, "visitor": visitor_id, "session": session_id, "now": now,
        "first": min(times), "last": max(times), "events": f"[{rows}]",
    }  # fmt: skip
    with transaction.atomic() if site.realm.cdp_enabled else contextlib.nullcontext():
        with connection.cursor() as cursor:
            cursor.execute(_INGEST_SQL, params)
            stored, visitor_pk, person_id = cursor.fetchone()
        if person_id and site.realm.cdp_enabled:  # an identified visitor's events reach its person's Infobip timeline
            visitor = Visitor(pk=visitor_pk, site=site, realm_id=site.realm_id, anonymous_id=visitor_id)
            tracked_events_record(realm=site.realm, visitor=visitor, event_ids=[e["event_id"] for e in events])
    return stored


def tracked_events_record(*, realm, visitor: Visitor, event_ids: list[str] | None = None) -> None:
    """The outbox row that pushes these events of the visitor (all of them: None) to its person in Infobip
    (infobip.outbox.events.push_tracked_events; our eventIds make a repeat harmless). Caller's transaction."""
    payload = {"all": True} if event_ids is None else {"eventIds": event_ids}
    outbox_record(realm=realm, entity=OutboxEntity.EVENT, entity_id=f"track-{visitor.pk}", op=OutboxOp.SEND,
                  payload=payload)  # fmt: skip


def _clean_identify(payload: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
    errors = ErrorCollector()
    if not isinstance(payload, dict):
        raise ValidationError.single("body", "must be a JSON object")
    visitor_id = _check_id(payload.get("visitorId"), "visitorId", errors)
    keys = {k: payload[k] for k in ("email", "phone", "externalId") if payload.get(k)}
    if len(keys) != 1 or not all(isinstance(v, str) for v in keys.values()):
        errors.add("identify", "give exactly one of email, phone or externalId, as a text")
    attributes = payload.get("attributes") or {}
    if not isinstance(attributes, dict):
        errors.add("attributes", "must be an object")
        attributes = {}
    unknown = [k for k in attributes if k not in TRACKABLE_ATTRIBUTES]
    for name in unknown:
        errors.add(f"attributes.{name}", "is not an attribute a website can set")
    clean = validation.clean_person_attributes(
        {TRACKABLE_ATTRIBUTES[k]: v for k, v in attributes.items() if k in TRACKABLE_ATTRIBUTES}, errors
    )
    errors.raise_if_any()
    return visitor_id, keys, clean


def _find_person(realm, keys: dict[str, str]) -> Person | None:
    persons = Person.objects.active().filter(realm=realm)
    if "externalId" in keys:
        return persons.filter(external_id=keys["externalId"]).first()
    if "email" in keys:
        address = validation.normalize_email(keys["email"])
        return persons.filter(emails__address__iexact=address).first()
    number = validation.normalize_phone(keys["phone"], realm.default_country)
    return persons.filter(phones__number=number).first()


def visitor_identify(*, site: Site, payload: Any) -> tuple[Person, str]:
    """Link a visitor to the person its contact names: none → a new Lead; a Lead → that lead (its attributes
    updated); a Customer → the customer, untouched, only with a valid ``token`` (the site backend's HMAC of the
    contact, ``Site.identity_token``), else nothing happens ("unverified"). The visitor's events move to the
    person. Returns (person, "created" | "lead" | "customer" | "unverified")."""
    visitor_id, keys, attributes = _clean_identify(payload)
    [(kind, value)] = keys.items()
    token = payload.get("token")
    signed = isinstance(token, str) and hmac.compare_digest(token, site.identity_token(kind, value))
    realm = site.realm
    now = timezone.now()
    with transaction.atomic():
        visitor = visitor_get_or_create(site, visitor_id, now)
        person = _find_person(realm, keys)
        if person is None:
            person = person_create(
                realm=realm,
                attributes={**attributes, "type": PersonType.LEAD, "external_id": keys.get("externalId")},
                emails=[keys["email"]] if "email" in keys else (),
                phones=[keys["phone"]] if "phone" in keys else (),
                origin=Origin.WEB_SDK,
            )
            outcome = "created"
        elif person.type == journey.CUSTOMER and not signed:
            return person, "unverified"  # a login match needs the backend's proof: nothing is linked or changed
        else:
            outcome = "customer" if person.type == journey.CUSTOMER else "lead"
            allowed = journey.tracking_attributes(person, attributes)
            if allowed:
                person = person_update(person=person, attributes=allowed, modified_from=Origin.WEB_SDK)
        visitor_link(visitor=visitor, person=person, now=now)
    return person, outcome


def visitor_link(*, visitor: Visitor, person: Person, now: dt.datetime | None = None) -> None:
    """The visitor is the person from now on: its earlier events join the person's timeline (they keep their
    times, so the timeline stays in order, and their ids, so nothing doubles), its later ones go there too.
    Runs in the caller's transaction."""
    now = now or timezone.now()
    Visitor.objects.filter(pk=visitor.pk).update(person=person, identified_at=now, last_seen=now)
    if TrackEvent.objects.filter(visitor=visitor).update(person=person):
        tracked_events_record(realm=person.realm, visitor=visitor)


def anonymous_visitors_purge(*, days: int | None = None) -> int:
    """Delete visitors never identified and not seen for ``days`` (``TRACKING_ANONYMOUS_RETENTION_DAYS``, default
    30), with their sessions and events; identified visitors stay. Returns how many visitors went."""
    from django.conf import settings

    keep = days if days is not None else getattr(settings, "TRACKING_ANONYMOUS_RETENTION_DAYS", 30)
    cutoff = timezone.now() - dt.timedelta(days=keep)
    stale = Visitor.objects.filter(person__isnull=True, last_seen__lt=cutoff)
    count = stale.count()
    stale.delete()
    return count
