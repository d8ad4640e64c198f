"""GDPR: erase a person everywhere (right to erasure) and export everything held about it (right of access).

`person_erase` is one transaction. It deletes the person and the aliases merged into it (contacts, channel
profiles, events, duplicate suggestions cascade), the merge records naming them (their snapshots hold the
person's values), their outbox rows with their call logs, the admin log entries of the person, the stored
idempotent responses that carry its identifiers, the errors of sync runs that name them, and whatever the apps
above this floor hold (import rows and issues; tracking visitors, form submissions, app installations): those
register an eraser here from their AppConfig.ready (`register`), since people may not import them.

What Infobip must learn goes through the outbox as a delete that carries the Infobip id only: a pending outbox
row holds no personal data. A person whose Infobip id we never learnt but whose create may have reached Infobip
is looked up there by its externalId (our system's key); without one it cannot be found without personal data,
and the audit row says so (`infobip: "unresolved"`). A person never sent needs nothing.

The audit row is a PersonActivity row `erased` with counts only (no values, no Infobip id); the person's earlier
history rows stay, as they never held values.

Identities keep living, unlinked (they are the integrator's account holders, not the profile): their `alias` and
`data` are the integrator's to change. Uploaded import files on disk are not rewritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict
from identities.models import Identity
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus, SyncRun
from infobip.outbox import outbox_record
from infobip.outbox.payloads import PersonGone
from people import activity
from people.merge_snapshot import person_snapshot
from people.models import MergeRecord, Person, PersonActivity, PersonEvent
from people.representation import event_as_dict, person_as_dict

MSG_ERASE_ALIAS = "person {pk} was merged into person {into}: erase person {into} (its aliases go with it)"
# Identifiers shorter than this are never looked for inside other text (an externalId "7" is in every number).
MIN_SEARCHABLE = 5


@dataclass
class Erasure:
    """What an eraser gets: the realm, the local ids being erased and every identifier known of them (current
    and past: emails in lower case, phones as digits, externalIds), to find rows that name them."""

    realm: Any
    person_ids: list[int]
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    external_ids: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def identifiers(self) -> list[str]:
        """The identifiers searched for inside texts: every email and phone, externalIds long enough."""
        return sorted(self.emails | self.phones | {e for e in self.external_ids if len(e) >= MIN_SEARCHABLE})

    def like_patterns(self) -> list[str]:
        """ILIKE patterns matching any identifier inside a text (LIKE's wildcards escaped)."""
        escape = str.maketrans({"%": r"\%", "_": r"\_", "\\": "\\\\"})
        return [f"%{value.translate(escape)}%" for value in self.identifiers]

    def mentions(self, value: Any) -> bool:
        text = json.dumps(value, ensure_ascii=False).lower() if not isinstance(value, str) else value.lower()
        return any(identifier.lower() in text for identifier in self.identifiers)

    def count(self, key: str, n: int) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n


Eraser = Callable[[Erasure], None]
Exporter = Callable[[Any, list[int]], dict[str, Any]]
_erasers: list[Eraser] = []
_exporters: list[Exporter] = []


def register(*, eraser: Eraser | None = None, exporter: Exporter | None = None) -> None:
    """Apps above the people floor add what they hold about persons (called from their AppConfig.ready)."""
    if eraser is not None and eraser not in _erasers:
        _erasers.append(eraser)
    if exporter is not None and exporter not in _exporters:
        _exporters.append(exporter)


# ------------------------------------------------------------------------------------------------ erase


def _group(person: Person) -> list[int]:
    """The person and every alias merged into it, transitively."""
    ids, frontier = [person.pk], [person.pk]
    while frontier:
        frontier = list(Person.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True))
        ids += frontier
    return ids


