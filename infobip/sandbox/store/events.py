"""Event definitions and events (deduplicated per person and eventId)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from infobip.sandbox.store.contract import (
    _DEFINITION_ID_RE,
    _EVENT_FIELD_RE,
    EVENT_FIELD_TYPES,
    _Errors,
    _parse_iso,
)
from infobip.sandbox.store.errors import Invalid, NotFound, StoreError


class EventsMixin:
    """Event definitions and recorded events."""

    # ----- event definitions and events -----

    def validate_definition_fields(self, fields: Any, errors: _Errors) -> list[dict[str, Any]]:
        if fields is None:
            return []
        if not isinstance(fields, list):
            errors.add("fields", "must be an array")
            return []
        if len(fields) > 120:
            errors.add("fields", "must not have more than 120 fields")
        out, names, lists = [], set(), 0
        for i, item in enumerate(fields):
            where = f"fields[{i}]"
            if not isinstance(item, dict):
                errors.add(where, "must be an object")
                continue
            name, type_ = item.get("name"), item.get("type")
            if not isinstance(name, str) or not _EVENT_FIELD_RE.match(name) or len(name) > 128:
                errors.add(f"{where}.name", "must start with a lowercase letter or _ and contain only [A-Za-z0-9_]")
                continue
            if name.lower() in names:
                errors.add(f"{where}.name", "field names must be unique (case-insensitive)")
            names.add(name.lower())
            if type_ not in EVENT_FIELD_TYPES:
                errors.add(f"{where}.type", "must be one of " + ", ".join(EVENT_FIELD_TYPES))
                continue
            field_out: dict[str, Any] = {"name": name, "type": type_}
            if type_ == "List":
                lists += 1
                schema = item.get("schema")
                sub = schema.get("fields") if isinstance(schema, dict) else None
                if not isinstance(sub, list) or not 1 <= len(sub) <= 128:
                    errors.add(f"{where}.schema", "List fields need a schema with 1 to 128 fields")
                    continue
                sub_out = []
                for j, sub_item in enumerate(sub):
                    ok = isinstance(sub_item, dict) and isinstance(sub_item.get("name"), str)
                    if not ok or sub_item.get("type") not in EVENT_FIELD_TYPES or sub_item.get("type") == "List":
                        errors.add(f"{where}.schema.fields[{j}]", "needs a name and a non-List type")
                        continue
                    sub_out.append({"name": sub_item["name"], "type": sub_item["type"]})
                field_out["schema"] = {"type": "Object", "fields": sub_out}
            elif item.get("schema") is not None:
                errors.add(f"{where}.schema", "must be null when type is not List")
            out.append(field_out)
        if lists > 1:
            errors.add("fields", "at most one field of type List is allowed")
        return out

    def create_definition(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid({"body": ["must be a JSON object"]})
        errors = _Errors()
        if body.get("templateId"):
            errors.add("templateId", "templates are not available in the sandbox")
        definition_id, title = body.get("definitionId"), body.get("title")
        if not isinstance(definition_id, str) or not _DEFINITION_ID_RE.match(definition_id):
            errors.add("definitionId", "must be 1-36 alphanumeric characters")
        if not isinstance(title, str) or not title.strip() or len(title) > 100:
            errors.add("title", "must be 1-100 characters")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 2000):
            errors.add("description", "must be at most 2000 characters")
        fields = self.validate_definition_fields(body.get("fields"), errors)
        if errors:
            raise Invalid(errors.map, "The event definition is invalid")
        with self.lock:
            if definition_id in self.definitions:
                raise StoreError(409, f"Definition with such 'definitionId' has already existed: {definition_id}")
            definition = {
                "isInternalDefinition": False,
                "category": "external",
                "definitionId": definition_id,
                "title": title,
                "description": description,
                "fields": fields,
            }
            self.definitions[definition_id] = definition
            self.changes += 1
            self.effects["definitions_created"] += 1
            return definition

    def update_definition(self, definition_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            old = self.definitions.get(definition_id)
            if old is None:
                raise NotFound(f"Event definition {definition_id} not found")
            if not isinstance(body, dict):
                raise Invalid({"body": ["must be a JSON object"]})
            if old["isInternalDefinition"]:
                raise Invalid({"definitionId": ["standard definitions cannot be modified"]})
            errors = _Errors()
            title = body.get("title")
            if not isinstance(title, str) or not title.strip() or len(title) > 100:
                errors.add("title", "must be 1-100 characters")
            description = body.get("description")
            if description is not None and (not isinstance(description, str) or len(description) > 2000):
                errors.add("description", "must be at most 2000 characters")
            fields = self.validate_definition_fields(body.get("fields"), errors)
            existing = {f["name"].lower(): f for f in old.get("fields") or []}
            merged = list(old.get("fields") or [])
            for item in fields:
                current = existing.get(item["name"].lower())
                if current is None:
                    merged.append(item)
                elif current != item:
                    errors.add("fields", f"existing field {item['name']} cannot be changed")
            if len(merged) > 120:
                errors.add("fields", "must not have more than 120 fields")
            if sum(1 for f in merged if f["type"] == "List") > 1:
                errors.add("fields", "at most one field of type List is allowed")
            if errors:
                raise Invalid(errors.map, "The event definition is invalid")
            definition = {**old, "title": title, "description": description, "fields": merged}
            self.definitions[definition_id] = definition
            self.changes += 1
            return definition

    @staticmethod
    def _check_event_value(type_: str, value: Any, schema: Mapping[str, Any] | None) -> str | None:
        if value is None:
            return None
        if type_ == "String":
            ok = isinstance(value, str)
        elif type_ == "Boolean":
            ok = isinstance(value, bool)
        elif type_ == "Numeric":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
        elif type_ == "Decimal":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif type_ == "DateTime":
            ok = _parse_iso(value) is not None
        else:
            if not isinstance(value, list):
                return "must be an array"
            fields = {f["name"]: f["type"] for f in (schema or {}).get("fields", [])}
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    return f"item {i} must be an object"
                for key, item_value in item.items():
                    if key not in fields:
                        return f"item {i}: unknown property {key}"
                    problem = EventsMixin._check_event_value(fields[key], item_value, None)
                    if problem:
                        return f"item {i}: {key} {problem}"
            return None
        return None if ok else f"must be of type {type_}"

    def check_event_properties(self, definition: Mapping[str, Any], properties: Any) -> list[tuple[str, str]]:
        if properties is None:
            return []
        if not isinstance(properties, dict):
            return [("properties", "must be an object")]
        fields = {f["name"]: f for f in definition.get("fields") or []}
        problems = []
        for name, value in properties.items():
            spec = fields.get(name)
            if spec is None:
                problems.append((f"properties.{name}", "is not defined in the event definition"))
                continue
            problem = self._check_event_value(spec["type"], value, spec.get("schema"))
            if problem:
                problems.append((f"properties.{name}", problem))
        return problems

    def record_event(
        self, person_id: int, definition_id: str, event_id: str | None, properties: Any, occurred: str
    ) -> tuple[dict[str, Any], bool]:
        """Store an event unless (person, eventId) was seen; returns (event, created)."""
        with self.lock:
            if event_id:
                existing = self._event_keys.get((person_id, event_id))
                if existing is not None:
                    self.effects["events_deduplicated"] += 1
                    return existing, False
            event = {
                "eventId": event_id or str(uuid.uuid4()).upper(),
                "definitionId": definition_id,
                "occurredTime": occurred,
                "properties": properties,
                "metadata": {"source": "API"},
            }
            self.events.setdefault(person_id, []).append(event)
            self._event_keys[(person_id, event["eventId"])] = event
            self.effects["events_recorded"] += 1
            self.changes += 1
            return event, True
