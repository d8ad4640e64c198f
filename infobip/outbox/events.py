"""Pushing person events: batch (≤5000, recent ones) or single sends, waiting for a person not in Infobip yet."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from django.utils import timezone

from infobip.client import (
    InfobipError,
    NotFound,
)
from infobip.models import OutboxEntity, OutboxEntry, OutboxStatus
from infobip.outbox.work import (
    Context,
    Outcome,
    PushRefused,
    Work,
    chunks,
    retryable,
    settle,
)
from people.models import (
    EventDefinition,
    Person,
    PersonEvent,
)
from tracking.models import EventKind, TrackEvent

EVENT_BATCH = 5000
EVENT_BATCH_MAX_AGE = dt.timedelta(days=29)  # Infobip refuses batch events older than 30 days


def push_events(ctx: Context, works: list[Work]) -> None:
    tracked = [w for w in works if w.entity_id.startswith(TRACKED_PREFIX)]
    if tracked:
        push_tracked_events(ctx, tracked)
        works = [w for w in works if not w.entity_id.startswith(TRACKED_PREFIX)]
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    events = {
        e.pk: e for e in PersonEvent.objects.filter(realm=ctx.realm, pk__in=ids).select_related("definition", "person")
    }
    waiting = _persons_waiting(ctx, [e.person_id for e in events.values()])
    sendable = []
    for work in works:
        event = events.get(int(work.entity_id)) if work.entity_id.isdigit() else None
        if event is None:
            work.done()  # deleted with its person: nothing to send
            continue
        person = event.person
        infobip_id = ctx.person_ids.get(person.pk) or person.infobip_id
        if infobip_id:
            sendable.append((work, event, ("ID", str(infobip_id))))
            continue
        state = waiting.get(person.pk)
        if person.pk in ctx.failed_persons or state == OutboxStatus.PENDING:
            work.defer(f"Waiting for person {person.pk} to reach Infobip.")
        elif state == OutboxStatus.DEAD:
            work.fail(
                PushRefused(f"Person {person.pk} could not be pushed to Infobip (see its dead letter)."),
                transient=False,
            )
        else:
            identifier = _person_identifier(person)
            if identifier is None:
                work.fail(PushRefused(f"Person {person.pk} is not in Infobip and has no identifier."), transient=False)
            else:
                sendable.append((work, event, identifier))
    send_events(ctx, sendable)


def _persons_waiting(ctx: Context, person_ids: list[int]) -> dict[int, str]:
    """Persons with undelivered rows: pending (wait for them) or dead (give up)."""
    rows = (
        OutboxEntry.objects.filter(
            realm=ctx.realm,
            entity=OutboxEntity.PERSON,
            entity_id__in=[str(i) for i in set(person_ids)],
            status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
        )
        .values_list("entity_id", "status")
        .order_by()
    )
    out: dict[int, str] = {}
    for entity_id, status in rows:
        if out.get(int(entity_id)) != OutboxStatus.DEAD:
            out[int(entity_id)] = status
    return out


def _person_identifier(person: Person) -> tuple[str, str] | None:
    if person.external_id:
        return ("EXTERNAL_ID", person.external_id)
    email = person.emails.values_list("address", flat=True).first()
    if email:
        return ("EMAIL", email)
    phone = person.phones.values_list("number", flat=True).first()
    return ("PHONE", phone) if phone else None


def _occurred(event: PersonEvent) -> str:
    when = event.occurred_time.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def send_events(
    ctx: Context, items: list[tuple[Work, PersonEvent, tuple[str, str]]], *, shared: Work | None = None
) -> None:
    """Batch (≤5000, all or nothing) when there are enough recent ones; single sends for the rest.

    ``shared``: the events belong to one merge work, which fails as soon as one event cannot be sent and is
    settled by its caller otherwise; without it every event has its own work, settled here."""
    recent_limit = timezone.now() - EVENT_BATCH_MAX_AGE
    singles = items
    if ctx.batching(len(items)):
        singles = [i for i in items if i[1].occurred_time < recent_limit]
        batchable = [i for i in items if i[1].occurred_time >= recent_limit]
        for chunk in chunks(batchable, EVENT_BATCH):
            works = list({id(w): w for w, _, _ in chunk}.values())
            for definition in {e.definition.definition_id: e.definition for _, e, _ in chunk}.values():
                with contextlib.suppress(InfobipError):  # if it fails, the single sends say what is wrong
                    ctx.ensure_event_definition(works, definition)
            payload = [
                {
                    "definitionId": event.definition.definition_id,
                    "occurredTime": _occurred(event),
                    "identifier": {"id": identifier[1], "type": identifier[0]},
                    "eventId": event.event_id,
                    "properties": event.properties or {},
                }
                for _, event, identifier in chunk
            ]
            try:
                ctx.call(
                    works,
                    f"POST /people/3/events [{len(chunk)}]",
                    lambda payload=payload: ctx.client.send_events(payload),
                    ok_status=202,
                )
            except InfobipError as exc:
                if retryable(exc):
                    for work in works:
                        work.fail(exc)
                else:
                    singles = singles + chunk  # all or nothing: the single sends find the one Infobip refuses
                continue
            if shared is None:
                for work in works:
                    work.done()
    for work, event, identifier in singles:
        if shared is None:
            settle(
                work, lambda work=work, event=event, identifier=identifier: _send_event(ctx, work, event, identifier)
            )
            continue
        if shared.outcome not in (None, Outcome.DONE):
            return
        try:
            _send_event(ctx, shared, event, identifier)
        except InfobipError as exc:
            shared.fail(exc)
            return


def _send_event(ctx: Context, work: Work, event: PersonEvent, identifier: tuple[str, str]) -> None:
    definition = event.definition

    def send() -> Any:
        return ctx.client.send_event(
            definition.definition_id,
            identifier[1],
            identifier_type=identifier[0],
            properties=event.properties or {},
            event_id=event.event_id,
        )

    request = f"POST /peopleevents/2/persons/{identifier[1]}/definitions/{definition.definition_id}/events"
    try:
        ctx.call(work, request, send, ok_status=201)
    except NotFound as exc:
        if "definition" not in exc.message.lower():
            raise
        ctx.ensure_event_definition(work, definition)
        ctx.call(work, request, send, ok_status=201)


# ----------------------------------------------------------------------------------- tracked website events
# An identified visitor's events (tracking.TrackEvent) go to its person's Infobip timeline. One outbox row per
# ingested batch or identify: entity EVENT, id "track-<visitor pk>", payload {"eventIds": [the browser's ids]}
# or {"all": true} (identify: every event of the visitor). Our eventId is "trk-<TrackEvent pk>", so a retried
# push (or a second identify) adds nothing in Infobip, which records an eventId once per person.

TRACKED_PREFIX = "track-"
TRACKED_DEFINITIONS = {
    EventKind.PAGE_VIEW: ("webPageView", "Web page view"),
    EventKind.ACTION: ("webAction", "Web custom action"),
}
TRACKED_FIELDS = [
    {"name": "name", "type": "String"},
    {"name": "url", "type": "String"},
    {"name": "sessionId", "type": "String"},
    {"name": "properties", "type": "String"},
]


def tracked_event_id(event: TrackEvent) -> str:
    return f"trk-{event.pk}"


class _TrackedAsPersonEvent:
    """A TrackEvent in the shape send_events reads (definition, occurred_time, event_id, properties)."""

    def __init__(self, event: TrackEvent, definition: EventDefinition):
        self.definition = definition
        self.occurred_time = event.occurred_at
        self.event_id = tracked_event_id(event)
        self.properties = {
            "name": event.name,
            "url": event.url,
            "sessionId": event.session.session_id if event.session_id else "",
            "properties": json.dumps(event.properties, ensure_ascii=False, sort_keys=True),
        }


def _tracked_definitions(realm) -> dict[str, EventDefinition]:
    """Unsaved definitions (ctx.ensure_event_definition creates them in Infobip before the first event)."""
    return {
        kind: EventDefinition(realm=realm, definition_id=did, title=title, fields=TRACKED_FIELDS)
        for kind, (did, title) in TRACKED_DEFINITIONS.items()
    }


def push_tracked_events(ctx: Context, works: list[Work]) -> None:
    definitions = _tracked_definitions(ctx.realm)
    for work in works:
        visitor_pk = work.entity_id[len(TRACKED_PREFIX) :]
        if not visitor_pk.isdigit():
            work.done()
            continue
        events = TrackEvent.objects.filter(visitor_id=int(visitor_pk), person__isnull=False)
        if not any(entry.payload.get("all") for entry in work.entries):
            wanted = {i for entry in work.entries for i in entry.payload.get("eventIds") or []}
            events = events.filter(event_id__in=wanted)
        events = list(events.select_related("person", "session").order_by("occurred_at", "id"))
        if not events:
            work.done()  # purged, or the person was deleted: nothing to send
            continue
        waiting = _persons_waiting(ctx, [e.person_id for e in events])
        items = []
        for event in events:
            person = event.person
            infobip_id = ctx.person_ids.get(person.pk) or person.infobip_id
            if infobip_id:
                identifier = ("ID", str(infobip_id))
            elif person.pk in ctx.failed_persons or waiting.get(person.pk) == OutboxStatus.PENDING:
                work.defer(f"Waiting for person {person.pk} to reach Infobip.")
                break
            elif waiting.get(person.pk) == OutboxStatus.DEAD:
                work.fail(PushRefused(f"Person {person.pk} could not be pushed to Infobip (see its dead letter)."),
                          transient=False)  # fmt: skip
                break
            else:
                identifier = _person_identifier(person)
                if identifier is None:
                    work.fail(PushRefused(f"Person {person.pk} is not in Infobip and has no identifier."),
                              transient=False)  # fmt: skip
                    break
            items.append((work, _TrackedAsPersonEvent(event, definitions[event.kind]), identifier))
        if work.decided:
            continue
        send_events(ctx, items, shared=work)
        work.done()