def _collect_strings(value: Any, keys: set[str], out: set[str]) -> None:
    """Every string under one of `keys` anywhere inside a JSON value (outbox payloads, snapshots)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                items = item if isinstance(item, list) else [item]
                out.update(i for i in items if isinstance(i, str) and i)
            else:
                _collect_strings(item, keys, out)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, keys, out)


def _known_identifiers(erasure: Erasure, records: list[MergeRecord], outbox: list[OutboxEntry]) -> None:
    persons = Person.objects.filter(pk__in=erasure.person_ids)
    for person in persons.prefetch_related("phones", "emails"):
        erasure.phones.update(p.number for p in person.phones.all())
        erasure.emails.update(e.address for e in person.emails.all())
        if person.external_id:
            erasure.external_ids.add(person.external_id)
    for record in records:
        for snapshot in record.snapshots:
            if snapshot.get("id") in erasure.person_ids:
                erasure.phones.update(snapshot.get("phones") or ())
                erasure.emails.update(snapshot.get("emails") or ())
                attributes = snapshot.get("attributes") or {}
                if attributes.get("external_id"):
                    erasure.external_ids.add(attributes["external_id"])
    for entry in outbox:  # removed or replaced contacts live on only in the payloads of their changes
        found: set[str] = set()
        _collect_strings(entry.payload, {"phones", "emails", "externalId"}, found)
        for value in found:
            (erasure.emails if "@" in value else erasure.phones if value.isdigit() else erasure.external_ids).add(value)
    erasure.emails = {e.lower() for e in erasure.emails}


def _merge_records(realm, ids: list[int]) -> list[MergeRecord]:
    named = Q(survivor_id__in=ids)
    for pk in ids:
        named |= Q(absorbed_ids__contains=[pk])
    return list(MergeRecord.objects.filter(named, realm=realm))


def _outbox_rows(realm, ids: list[int], records: list[MergeRecord], event_ids: list[int]) -> list[OutboxEntry]:
    keys = [str(pk) for pk in ids]
    rows = (
        Q(entity=OutboxEntity.PERSON, entity_id__in=keys)
        | Q(entity=OutboxEntity.MERGE, entity_id__in=[str(r.pk) for r in records])
        | Q(entity=OutboxEntity.EVENT, entity_id__in=[str(e) for e in event_ids])
    )
    return list(OutboxEntry.objects.filter(rows, realm=realm).select_for_update())


def _infobip_delete(realm, person: Person, rows: list[OutboxEntry], erasure: Erasure) -> str:
    """Record the delete Infobip must get for one person; returns how (`id`, `externalId`, `none`, `unresolved`)."""
    if not realm.cdp_enabled:  # the realm pushes nothing (any more): Infobip may keep a profile it once got
        return "unresolved" if person.infobip_id else "none"
    if person.infobip_id:
        gone = PersonGone(infobip_id=person.infobip_id)
    else:
        mine = [r for r in rows if r.entity == OutboxEntity.PERSON and r.entity_id == str(person.pk)]
        reached = any(r.attempts or r.status in (OutboxStatus.DONE, OutboxStatus.DEAD) for r in mine)
        if not reached:
            return "none"  # Infobip never heard of it
        if not person.external_id:
            return "unresolved"
        gone = PersonGone(external_id=person.external_id)
    outbox_record(
        realm=realm, entity=OutboxEntity.PERSON, entity_id=person.pk, op=OutboxOp.DELETE, payload=gone.to_json()
    )
    return "id" if gone.infobip_id else "externalId"


def _scrub_sync_runs(erasure: Erasure) -> None:
    patterns = erasure.like_patterns()
    if not patterns:
        return
    runs = SyncRun.objects.filter(realm=erasure.realm).extra(
        where=["(errors::text ILIKE ANY(%s) OR progress::text ILIKE ANY(%s))"], params=[patterns, patterns]
    )
    for run in runs.select_for_update():
        run.errors = [entry for entry in run.errors if not erasure.mentions(entry)]
        if erasure.mentions(run.progress):
            run.progress = _scrubbed(run.progress, erasure)
        run.save(update_fields=["errors", "progress"])
        erasure.count("syncRunsScrubbed", 1)


def _scrubbed(value: Any, erasure: Erasure) -> Any:
    """A JSON value without the list items and dict entries that name the erased persons."""
    if isinstance(value, dict):
        return {
            k: _scrubbed(v, erasure) for k, v in value.items() if not erasure.mentions(v) or isinstance(v, dict | list)
        }
    if isinstance(value, list):
        return [_scrubbed(v, erasure) for v in value if not erasure.mentions(v)]
    return value


def _delete_idempotent_responses(erasure: Erasure) -> None:
    patterns = erasure.like_patterns()
    paths = [f"%/persons/{pk}" for pk in erasure.person_ids] + [f"%/persons/{pk}/%" for pk in erasure.person_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM identities_idempotencyrecord WHERE realm_id = %s AND (response_body::text ILIKE ANY(%s) "
            "OR path LIKE ANY(%s)) AND path NOT LIKE '%%/erase'",  # the erase's own answer names no one
            [erasure.realm.pk, patterns, paths],
        )
        erasure.count("idempotentResponses", cursor.rowcount)


def person_erase(*, person: Person) -> dict[str, Any]:
    """Erase the person (and its aliases) everywhere in one transaction; the delete reaches Infobip through the
    outbox by Infobip id. Returns the audit row's detail (counts, no personal data). A merged alias is refused:
    its survivor is the profile to erase."""
    with transaction.atomic():
        locked = Person.objects.select_for_update().select_related("realm").get(pk=person.pk)
        if locked.merged_into_id:
            raise Conflict(MSG_ERASE_ALIAS.format(pk=locked.pk, into=locked.merged_into_id), code="merged")
        realm = locked.realm
        ids = _group(locked)
        members = list(Person.objects.filter(pk__in=ids).select_for_update().order_by("pk"))
        records = _merge_records(realm, ids)
        event_ids = list(PersonEvent.objects.filter(person_id__in=ids).values_list("pk", flat=True))
        rows = _outbox_rows(realm, ids, records, event_ids)
        erasure = Erasure(realm=realm, person_ids=ids)
        _known_identifiers(erasure, records, rows)

        # Infobip: one delete per profile it may hold, by Infobip id; the rows of earlier changes go (a row a
        # worker is sending now is left to finish: its handler finds the person gone).
        now = timezone.now()
        in_flight = [r.pk for r in rows if r.locked_until and r.locked_until > now]
        erasure.count("outboxInFlight", len(in_flight))
        gone = OutboxEntry.objects.filter(pk__in=[r.pk for r in rows if r.pk not in in_flight]).delete()[1]
        erasure.count("outboxRows", gone.get("infobip.OutboxEntry", 0))
        infobip = {member.pk: _infobip_delete(realm, member, rows, erasure) for member in members}

        erasure.count("mergeRecords", MergeRecord.objects.filter(pk__in=[r.pk for r in records]).delete()[0])
        person_type = ContentType.objects.get_for_model(Person)
        record_type = ContentType.objects.get_for_model(MergeRecord)
        erasure.count(
            "adminLogEntries",
            LogEntry.objects.filter(
                Q(content_type=person_type, object_id__in=[str(pk) for pk in ids])
                | Q(content_type=record_type, object_id__in=[str(r.pk) for r in records])
            ).delete()[0],
        )
        _delete_idempotent_responses(erasure)
        _scrub_sync_runs(erasure)
        for eraser in _erasers:
            eraser(erasure)
        erasure.count("identitiesUnlinked", Identity.objects.filter(person_id__in=ids).update(person=None))
        erasure.count("events", len(event_ids))
        # The aliases' links first (merged_into protects the survivor), then all of them; the rest cascades.
        Person.objects.filter(pk__in=ids).update(merged_into=None)
        Person.objects.filter(pk__in=ids).delete()
        erasure.count("persons", len(ids))
        detail = {"counts": erasure.counts, "infobip": sorted(set(infobip.values()) - {"none"}) or ["none"]}
        activity.activity_record(realm=realm, person_ids=[locked.pk], action=activity.ERASED, detail=detail)
    return {"erased": locked.pk, **detail}


# ------------------------------------------------------------------------------------------------ access


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def person_data_export(*, person: Person) -> dict[str, Any]:
    """Everything held about a person and its aliases, as JSON (right of access): the profile, every event,
    the aliases' snapshots, identities, merge records naming it, its history, and what the other apps hold."""
    realm = person.realm
    ids = _group(person)
    found = Person.objects.in_bulk(ids[1:])
    aliases = [found[pk] for pk in ids[1:]]  # one query, in the order the merges were walked
    events = PersonEvent.objects.filter(person_id__in=ids).select_related("definition").order_by("occurred_time")
    identities = Identity.objects.filter(person_id__in=ids).order_by("created")
    records = _merge_records(realm, ids)
    data: dict[str, Any] = {
        "exportedAt": timezone.now().isoformat(),
        "person": person_as_dict(person),
        "aliases": [person_snapshot(alias) for alias in aliases],
        "events": [event_as_dict(event, person) for event in events],
        "identities": [
            {
                "id": i.id,
                "type": i.type,
                "alias": i.alias,
                "country": i.country,
                "currency": i.currency,
                "data": i.data,
                "createdAt": _iso(i.created),
            }
            for i in identities
        ],
        "mergeRecords": [
            {
                "id": r.pk,
                "createdAt": _iso(r.created),
                "survivor": r.survivor_id,
                "absorbed": r.absorbed_ids,
                "undoneAt": _iso(r.undone_at),
                "snapshots": [s for s in r.snapshots if s.get("id") in ids],
            }
            for r in records
        ],
        "activity": [
            {
                "at": _iso(a.created),
                "actor": {"kind": a.actor_kind, "id": a.actor_id, "label": a.actor_label},
                "action": a.action,
                "fields": a.fields,
                "detail": a.detail,
            }
            for a in PersonActivity.objects.filter(person_id__in=ids).order_by("created", "id")
        ],
        "infobip": {"id": person.infobip_id, "syncStatus": person.sync_status, "syncedAt": _iso(person.synced_at)},
    }
    for exporter in _exporters:
        data.update(exporter(realm, ids))
    return data
