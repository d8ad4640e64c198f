"""Every write to event definitions and person events (each one transaction, with its outbox row)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, ErrorCollector, NotFound, ValidationError
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record
from people import validation
from people.models import (
    EventDefinition,
    EventSource,
    Person,
    PersonEvent,
)

MSG_DUPLICATE_EVENT_DEFINITION = "an event definition {definition_id!r} already exists"

EVENT_FIELD_TYPE_CHOICES = [(kind, kind) for kind in ("String", "Boolean", "DateTime", "Numeric", "Decimal", "List")]
EVENT_FIELD_TYPES = {value for value, _ in EVENT_FIELD_TYPE_CHOICES}
EVENT_FIELD_NAME_RE = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def _clean_event_fields(fields: Any, errors: ErrorCollector) -> list[dict[str, Any]]:
    if fields in (None, ""):
        return []
    if not isinstance(fields, list):
        errors.add("fields", "must be a list of {name, type}")
        return []
    names: set[str] = set()
    cleaned = []
    for index, field in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(field, dict):
            errors.add(where, "must be an object with name and type")
            continue
        name, kind = field.get("name"), field.get("type")
        if not isinstance(name, str) or not EVENT_FIELD_NAME_RE.match(name) or len(name) > 128:
            errors.add(f"{where}.name", f"{name!r} must match ^[a-z_][a-zA-Z0-9_]*$ (1..128 characters)")
            continue
        if name.lower() in names:
            errors.add(f"{where}.name", f"{name!r} appears twice")
            continue
        names.add(name.lower())
        if kind not in EVENT_FIELD_TYPES:
            errors.add(f"{where}.type", f"{kind!r} is not one of {', '.join(sorted(EVENT_FIELD_TYPES))}")
            continue
        item = {"name": name, "type": kind}
        if kind == "List":
            schema = field.get("schema")
            if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list) or not schema["fields"]:
                errors.add(f"{where}.schema", "a List field needs a schema with fields")
                continue
            item["schema"] = {"type": "Object", "fields": _clean_event_fields(schema["fields"], errors)}
        cleaned.append(item)
    if sum(1 for f in cleaned if f["type"] == "List") > 1:
        errors.add("fields", "at most one field can be a List")
    if len(cleaned) > 120:
        errors.add("fields", "at most 120 fields")
    return cleaned


@transaction.atomic
def event_definition_create(
    *, realm, definition_id: str, title: str, description: str = "", fields: Any = None
) -> EventDefinition:
    errors = ErrorCollector()
    if not isinstance(definition_id, str) or not re.fullmatch(r"[a-zA-Z0-9]{1,36}", definition_id):
        errors.add("definitionId", "must be 1..36 letters and digits")
    if not isinstance(title, str) or not title.strip():
        errors.add("title", "is required")
    elif len(title) > 100:
        errors.add("title", "is longer than 100 characters")
    if description and len(description) > 2000:
        errors.add("description", "is longer than 2000 characters")
    clean_fields = _clean_event_fields(fields, errors)
    errors.raise_if_any()
    if EventDefinition.objects.filter(realm=realm, definition_id=definition_id).exists():
        raise ValidationError.single(
            "definitionId", MSG_DUPLICATE_EVENT_DEFINITION.format(definition_id=definition_id), code="conflict"
        )
    definition = EventDefinition.objects.create(
        realm=realm,
        definition_id=definition_id,
        title=title.strip(),
        description=description or "",
        fields=clean_fields,
    )
    outbox_record(realm=realm, entity=OutboxEntity.EVENT_DEFINITION, entity_id=definition_id, op=OutboxOp.CREATE)
    return definition


@transaction.atomic
def event_definition_update(
    *, definition: EventDefinition, title: str, description: str = "", fields: Any = None
) -> EventDefinition:
    """Infobip's update is additive: fields can be added, never removed or retyped."""
    errors = ErrorCollector()
    if not isinstance(title, str) or not title.strip():
        errors.add("title", "is required")
    elif len(title) > 100:
        errors.add("title", "is longer than 100 characters")
    if description and len(description) > 2000:
        errors.add("description", "is longer than 2000 characters")
    clean_fields = _clean_event_fields(fields, errors) if fields is not None else list(definition.fields)
    new_by_name = {f["name"]: f for f in clean_fields}
    for old in definition.fields:
        new = new_by_name.get(old["name"])
        if new is None:
            errors.add("fields", f"field {old['name']!r} cannot be removed")
        elif new["type"] != old["type"]:
            errors.add("fields", f"field {old['name']!r} cannot change its type from {old['type']}")
    errors.raise_if_any()
    locked = EventDefinition.objects.select_for_update().get(pk=definition.pk)
    locked.title, locked.description, locked.fields = title.strip(), description or "", clean_fields
    locked.save()
    outbox_record(
        realm=locked.realm, entity=OutboxEntity.EVENT_DEFINITION, entity_id=locked.definition_id, op=OutboxOp.UPDATE
    )
    return locked


