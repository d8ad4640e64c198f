"""Many person creates and updates in one call (POST /v1/identities/persons/batch, like Infobip's batch).

Each item runs in its own savepoint: an item either is written whole (person, contacts, tags, outbox row) or
not at all, and a failing item never undoes another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import DomainError, ErrorCollector, NotFound, ValidationError
from identities.ids import parse_object_id
from people import selectors, services
from people.models import Person
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
