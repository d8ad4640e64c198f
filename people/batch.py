"""Many persons at once: creates and updates in one call (POST /v1/identities/persons/batch, like Infobip's
batch), and the staff's bulk changes (people.admin_actions).

A batch item runs in its own savepoint: it is written whole (person, contacts, tags, outbox row) or not at all,
and a failing item never undoes another. A bulk change runs one transaction per chunk of persons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import DomainError, ErrorCollector, NotFound, ValidationError
from identities.ids import parse_object_id
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record
from infobip.outbox.payloads import PersonChange, Sets
from people import activity, selectors, services
from people.fields import PERSON_ATTRIBUTES
from people.models import Origin, Person, SyncStatus
from people.serializers import PersonWriteSerializer

BATCH_MAX = 1000


@dataclass
class ItemOutcome:
    index: int
    op: str  # "create" | "update"
    person: Person | None = None
    error: Exception | None = None


def batch_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`{"persons": [person bodies; with "id": an update]}` → the items, checked for shape only."""
    errors = ErrorCollector()
    for key in sorted(set(data) - {"persons"}):
        errors.add(key, 'is not a batch field; send {"persons": [...]}')
    items = data.get("persons")
    if not isinstance(items, list) or not items:
        errors.add("persons", "must be a non-empty list of person bodies")
    elif len(items) > BATCH_MAX:
        errors.add("persons", f"at most {BATCH_MAX} persons per batch, got {len(items)}")
    errors.raise_if_any()
    return items


def persons_batch(*, realm, items: list[Any], company_of=None) -> list[ItemOutcome]:
    """Create (no `id`) or update (PATCH meaning, `id` of the realm) each item in its own savepoint."""
    outcomes = []
    for index, item in enumerate(items):
        op = "update" if isinstance(item, dict) and "id" in item else "create"
        outcome = ItemOutcome(index, op)
        try:
            with transaction.atomic():
                outcome.person = _write_item(realm, item, op, company_of)
        except (DomainError, IntegrityError) as exc:
            outcome.error = exc
        outcomes.append(outcome)
    return outcomes


def _write_item(realm, item: Any, op: str, company_of) -> Person:
    if not isinstance(item, dict):
        raise ValidationError.single("body", "must be a JSON object")
    body = dict(item)
    person = None
    if op == "update":
        raw_id = body.pop("id")
        person_id = parse_object_id(raw_id)
        person = selectors.person_resolve(realm, person_id) if person_id else None
        if person is None:
            raise NotFound(f"person {str(raw_id)[:40]} does not exist")
    args = PersonWriteSerializer.parse(body, company_of=company_of)
    if person is None:
        return services.person_create(realm=realm, **args)
    return services.person_update(person=person, **args)


# ------------------------------------------------------------------------------------------ many at once

BULK_CHUNK = 500


def persons_in_chunks(persons, chunk: int = BULK_CHUNK):
    """The persons of a queryset in id order, `chunk` at a time (each chunk read afresh: constant memory)."""
    last = 0
    while True:
        batch = list(persons.filter(pk__gt=last).select_related("realm").order_by("pk")[:chunk])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def persons_bulk_update(*, persons, modified_from: str = Origin.PORTAL, **change: Any) -> int:
    """person_update(**change) for every person of a queryset, one transaction per chunk (each person's outbox
    row with it). A chunk whose update fails is rolled back whole and the error raised. Returns how many."""
    done = 0
    for batch in persons_in_chunks(persons):
        with transaction.atomic():
            for person in batch:
                services.person_update(person=person, modified_from=modified_from, **change)
        done += len(batch)
    return done


def persons_push_again(*, persons) -> int:
    """Send every person of a queryset to Infobip again as it is now (an update of all its fields, or a create
    when Infobip never had it), one transaction per chunk. Returns how many were queued."""
    fields = [*PERSON_ATTRIBUTES.values(), "custom_attributes", "company"]
    done = 0
    for batch in persons_in_chunks(persons.filter(merged_into__isnull=True)):
        with transaction.atomic():
            for person in batch:
                added = Sets.of(
                    phones=person.phones.values_list("number", flat=True),
                    emails=person.emails.values_list("address", flat=True),
                    tags=person.tags.values_list("name", flat=True),
                )
                op = OutboxOp.UPDATE if person.infobip_id else OutboxOp.CREATE
                payload = PersonChange.build(fields=fields, added=added).to_json() if person.infobip_id else None
                outbox_record(
                    realm=person.realm, entity=OutboxEntity.PERSON, entity_id=person.pk, op=op, payload=payload
                )
            pushing = [p.pk for p in batch if p.realm.cdp_enabled]
            for realm_id in {p.realm_id for p in batch}:
                ids = [p.pk for p in batch if p.realm_id == realm_id]
                activity.activity_record(realm=realm_id, person_ids=ids, action=activity.PUSHED)
            Person.objects.filter(pk__in=pushing).update(sync_status=SyncStatus.PENDING)
        done += len(batch)
    return done