@transaction.atomic
def event_definition_delete(*, definition: EventDefinition) -> None:
    """Only a definition without recorded events can go (Infobip has no delete: it stays there)."""
    if definition.events.exists():
        raise Conflict(f"event definition {definition.definition_id!r} has recorded events", code="in_use")
    definition.delete()


def _check_event_value(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "String":
        return isinstance(value, str)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind in ("Numeric", "Decimal"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "DateTime":
        if not isinstance(value, str):
            return False
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) is not None
        except ValueError:
            # .NET style timestamps carry 7 fractional digits (2019-09-30T16:35:52.3616436+03:00).
            trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
            try:
                return dt.datetime.fromisoformat(trimmed) is not None
            except ValueError:
                return False
    if kind == "List":
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return False


def check_event_properties(definition: EventDefinition, properties: Any) -> dict[str, Any]:
    """Properties must fit the definition: known names, values of the declared types."""
    errors = ErrorCollector()
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise ValidationError.single("properties", "must be an object")
    declared = {f["name"]: f for f in definition.fields}
    for name, value in properties.items():
        field = declared.get(name)
        if field is None:
            errors.add(f"properties.{name}", f"is not a field of event definition {definition.definition_id!r}")
            continue
        if not _check_event_value(field["type"], value):
            errors.add(f"properties.{name}", f"expected {field['type']}, got {validation._type_name(value)}")
            continue
        if field["type"] == "List":
            item_fields = {f["name"]: f["type"] for f in field.get("schema", {}).get("fields", [])}
            for index, item in enumerate(value):
                for key, item_value in item.items():
                    if key not in item_fields or not _check_event_value(item_fields[key], item_value):
                        errors.add(f"properties.{name}[{index}].{key}", "does not fit the list's schema")
    errors.raise_if_any()
    return properties


def person_event_record(
    *,
    person: Person,
    definition_id: str,
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    occurred_time: dt.datetime | None = None,
    source: str = EventSource.API,
) -> tuple[PersonEvent, bool]:
    """Record a custom event for a person. Returns (event, created); a repeated eventId returns the first."""
    realm = person.realm
    definition = EventDefinition.objects.filter(realm=realm, definition_id=definition_id).first()
    if definition is None:
        raise NotFound(f"event definition {definition_id!r} does not exist; create it first", code="unknown_definition")
    if event_id is not None and not (isinstance(event_id, str) and EVENT_ID_RE.match(event_id)):
        raise ValidationError.single("eventId", "must be 1..36 characters of letters, digits, '_' and '-'")
    clean = check_event_properties(definition, properties)
    event_id = event_id or uuid.uuid4().hex
    try:
        with transaction.atomic():
            existing = PersonEvent.objects.filter(realm=realm, event_id=event_id).first()
            if existing:
                return existing, False
            event = PersonEvent.objects.create(
                realm=realm,
                person=person,
                definition=definition,
                event_id=event_id,
                occurred_time=occurred_time or timezone.now(),
                properties=clean,
                source=source,
            )
            outbox_record(realm=realm, entity=OutboxEntity.EVENT, entity_id=event.pk, op=OutboxOp.SEND)
    except IntegrityError:
        # The same eventId was recorded concurrently: that one is the event.
        return PersonEvent.objects.get(realm=realm, event_id=event_id), False
    return event, True
