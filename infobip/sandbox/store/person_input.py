"""Validation of v2 and v3 person bodies into a ``PersonInput`` (no state is changed here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infobip.sandbox.store.contract import (
    _EMAIL_RE,
    _LANGUAGE_RE,
    _PHONE_RE,
    CHANNEL_BY_KEY,
    CHANNELS,
    FORBIDDEN_NAME_CHARS,
    GENDERS,
    MAX_CONTACTS,
    MAX_CUSTOM_VALUE,
    NAME_FIELDS,
    PERSON_SCALARS,
    PERSON_STRING_LIMITS,
    PERSON_TYPES,
    PersonInput,
    _check_string,
    _Errors,
    _parse_iso,
    _valid_date,
)
from infobip.sandbox.store.errors import Invalid


class PersonInputMixin:
    """Parses person bodies against the tags and custom attributes the store knows."""

    # ----- validation -----

    def parse_person(self, body: Any, *, prefix: str = "", allow_channels: bool = False) -> PersonInput:
        """Validate a v2 person body (IamPersonV2). Read-only fields are ignored."""
        errors = _Errors(prefix)
        if not isinstance(body, dict):
            raise Invalid({prefix or "body": ["must be a JSON object"]}, "Request body must be a JSON object")
        result = PersonInput()
        for name in PERSON_SCALARS:
            if name not in body:
                continue
            value = body[name]
            if value == "":
                value = None
            if name == "gender":
                if value is not None and value not in GENDERS:
                    errors.add(name, "must be one of MALE, FEMALE")
                result.scalars[name] = value
                continue
            value = _check_string(errors, name, value, PERSON_STRING_LIMITS[name])
            if value is None:
                if body[name] in (None, ""):
                    result.scalars[name] = None
                continue
            if name in NAME_FIELDS and FORBIDDEN_NAME_CHARS.intersection(value):
                bad = "".join(sorted(FORBIDDEN_NAME_CHARS.intersection(value)))
                errors.add(name, f"contains forbidden characters: {bad!r}")
                continue
            if name == "birthDate" and not _valid_date(value):
                errors.add(name, "must be a date in format yyyy-MM-dd")
                continue
            if name == "preferredLanguage" and not _LANGUAGE_RE.match(value):
                errors.add(name, "must be a 2-letter ISO 639-1 code, optionally with a region (en-gb)")
                continue
            result.scalars[name] = value
        if "type" in body and body["type"] is not None:
            if body["type"] not in PERSON_TYPES:
                errors.add("type", "must be one of CUSTOMER, LEAD")
            else:
                result.type = body["type"]
        if "tags" in body:
            result.tags = self._parse_tags(body["tags"], errors)
        if "customAttributes" in body:
            result.custom = self._parse_custom(body["customAttributes"], errors)
        if "contactInformation" in body:
            self._parse_contacts(body["contactInformation"], result, errors, allow_channels)
        if errors:
            raise Invalid(errors.map)
        return result

    def _parse_tags(self, tags: Any, errors: _Errors) -> list[str] | None:
        if tags is None:
            return []
        if not isinstance(tags, list):
            errors.add("tags", "must be an array of tag names")
            return None
        seen: dict[str, None] = {}
        for i, tag in enumerate(tags):
            if not isinstance(tag, str) or not tag.strip():
                errors.add(f"tags[{i}]", "must be a non-empty tag name (string)")
            elif len(tag) > 256:
                errors.add(f"tags[{i}]", "size must be between 1 and 256")
            elif tag not in self.tags and not self.options.auto_create_tags:
                errors.add(f"tags[{i}]", f"Tag {tag} does not exist")
            else:
                seen[tag] = None
        return list(seen)

    def _parse_custom(self, custom: Any, errors: _Errors) -> dict[str, Any] | None:
        if custom is None:
            return {}
        if not isinstance(custom, dict):
            errors.add("customAttributes", "must be an object")
            return None
        out: dict[str, Any] = {}
        for name, value in custom.items():
            where = f"customAttributes.{name}"
            definition = self.custom_attributes.get(name)
            if definition is None:
                if self.options.require_custom_attribute_definitions:
                    errors.add(where, f"Custom attribute {name} does not exist")
                    continue
                out[name] = value
                continue
            if value is None:
                out[name] = None
                continue
            problem = self.check_custom_value(definition, value)
            if problem:
                errors.add(where, problem)
            else:
                out[name] = value
        return out

    @staticmethod
    def _check_typed(data_type: str, value: Any) -> str | None:
        if data_type == "STRING":
            if not isinstance(value, str):
                return f"expected STRING, but got {type(value).__name__.upper()}"
            if len(value) > MAX_CUSTOM_VALUE:
                return f"value must not be longer than {MAX_CUSTOM_VALUE} characters"
        elif data_type == "INTEGER":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"expected INTEGER, but got {type(value).__name__.upper()}"
        elif data_type == "DECIMAL":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"expected DECIMAL, but got {type(value).__name__.upper()}"
        elif data_type == "BOOLEAN":
            if not isinstance(value, bool):
                return f"expected BOOLEAN, but got {type(value).__name__.upper()}"
        elif data_type == "DATE":
            if not isinstance(value, str) or not _valid_date(value):
                return "expected DATE in format yyyy-MM-dd"
        elif data_type == "DATE_TIME" and (not isinstance(value, str) or _parse_iso(value) is None):
            return "expected DATE_TIME in format yyyy-MM-dd'T'HH:mm:ss"
        return None

    def check_custom_value(self, definition: Mapping[str, Any], value: Any) -> str | None:
        data_type = definition["dataType"]
        if data_type != "LIST_OF_OBJECTS":
            return self._check_typed(data_type, value)
        if not isinstance(value, list):
            return "expected LIST_OF_OBJECTS (an array of objects)"
        schema = definition.get("objectSchema") or {}
        if len(str(value)) > MAX_CUSTOM_VALUE * 64:
            return "list is too large"
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                return f"item {i} must be an object"
            for key, item_value in item.items():
                if key not in schema:
                    return f"item {i}: property {key} is not in the list schema"
                if item_value is not None:
                    problem = self._check_typed(schema[key], item_value)
                    if problem:
                        return f"item {i}: {key}: {problem}"
        return None

    def _parse_contacts(self, contacts: Any, result: PersonInput, errors: _Errors, allow_channels: bool) -> None:
        if contacts is None:
            result.phones, result.emails = [], []
            return
        if not isinstance(contacts, dict):
            errors.add("contactInformation", "must be an object")
            return
        if "phone" in contacts:
            result.phones = self._parse_contact_list(contacts["phone"], "phone", "number", errors)
        if "email" in contacts:
            result.emails = self._parse_contact_list(contacts["email"], "email", "address", errors)
        if allow_channels:
            channels = {}
            for key, items in contacts.items():
                if key in CHANNEL_BY_KEY and isinstance(items, list):
                    channels[key] = [dict(item) for item in items if isinstance(item, dict)]
            result.channels = channels
        # Other channel lists (push, facebook, ...) are read-only in the API: ignored on writes.

    @staticmethod
    def _parse_contact_list(items: Any, name: str, key: str, errors: _Errors) -> list[str] | None:
        where = f"contactInformation.{name}"
        if items is None:
            return []
        if not isinstance(items, list):
            errors.add(where, "must be an array")
            return None
        values: dict[str, None] = {}
        for i, item in enumerate(items):
            value = item.get(key) if isinstance(item, dict) else None
            if isinstance(item, dict) and value in (None, ""):
                continue  # {"address": ""} as in Orangepill's examples: nothing to store
            if not isinstance(value, str):
                errors.add(f"{where}[{i}].{key}", "must be a string")
                continue
            value = value.strip()
            if name == "email":
                if len(value) > 255:
                    errors.add(f"{where}[{i}].address", "size must be between 0 and 255")
                elif not _EMAIL_RE.match(value):
                    errors.add(f"{where}[{i}].address", f"Invalid email address {value}")
                else:
                    if value.lower() not in {v.lower() for v in values}:
                        values[value] = None
            elif not _PHONE_RE.match(value):
                errors.add(f"{where}[{i}].number", f"Invalid phone number {value}")
            else:
                values[value] = None
        if len(values) > MAX_CONTACTS:
            errors.add(where, f"a person can have at most {MAX_CONTACTS} {name} contacts")
            return None
        return list(values)

    # ----- v3 upsert / merge -----

    def parse_person_v3(self, body: Any, index: int) -> PersonInput:
        """Translate a PersonV3 into the v2 input shape (contactInformation is a typed array in v3)."""
        prefix = f"persons[{index}]."
        if not isinstance(body, dict):
            raise Invalid({f"persons[{index}]": ["must be an object"]})
        v2 = {k: v for k, v in body.items() if k != "contactInformation"}  # nickName is a scalar of both
        errors = _Errors(prefix)
        channels: dict[str, list[dict[str, Any]]] = {}
        if body.get("contactInformation") is not None:
            items = body["contactInformation"]
            if not isinstance(items, list):
                errors.add("contactInformation", "must be an array")
            else:
                phones, emails = [], []
                for i, item in enumerate(items):
                    where = f"contactInformation[{i}]"
                    if not isinstance(item, dict):
                        errors.add(where, "must be an object")
                        continue
                    type_, ident = item.get("type"), item.get("identifier")
                    if type_ is None:
                        errors.add(f"{where}.type", "Must not be null")
                    elif not isinstance(ident, str) or not ident:
                        errors.add(f"{where}.identifier", "Must not be empty")
                    elif type_ == "EMAIL":
                        if not _EMAIL_RE.match(ident) or len(ident) > 255:
                            errors.add(f"{where}.identifier", "Email address is invalid")
                        else:
                            emails.append({"address": ident})
                    elif type_ == "PHONE":
                        if not _PHONE_RE.match(ident):
                            errors.add(f"{where}.identifier", "Phone number is invalid")
                        else:
                            phones.append({"number": ident})
                    elif type_ in CHANNELS:
                        if not item.get("sender"):
                            errors.add(f"{where}.sender", f"Must not be empty for type {type_}")
                        else:
                            key, id_field = CHANNELS[type_]
                            channels.setdefault(key, []).append({"applicationId": item["sender"], id_field: ident})
                    else:
                        errors.add(f"{where}.type", f"Unsupported contact type {type_}")
                v2["contactInformation"] = {"phone": phones, "email": emails}
        if errors:
            raise Invalid(errors.map, "One or more properties of the person are invalid", code=400100)
        try:
            data = self.parse_person(v2, prefix=prefix)
        except Invalid as exc:
            raise Invalid(exc.errors, "One or more properties of the person are invalid", code=400100) from exc
        if channels:
            data.channels = channels
        return data
