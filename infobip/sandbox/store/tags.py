"""Tags and custom attribute definitions."""

from __future__ import annotations

from typing import Any

from infobip.sandbox.store.contract import (
    CUSTOM_ATTRIBUTE_TYPES,
    _Errors,
    now_v2,
)
from infobip.sandbox.store.errors import Invalid, NotFound, StoreError


class TagsMixin:
    """Tags (with their member persons) and custom attribute definitions."""

    # ----- tags -----

    def _create_tag(self, name: str) -> dict[str, Any]:
        stamp = now_v2()
        tag = {"createdAt": stamp, "modifiedAt": stamp, "id": next(self._tag_ids), "name": name}
        self.tags[name] = tag
        self.tag_members.setdefault(name, set())
        self.effects["tags_created"] += 1
        return tag

    def create_tag(self, name: Any) -> dict[str, Any]:
        if not isinstance(name, str) or not name.strip():
            raise Invalid({"name": ["must not be empty"]})
        if len(name) > 256:
            raise Invalid({"name": ["size must be between 1 and 256"]})
        with self.lock:
            if name in self.tags:
                raise StoreError(400, f"Tag with name {name} already exists.", {"name": ["already exists"]})
            tag = self._create_tag(name)
            self._touch()
            return tag

    def delete_tag(self, name: str) -> None:
        with self.lock:
            if name not in self.tags:
                raise NotFound(f"Tag {name} not found")
            for person_id in list(self.tag_members.get(name, ())):
                self.set_person_tags(person_id, remove=[name])
            for company in list(self.companies.values()):
                if name in company.get("tags", ()):
                    self.companies[company["id"]] = {**company, "tags": [t for t in company["tags"] if t != name]}
            del self.tags[name]
            self.tag_members.pop(name, None)
            self.effects["tags_deleted"] += 1
            self._touch()

    # ----- custom attributes -----

    def create_custom_attribute(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid({"body": ["must be a JSON object"]})
        errors = _Errors()
        name, data_type, schema = body.get("name"), body.get("dataType"), body.get("objectSchema")
        if not isinstance(name, str) or not name.strip():
            errors.add("name", "must not be empty")
        elif len(name) > 256:
            errors.add("name", "size must be between 1 and 256")
        elif set(name) & set("{}[]"):
            errors.add("name", "must not contain any of the characters { } [ ]")
        if data_type not in CUSTOM_ATTRIBUTE_TYPES:
            errors.add("dataType", "must be one of " + ", ".join(CUSTOM_ATTRIBUTE_TYPES))
        if data_type == "LIST_OF_OBJECTS":
            if not isinstance(schema, dict) or not schema:
                errors.add("objectSchema", "is required for LIST_OF_OBJECTS")
            else:
                for key, value in schema.items():
                    if value not in CUSTOM_ATTRIBUTE_TYPES or value == "LIST_OF_OBJECTS":
                        errors.add(f"objectSchema.{key}", "must be a scalar data type")
        elif schema not in (None, {}):
            errors.add("objectSchema", "is only allowed for LIST_OF_OBJECTS")
        if errors:
            raise Invalid(errors.map)
        with self.lock:
            if name in self.custom_attributes:
                raise StoreError(400, f"Custom attribute {name} already exists.", {"name": ["already exists"]})
            stamp = now_v2()
            definition = {"createdAt": stamp, "modifiedAt": stamp, "name": name, "dataType": data_type}
            if data_type == "LIST_OF_OBJECTS":
                definition["objectSchema"] = dict(schema)
            self.custom_attributes[name] = definition
            self._touch()
            return definition

    def delete_custom_attribute(self, name: str) -> None:
        with self.lock:
            if name not in self.custom_attributes:
                raise NotFound(f"Custom attribute {name} not found")
            del self.custom_attributes[name]
            for person in list(self.persons.values()):
                if name in person.get("customAttributes", {}):
                    custom = {k: v for k, v in person["customAttributes"].items() if k != name}
                    self.persons[person["id"]] = {**person, "customAttributes": custom}
            self._touch()
