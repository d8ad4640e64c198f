"""The sandbox's in-memory People database: persons, companies, tags, custom attributes, events.

Records are kept in the exact JSON shape Infobip returns and are never mutated after they are stored:
every write builds a new dict and swaps it in (copy-on-write), so a reader can serialise a record outside
the lock. One lock guards every write and every multi-step read.

Indexes: ``_ident`` maps every unique identifier of a person to its id — ``("ID", 5)``,
``("EXTERNAL_ID", "x")`` (case-sensitive), ``("EMAIL", "a@b.c")`` (lower-cased), ``("PHONE", "385...")``
and ``(<channel type>, <sender/applicationId>, <user/registration id>)`` — so every single-person lookup
and uniqueness check is O(1). Companies are indexed by id, lower-cased name, externalId and domain;
tags by name (with the set of persons carrying each tag).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infobip.contract import filters
from infobip.contract.limits import MAX_BATCH, MAX_EVENT_BATCH  # noqa: F401 (the handlers read st.MAX_BATCH)

# --- errors ------------------------------------------------------------------------------------------


class StoreError(Exception):
    """A request the store refuses. ``status`` is the HTTP status; ``errors`` maps field -> messages."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, list[str]] | None = None,
        *,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})
        self.code = code


class Invalid(StoreError):
    def __init__(self, errors: Mapping[str, list[str]], message: str | None = None, *, code: int | None = None):
        if message is None:
            first_field, first_msgs = next(iter(errors.items()))
            message = f"Invalid request: {first_field}: {first_msgs[0]}"
        super().__init__(400, message, errors, code=code)


class NotFound(StoreError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Duplicate(StoreError):
    """An identifier already belongs to someone else (single create answers 400, batch items 409)."""

    def __init__(self, message: str, field_name: str = "") -> None:
        super().__init__(409, message, {field_name: [message]} if field_name else None)


# --- constants from the contract ---------------------------------------------------------------------

FORBIDDEN_NAME_CHARS = frozenset('&<>"/\\\n\r:(){}=;#')
PERSON_STRING_LIMITS = {
    "externalId": 256,
    "firstName": 255,
    "lastName": 255,
    "middleName": 50,
    "address": 256,
    "city": 50,
    "country": 50,
    "preferredLanguage": 10,
    "profilePicture": 2083,
    "birthDate": 10,
}
NAME_FIELDS = ("firstName", "lastName", "middleName")
PERSON_SCALARS = (
    "externalId",
    "firstName",
    "lastName",
    "middleName",
    "gender",
    "birthDate",
    "address",
    "city",
    "country",
    "preferredLanguage",
    "profilePicture",
)
GENDERS = ("MALE", "FEMALE")
PERSON_TYPES = ("CUSTOMER", "LEAD")
MAX_CONTACTS = 100
MAX_CUSTOM_VALUE = 4096
COMPANY_STRING_LIMITS = {
    "name": 255,
    "externalId": 256,
    "notes": 1023,
    "country": 50,
    "region": 255,
    "accountManager": 255,
    "customerStage": 255,
    "industry": 255,
    "segment": 255,
    "vatNumber": 50,
}
COMPANY_SCALARS = tuple(COMPANY_STRING_LIMITS)
COMPANY_SELECTORS = ("id", "externalId", "name", "domain")
CUSTOM_ATTRIBUTE_TYPES = ("STRING", "DECIMAL", "INTEGER", "BOOLEAN", "DATE", "DATE_TIME", "LIST_OF_OBJECTS")
EVENT_FIELD_TYPES = ("String", "Boolean", "DateTime", "Numeric", "Decimal", "List")

# v2 identifier types (PersonUniqueFieldType) that are channel contacts: type -> (contact key, id field)
CHANNELS: dict[str, tuple[str, str]] = {
    "PUSH": ("push", "registrationId"),
    "WEB_PUSH": ("webpush", "registrationId"),
    "FACEBOOK": ("facebook", "userId"),
    "LINE": ("line", "userId"),
    "TELEGRAM": ("telegram", "userId"),
    "LIVE_CHAT": ("liveChat", "userId"),
    "VIBER_BOTS": ("viberBots", "userId"),
    "INSTAGRAM": ("instagram", "userId"),
    "INSTAGRAM_DM": ("instagramDm", "userId"),
    "TWITTER": ("twitter", "userId"),
    "APPLE_BUSINESS_CHAT": ("appleBusinessChat", "userId"),
    "KAKAO_SANGDAM": ("kakaoSangdam", "userId"),
    "OPEN_CHANNEL": ("openChannel", "userId"),
    "ZALO_FOLLOWER": ("zaloFollower", "userId"),
    "TIKTOK_BM": ("tiktokBm", "userId"),
    "WHATSAPP": ("whatsapp", "userId"),
    "KAKAO_TALK": ("kakaoTalk", "userId"),
}
CHANNEL_BY_KEY = {key: (type_, id_field) for type_, (key, id_field) in CHANNELS.items()}
IDENTITY_TYPES = ("ID", "EXTERNAL_ID", "PHONE", "EMAIL", *CHANNELS)
AUTO_CREATE_TYPES = ("PHONE", "EMAIL", "EXTERNAL_ID")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9]{5,49}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_LANGUAGE_RE = re.compile(r"^[a-zA-Z]{2}([-_][a-zA-Z]{2})?$")
_EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_DEFINITION_ID_RE = re.compile(r"^[a-zA-Z0-9]{1,36}$")
_EVENT_FIELD_RE = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")


def now_v2() -> str:
    """Infobip's v2 timestamp: ``yyyy-MM-dd'T'HH:mm:ss`` in UTC, no zone, no fraction."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def now_iso() -> str:
    """Events use ISO-8601 with fraction and ``Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _valid_date(text: str) -> bool:
    if not _DATE_RE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parse_iso(text: str) -> dt.datetime | None:
    if not isinstance(text, str) or not _DATETIME_RE.match(text):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- parsed inputs -----------------------------------------------------------------------------------


@dataclass
class PersonInput:
    """A person body after validation: only what the body carried (None = absent from the body)."""

    scalars: dict[str, Any] = field(default_factory=dict)  # value None = clear
    type: str | None = None
    tags: list[str] | None = None
    custom: dict[str, Any] | None = None
    phones: list[str] | None = None
    emails: list[str] | None = None
    channels: dict[str, list[dict[str, Any]]] | None = None  # read-only contacts, only via seeding/merge


class _Errors:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.map: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.map.setdefault(self.prefix + name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.map)


def _check_string(errors: _Errors, name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(name, f"must be a string, got {type(value).__name__}")
        return None
    if len(value) > limit:
        errors.add(name, f"size must be between 0 and {limit}")
        return None
    return value


# --- the store ---------------------------------------------------------------------------------------


@dataclass
class StoreOptions:
    auto_create_tags: bool = False  # unknown tag names on persons: rejected (False) or created (True)
    require_custom_attribute_definitions: bool = True


class Store:
    def __init__(self, options: StoreOptions | None = None) -> None:
        self.options = options or StoreOptions()
        self.lock = threading.RLock()
        self.reset()

    # ----- lifecycle -----

    def reset(self) -> None:
        with getattr(self, "lock", threading.RLock()):
            self.persons: dict[int, dict[str, Any]] = {}
            self._ident: dict[tuple, int] = {}
            self._person_ids = itertools.count(1)
            self.companies: dict[int, dict[str, Any]] = {}
            self._company_ids = itertools.count(1)
            self._company_name: dict[str, int] = {}
            self._company_ext: dict[str, int] = {}
            self._company_domain: dict[str, int] = {}
            self.company_members: dict[int, set[int]] = {}
            self.person_company: dict[int, int] = {}
            self.tags: dict[str, dict[str, Any]] = {}
            self._tag_ids = itertools.count(1)
            self.tag_members: dict[str, set[int]] = {}
            self.custom_attributes: dict[str, dict[str, Any]] = {}
            self.definitions: dict[str, dict[str, Any]] = {}
            self.events: dict[int, list[dict[str, Any]]] = {}
            self._event_keys: dict[tuple[int, str], dict[str, Any]] = {}
            self.effects: Counter[str] = Counter()
            self.version = 0
            self._list_cache: dict[tuple, tuple[int, list[int]]] = {}
            self._seed_internal_definitions()

    def _seed_internal_definitions(self) -> None:
        self.definitions["emailOpened"] = {
            "isInternalDefinition": True,
            "category": "channel",
            "subcategory": "email",
            "definitionId": "emailOpened",
            "title": "Email opened",
            "description": "Standard event: an email message was opened.",
            "fields": [{"name": "messageId", "type": "String"}],
        }

    def _touch(self) -> None:
        self.version += 1

    # ----- identifiers -----

    @staticmethod
    def person_identifiers(record: Mapping[str, Any]) -> set[tuple]:
        keys: set[tuple] = {("ID", record["id"])}
        if record.get("externalId"):
            keys.add(("EXTERNAL_ID", record["externalId"]))
        contacts = record.get("contactInformation") or {}
        for item in contacts.get("email", ()):
            keys.add(("EMAIL", item["address"].lower()))
        for item in contacts.get("phone", ()):
            keys.add(("PHONE", item["number"]))
        for key, items in contacts.items():
            channel = CHANNEL_BY_KEY.get(key)
            if channel:
                type_, id_field = channel
                for item in items:
                    if item.get(id_field):
                        keys.add((type_, item.get("applicationId") or "", item[id_field]))
        return keys

    @staticmethod
    def identity_key(type_: str | None, identifier: Any, sender: str | None = None) -> tuple:
        """The index key for a (type, identifier, sender) query; raises Invalid when malformed."""
        if not type_:
            raise Invalid({"type": ["must not be null"]}, "Parameter 'type' is required")
        if type_ not in IDENTITY_TYPES:
            raise Invalid({"type": [f"unknown identifier type {type_}"]}, f"Unknown identifier type {type_!r}")
        if identifier is None or identifier == "":
            raise Invalid({"identifier": ["must not be empty"]}, "Parameter 'identifier' is required")
        identifier = str(identifier)
        if type_ == "ID":
            try:
                return ("ID", int(identifier))
            except ValueError:
                raise Invalid({"identifier": ["must be a number for type ID"]}) from None
        if type_ == "EMAIL":
            return ("EMAIL", identifier.lower())
        if type_ in ("EXTERNAL_ID", "PHONE"):
            return (type_, identifier)
        if not sender:
            raise Invalid({"sender": [f"is required for type {type_}"]}, f"Parameter 'sender' is required for {type_}")
        return (type_, sender, identifier)

    def find_person(self, type_: str | None, identifier: Any, sender: str | None = None) -> dict[str, Any] | None:
        key = self.identity_key(type_, identifier, sender)
        with self.lock:
            person_id = self._ident.get(key)
            return None if person_id is None else self.persons.get(person_id)

    def get_person(self, type_: str | None, identifier: Any, sender: str | None = None) -> dict[str, Any]:
        person = self.find_person(type_, identifier, sender)
        if person is None:
            raise NotFound(f"Person with {type_} {identifier} not found")
        return person

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

    # ----- building records -----

    @staticmethod
    def _contacts_dict(
        phones: Iterable[str], emails: Iterable[str], channels: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        contacts: dict[str, Any] = {}
        phones, emails = list(phones), list(emails)
        if phones:
            contacts["phone"] = [{"number": p} for p in phones]
        if emails:
            contacts["email"] = [{"address": e} for e in emails]
        for key, items in channels.items():
            if items:
                contacts[key] = items
        return contacts

    @staticmethod
    def _split_contacts(record: Mapping[str, Any]) -> tuple[list[str], list[str], dict[str, list]]:
        contacts = record.get("contactInformation") or {}
        phones = [item["number"] for item in contacts.get("phone", ())]
        emails = [item["address"] for item in contacts.get("email", ())]
        channels = {k: v for k, v in contacts.items() if k not in ("phone", "email")}
        return phones, emails, channels

    @staticmethod
    def _assemble(
        *,
        person_id: int,
        scalars: Mapping[str, Any],
        type_: str,
        tags: list[str],
        custom: Mapping[str, Any],
        contacts: dict[str, Any],
        created_at: str,
        modified_at: str,
        origin: str = "API",
    ) -> dict[str, Any]:
        record: dict[str, Any] = {"createdAt": created_at, "modifiedAt": modified_at, "id": person_id}
        for name in PERSON_SCALARS:
            value = scalars.get(name)
            if value is not None:
                record[name] = value
        record["type"] = type_
        record["origin"] = origin
        record["modifiedFrom"] = "API"
        record["tags"] = list(tags)
        record["customAttributes"] = {k: v for k, v in custom.items() if v is not None}
        record["contactInformation"] = contacts
        return record

    def _build(
        self, person_id: int, data: PersonInput, old: Mapping[str, Any] | None, mode: str, *, stamp: str | None = None
    ) -> dict[str, Any]:
        """mode: 'create' | 'replace' (PUT: absent -> cleared) | 'merge' (PATCH: absent -> kept, lists appended)."""
        stamp = stamp or now_v2()
        if old is None or mode == "create":
            scalars = dict(data.scalars)
            type_ = data.type or "CUSTOMER"
            tags = list(data.tags or [])
            custom = dict(data.custom or {})
            phones, emails, channels = list(data.phones or []), list(data.emails or []), dict(data.channels or {})
            created, origin = stamp, "API"
        else:
            old_phones, old_emails, channels = self._split_contacts(old)
            created, origin = old["createdAt"], old.get("origin", "API")
            if data.channels:
                channels = {**channels, **data.channels}
            if mode == "replace":
                scalars = dict(data.scalars)
                type_ = data.type or "CUSTOMER"
                tags = list(data.tags or [])
                custom = dict(data.custom or {})
                phones, emails = list(data.phones or []), list(data.emails or [])
            else:
                scalars = {name: old.get(name) for name in PERSON_SCALARS}
                scalars.update(data.scalars)
                type_ = data.type or old.get("type", "CUSTOMER")
                tags = list(old.get("tags", ()))
                tags += [t for t in data.tags or () if t not in tags]
                custom = dict(old.get("customAttributes") or {})
                custom.update(data.custom or {})
                phones = old_phones + [p for p in data.phones or () if p not in old_phones]
                lower = {e.lower() for e in old_emails}
                emails = old_emails + [e for e in data.emails or () if e.lower() not in lower]
        if len(phones) > MAX_CONTACTS or len(emails) > MAX_CONTACTS:
            raise Invalid({"contactInformation": [f"a person can have at most {MAX_CONTACTS} phones and emails"]})
        return self._assemble(
            person_id=person_id,
            scalars=scalars,
            type_=type_,
            tags=tags,
            custom=custom,
            contacts=self._contacts_dict(phones, emails, channels),
            created_at=created,
            modified_at=stamp,
            origin=origin,
        )

    # ----- writes (call with the lock held) -----

    def _conflict(self, record: Mapping[str, Any], ignore: Iterable[int] = ()) -> None:
        ignore = set(ignore) | {record["id"]}
        for key in self.person_identifiers(record):
            owner = self._ident.get(key)
            if owner is not None and owner not in ignore:
                kind = key[0]
                if kind == "EMAIL":
                    value = next(
                        e["address"] for e in record["contactInformation"]["email"] if e["address"].lower() == key[1]
                    )
                    raise Duplicate(f"Destination(email) {value} already exists.", "contactInformation.email")
                if kind == "PHONE":
                    raise Duplicate(f"Destination(phone) {key[1]} already exists.", "contactInformation.phone")
                if kind == "EXTERNAL_ID":
                    raise Duplicate(f"Person with externalId {key[1]} already exists.", "externalId")
                raise Duplicate(f"Destination({kind.lower()}) {key[-1]} already exists.", "contactInformation")

    def _ensure_tags(self, tags: Iterable[str]) -> None:
        for tag in tags:
            if tag not in self.tags:
                self._create_tag(tag)

    def _store(self, record: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        """Swap a person record in and keep every index right. The caller checked conflicts."""
        person_id = record["id"]
        old_keys = self.person_identifiers(old) if old else set()
        new_keys = self.person_identifiers(record)
        for key in old_keys - new_keys:
            if self._ident.get(key) == person_id:
                del self._ident[key]
        for key in new_keys - old_keys:
            self._ident[key] = person_id
        old_tags = set(old.get("tags", ())) if old else set()
        new_tags = set(record.get("tags", ()))
        self._ensure_tags(new_tags - old_tags)
        for tag in old_tags - new_tags:
            self.tag_members.get(tag, set()).discard(person_id)
        for tag in new_tags - old_tags:
            self.tag_members.setdefault(tag, set()).add(person_id)
        self.persons[person_id] = record
        self._touch()

    def _unstore(self, person_id: int) -> dict[str, Any] | None:
        record = self.persons.pop(person_id, None)
        if record is None:
            return None
        for key in self.person_identifiers(record):
            if self._ident.get(key) == person_id:
                del self._ident[key]
        for tag in record.get("tags", ()):
            self.tag_members.get(tag, set()).discard(person_id)
        company = self.person_company.pop(person_id, None)
        if company is not None:
            self.company_members.get(company, set()).discard(person_id)
        self._touch()
        return record

    def create_person(self, data: PersonInput) -> dict[str, Any]:
        with self.lock:
            person_id = next(self._person_ids)
            record = self._build(person_id, data, None, "create")
            self._conflict(record)
            self._store(record, None)
            self.effects["persons_created"] += 1
            return record

    def update_person(self, person_id: int, data: PersonInput, mode: str) -> dict[str, Any]:
        with self.lock:
            old = self.persons.get(person_id)
            if old is None:
                raise NotFound(f"Person {person_id} not found")
            record = self._build(person_id, data, old, mode)
            self._conflict(record)
            self._store(record, old)
            self.effects["persons_updated"] += 1
            return record

    def delete_person(self, person_id: int) -> dict[str, Any]:
        with self.lock:
            record = self._unstore(person_id)
            if record is None:
                raise NotFound(f"Person {person_id} not found")
            self.events.pop(person_id, None)
            self.effects["persons_deleted"] += 1
            return record

    def change_contacts(self, person_id: int, data: PersonInput, mode: str) -> dict[str, Any]:
        """mode: 'replace' (PUT), 'add' (PATCH), 'remove' (DELETE) the listed emails and phones."""
        with self.lock:
            old = self.persons.get(person_id)
            if old is None:
                raise NotFound(f"Person {person_id} not found")
            phones, emails, channels = self._split_contacts(old)
            new_phones, new_emails = data.phones or [], data.emails or []
            if mode == "replace":
                phones, emails = list(new_phones), list(new_emails)
            elif mode == "add":
                phones += [p for p in new_phones if p not in phones]
                lower = {e.lower() for e in emails}
                emails += [e for e in new_emails if e.lower() not in lower]
            else:
                gone = {e.lower() for e in new_emails}
                phones = [p for p in phones if p not in set(new_phones)]
                emails = [e for e in emails if e.lower() not in gone]
            if len(phones) > MAX_CONTACTS or len(emails) > MAX_CONTACTS:
                raise Invalid({"contactInformation": [f"a person can have at most {MAX_CONTACTS} phones and emails"]})
            record = dict(old)
            record["contactInformation"] = self._contacts_dict(phones, emails, channels)
            record["modifiedAt"] = now_v2()
            record["modifiedFrom"] = "API"
            self._conflict(record)
            self._store(record, old)
            self.effects["persons_updated"] += 1
            return record

    def set_person_tags(self, person_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        with self.lock:
            old = self.persons.get(person_id)
            if old is None:
                return
            tags = [t for t in old.get("tags", ()) if t not in set(remove)]
            tags += [t for t in add if t not in tags]
            if tags == old.get("tags"):
                return
            record = {**old, "tags": tags, "modifiedAt": now_v2(), "modifiedFrom": "API"}
            self._store(record, old)
            self.effects["persons_updated"] += 1

    # ----- listing -----

    def list_records(
        self,
        kind: str,
        *,
        order_by: str | None,
        order_fields: Iterable[str],
        filter_text: str | None,
        node: filters.Node | None,
        page: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of persons or companies (ordered by id unless ``order_by``) and the total count."""
        source = self.persons if kind == "persons" else self.companies
        with self.lock:
            cache_key = (kind, order_by, filter_text)
            cached = self._list_cache.get(cache_key)
            if cached and cached[0] == self.version:
                ids = cached[1]
            else:
                ids = self._ordered_ids(source, order_by, order_fields, node)
                if len(self._list_cache) > 16:
                    self._list_cache.clear()
                self._list_cache[cache_key] = (self.version, ids)
            start = (page - 1) * limit
            page_ids = ids[start : start + limit]
            return [source[i] for i in page_ids if i in source], len(ids)

    @staticmethod
    def _ordered_ids(
        source: Mapping[int, Mapping[str, Any]],
        order_by: str | None,
        order_fields: Iterable[str],
        node: filters.Node | None,
    ) -> list[int]:
        records: Iterable[Mapping[str, Any]] = source.values()
        if node is not None:
            predicate = filters.compile_filter(node)
            records = [r for r in records if predicate(r)]
        if not order_by:
            return [r["id"] for r in records]  # dicts keep insertion order = id order
        name, _, direction = order_by.partition(":")
        present = [r for r in records if r.get(name) not in (None, "")]
        missing = [r["id"] for r in records if r.get(name) in (None, "")]
        present.sort(key=lambda r: (r[name], r["id"]), reverse=direction == "desc")
        return [r["id"] for r in present] + missing

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

    # ----- companies -----

    def parse_company(self, body: Any, *, require_name: bool, prefix: str = "") -> dict[str, Any]:
        errors = _Errors(prefix)
        if not isinstance(body, dict):
            raise Invalid({prefix or "body": ["must be a JSON object"]}, "Request body must be a JSON object")
        out: dict[str, Any] = {}
        for name, limit in COMPANY_STRING_LIMITS.items():
            if name in body:
                value = _check_string(errors, name, body[name], limit)
                if value is not None or body[name] in (None, ""):
                    out[name] = value or None
        if require_name and not out.get("name"):
            errors.add("name", "must not be empty")
        if "domains" in body:
            domains = body["domains"]
            if domains is None:
                out["domains"] = []
            elif not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
                errors.add("domains", "must be an array of non-empty strings")
            else:
                out["domains"] = list(dict.fromkeys(domains))
        if "tags" in body:
            tags = self._parse_tags(body["tags"], errors)
            if tags is not None:
                out["tags"] = tags
        if "customAttributes" in body:
            custom = self._parse_custom(body["customAttributes"], errors)
            if custom is not None:
                out["customAttributes"] = custom
        if "serviceData" in body and body["serviceData"] is not None:
            if not isinstance(body["serviceData"], dict):
                errors.add("serviceData", "must be an object")
            else:
                out["serviceData"] = body["serviceData"]
        if errors:
            raise Invalid(errors.map)
        return out

    def company_by_selector(self, selector: Mapping[str, Any]) -> dict[str, Any] | None:
        given = {k: v for k, v in selector.items() if k in COMPANY_SELECTORS and v not in (None, "")}
        if len(given) != 1:
            raise Invalid(
                {"query": ["exactly one of id, externalId, name, domain must be given"]},
                "Exactly one of the query parameters id, externalId, name, domain must be given",
            )
        ((kind, value),) = given.items()
        value = str(value)
        with self.lock:
            if kind == "id":
                try:
                    company_id: int | None = int(value)
                except ValueError:
                    raise Invalid({"id": ["must be a number"]}) from None
            elif kind == "name":
                company_id = self._company_name.get(value.lower())
            elif kind == "externalId":
                company_id = self._company_ext.get(value)
            else:
                company_id = self._company_domain.get(value.lower())
            return self.companies.get(company_id) if company_id is not None else None

    @staticmethod
    def describe_selector(selector: Mapping[str, Any]) -> str:
        kind, value = next((k, v) for k, v in selector.items() if k in COMPANY_SELECTORS and v not in (None, ""))
        return f'Company with {kind} "{value}" does not exist'

    def _company_conflict(self, record: Mapping[str, Any]) -> None:
        owner = self._company_name.get(record["name"].lower())
        if owner is not None and owner != record["id"]:
            raise Duplicate(f"Key (lower(name::text))=({record['name']}) already exists.", "name")
        ext = record.get("externalId")
        if ext and self._company_ext.get(ext, record["id"]) != record["id"]:
            raise Duplicate(f"Company with externalId {ext} already exists.", "externalId")
        for domain in record.get("domains", ()):
            if self._company_domain.get(domain.lower(), record["id"]) != record["id"]:
                raise Duplicate(f"Company with domain {domain} already exists.", "domains")

    def _store_company(self, record: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        if old:
            self._company_name.pop(old["name"].lower(), None)
            if old.get("externalId"):
                self._company_ext.pop(old["externalId"], None)
            for domain in old.get("domains", ()):
                self._company_domain.pop(domain.lower(), None)
        self._company_name[record["name"].lower()] = record["id"]
        if record.get("externalId"):
            self._company_ext[record["externalId"]] = record["id"]
        for domain in record.get("domains", ()):
            self._company_domain[domain.lower()] = record["id"]
        self._ensure_tags(record.get("tags", ()))
        self.companies[record["id"]] = record
        self._touch()

    @staticmethod
    def _company_record(company_id: int, data: Mapping[str, Any], created: str, stamp: str) -> dict[str, Any]:
        record: dict[str, Any] = {"createdAt": created, "modifiedAt": stamp, "id": company_id}
        for name in COMPANY_SCALARS:
            if data.get(name) is not None:
                record[name] = data[name]
        record["customAttributes"] = {k: v for k, v in (data.get("customAttributes") or {}).items() if v is not None}
        record["domains"] = list(data.get("domains") or [])
        record["tags"] = list(data.get("tags") or [])
        if data.get("serviceData"):
            record["serviceData"] = data["serviceData"]
        record["origin"] = "API"
        record["modifiedFrom"] = "API"
        return record

    def create_company(self, data: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            stamp = now_v2()
            record = self._company_record(next(self._company_ids), data, stamp, stamp)
            self._company_conflict(record)
            self._store_company(record, None)
            self.company_members[record["id"]] = set()
            self.effects["companies_created"] += 1
            return record

    def update_company(
        self, company_id: int, data: Mapping[str, Any], *, replace_tags: bool = False, replace_domains: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            old = self.companies.get(company_id)
            if old is None:
                raise NotFound(f"Company {company_id} not found")
            merged = {k: old.get(k) for k in COMPANY_SCALARS}
            merged.update({k: v for k, v in data.items() if k in COMPANY_SCALARS})
            if not merged.get("name"):
                raise Invalid({"name": ["must not be empty"]})
            custom = dict(old.get("customAttributes") or {})
            custom.update(data.get("customAttributes") or {})
            merged["customAttributes"] = custom
            tags, domains = list(old.get("tags", ())), list(old.get("domains", ()))
            if "tags" in data:
                tags = list(data["tags"]) if replace_tags else tags + [t for t in data["tags"] if t not in tags]
            if "domains" in data:
                new = data["domains"]
                domains = list(new) if replace_domains else domains + [d for d in new if d not in domains]
            merged["tags"], merged["domains"] = tags, domains
            merged["serviceData"] = data.get("serviceData", old.get("serviceData"))
            record = self._company_record(company_id, merged, old["createdAt"], now_v2())
            record["origin"] = old.get("origin", "API")
            self._company_conflict(record)
            self._store_company(record, old)
            self.effects["companies_updated"] += 1
            return record

    def delete_company(self, company_id: int) -> None:
        with self.lock:
            record = self.companies.pop(company_id, None)
            if record is None:
                raise NotFound(f"Company {company_id} not found")
            self._company_name.pop(record["name"].lower(), None)
            if record.get("externalId"):
                self._company_ext.pop(record["externalId"], None)
            for domain in record.get("domains", ()):
                self._company_domain.pop(domain.lower(), None)
            for person_id in self.company_members.pop(company_id, set()):
                self.person_company.pop(person_id, None)
            self.effects["companies_deleted"] += 1
            self._touch()

    def company_add_persons(self, company_id: int, person_ids: Iterable[int]) -> None:
        with self.lock:
            members = self.company_members.setdefault(company_id, set())
            for person_id in person_ids:
                previous = self.person_company.get(person_id)
                if previous is not None and previous != company_id:
                    self.company_members.get(previous, set()).discard(person_id)
                self.person_company[person_id] = company_id
                members.add(person_id)
            self._touch()

    def company_remove_persons(self, company_id: int, person_ids: Iterable[int]) -> None:
        with self.lock:
            members = self.company_members.setdefault(company_id, set())
            for person_id in person_ids:
                if self.person_company.get(person_id) == company_id:
                    del self.person_company[person_id]
                members.discard(person_id)
            self._touch()

    # ----- v3 upsert / merge -----

    def parse_person_v3(self, body: Any, index: int) -> PersonInput:
        """Translate a PersonV3 into the v2 input shape (contactInformation is a typed array in v3)."""
        prefix = f"persons[{index}]."
        if not isinstance(body, dict):
            raise Invalid({f"persons[{index}]": ["must be an object"]})
        v2 = {k: v for k, v in body.items() if k != "contactInformation" and k != "nickName"}
        errors = _Errors(prefix)
        if "nickName" in body:
            nick = _check_string(errors, "nickName", body["nickName"], 50)
            if nick and FORBIDDEN_NAME_CHARS.intersection(nick):
                errors.add("nickName", "contains forbidden characters")
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

    def _candidate_ids(self, data: PersonInput, scalars_ext: str | None) -> list[int]:
        keys: list[tuple] = []
        if scalars_ext:
            keys.append(("EXTERNAL_ID", scalars_ext))
        keys += [("EMAIL", e.lower()) for e in data.emails or ()]
        keys += [("PHONE", p) for p in data.phones or ()]
        for key, items in (data.channels or {}).items():
            type_, id_field = CHANNEL_BY_KEY[key]
            keys += [(type_, item.get("applicationId") or "", item.get(id_field)) for item in items]
        found: dict[int, None] = {}
        for key in keys:
            person_id = self._ident.get(key)
            if person_id is not None:
                found[person_id] = None
        return list(found)

    def upsert(self, data: PersonInput, mode: str) -> tuple[int, str]:
        """v3 upsert of one person. mode 'replace' (PUT) or 'merge' (PATCH). Returns (id, status)."""
        with self.lock:
            matches = self._candidate_ids(data, data.scalars.get("externalId"))
            if len(matches) > 1:
                raise StoreError(
                    409,
                    "Identifiers in the request belong to different persons",
                    {"persons": ["conflict"]},
                    code=409100,
                )
            if not matches:
                return self.create_person(data)["id"], "CREATED"
            old = self.persons[matches[0]]
            record = self._build(old["id"], data, old, mode, stamp=old["modifiedAt"])
            if record == old:
                return old["id"], "NOT_MODIFIED"
            record["modifiedAt"] = now_v2()
            self._conflict(record)
            self._store(record, old)
            self.effects["persons_updated"] += 1
            return old["id"], "UPDATED"

    def merge(self, data: PersonInput) -> int:
        """v3 merge: every person matching any identifier is merged into the oldest; request data wins."""
        with self.lock:
            matches = self._candidate_ids(data, data.scalars.get("externalId"))
            if not matches:
                return self.create_person(data)["id"]
            profiles = sorted((self.persons[i] for i in matches), key=lambda p: (p["createdAt"], p["id"]))
            primary = profiles[0]
            if len(profiles) > 1:
                primary = self._merge_profiles(profiles)
            record = self._build(primary["id"], data, primary, "merge")
            self._conflict(record)
            self._store(record, primary)
            self.effects["persons_merged"] += 1
            return record["id"]

    def _merge_profiles(self, profiles: list[dict[str, Any]]) -> dict[str, Any]:
        """Infobip's merge rules (CONTRACT-NOTES §15). ``profiles`` is sorted oldest first."""
        primary, others = profiles[0], profiles[1:]

        def rank(p: Mapping[str, Any]) -> tuple:
            return (p.get("type") == "CUSTOMER", p["modifiedAt"], p["id"])

        by_priority = sorted(profiles, key=rank, reverse=True)
        scalars = {}
        for name in PERSON_SCALARS:
            scalars[name] = next((p[name] for p in by_priority if p.get(name) not in (None, "")), None)
        custom: dict[str, Any] = {}
        for p in reversed(by_priority):
            custom.update(p.get("customAttributes") or {})
        tags: list[str] = []
        phones: list[str] = []
        emails: list[str] = []
        channels: dict[str, list] = {}
        for p in profiles:
            tags += [t for t in p.get("tags", ()) if t not in tags]
            p_phones, p_emails, p_channels = self._split_contacts(p)
            phones += [x for x in p_phones if x not in phones]
            emails += [x for x in p_emails if x.lower() not in {e.lower() for e in emails}]
            for key, items in p_channels.items():
                channels.setdefault(key, []).extend(items)
        type_ = "CUSTOMER" if any(p.get("type") == "CUSTOMER" for p in profiles) else "LEAD"
        for other in others:
            self._unstore(other["id"])
            for event in self.events.pop(other["id"], []):
                self.events.setdefault(primary["id"], []).append(event)
            self.effects["persons_deleted_by_merge"] += 1
        record = self._assemble(
            person_id=primary["id"],
            scalars=scalars,
            type_=type_,
            tags=tags,
            custom=custom,
            contacts=self._contacts_dict(phones, emails, channels),
            created_at=primary["createdAt"],
            modified_at=now_v2(),
            origin=primary.get("origin", "API"),
        )
        self._store(record, self.persons.get(primary["id"]))
        return record

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
                    problem = Store._check_event_value(fields[key], item_value, None)
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
            return event, True

    # ----- bulk seeding (no HTTP, light validation) -----

    def load_persons(self, bodies: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store persons given in Infobip's JSON shape, channel contacts included; tags and custom attribute
        definitions they use are created on the fly. Raises like the API on invalid data or duplicates."""
        ids = []
        with self.lock:
            for body in bodies:
                for tag in body.get("tags") or ():
                    if isinstance(tag, str) and tag and tag not in self.tags:
                        self._create_tag(tag)
                for name, value in (body.get("customAttributes") or {}).items():
                    if name not in self.custom_attributes:
                        self.custom_attributes[name] = _guess_definition(name, value)
                data = self.parse_person(dict(body), allow_channels=True)
                data.type = body.get("type") or "CUSTOMER"
                record = self.create_person(data)
                if body.get("createdAt") or body.get("modifiedAt"):
                    record = {**record, **{k: body[k] for k in ("createdAt", "modifiedAt") if body.get(k)}}
                    self.persons[record["id"]] = record
                ids.append(record["id"])
        return ids

    def seed_persons(self, count: int, *, prefix: str = "seed", tags: Iterable[str] = ()) -> tuple[int, int]:
        """Fast path for benchmarks: ``count`` generated persons with externalId/email/phone; returns id range."""
        first_names = ("Ana", "Ivan", "Jane", "John", "Marko", "Petra", "Luka", "Maja", "Alex", "Sara")
        last_names = ("Horvat", "Smith", "Kovač", "Jurić", "Novak", "Babić", "Brown", "Marić", "Perić", "Lee")
        tags = list(tags)
        with self.lock:
            self._ensure_tags(tags)
            stamp = now_v2()
            first_id = None
            person_id = 0
            for i in range(count):
                person_id = next(self._person_ids)
                first_id = first_id or person_id
                ext = f"{prefix}-{person_id}"
                email = f"{prefix}{person_id}@example.com"
                phone = f"3859{person_id:09d}"
                if ("EXTERNAL_ID", ext) in self._ident or ("EMAIL", email) in self._ident:
                    raise Duplicate(f"seeded identifier {ext} already exists")
                record = {
                    "createdAt": stamp,
                    "modifiedAt": stamp,
                    "id": person_id,
                    "externalId": ext,
                    "firstName": first_names[i % len(first_names)],
                    "lastName": last_names[(i // len(first_names)) % len(last_names)],
                    "type": "CUSTOMER",
                    "origin": "API",
                    "modifiedFrom": "API",
                    "tags": list(tags),
                    "customAttributes": {},
                    "contactInformation": {"phone": [{"number": phone}], "email": [{"address": email}]},
                }
                self.persons[person_id] = record
                self._ident[("ID", person_id)] = person_id
                self._ident[("EXTERNAL_ID", ext)] = person_id
                self._ident[("EMAIL", email)] = person_id
                self._ident[("PHONE", phone)] = person_id
                for tag in tags:
                    self.tag_members[tag].add(person_id)
            self.effects["persons_seeded"] += count
            self._touch()
            return (first_id or 0, person_id)

    # ----- introspection for tests -----

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "persons": len(self.persons),
                "companies": len(self.companies),
                "tags": len(self.tags),
                "customAttributes": len(self.custom_attributes),
                "definitions": len(self.definitions),
                "events": sum(len(v) for v in self.events.values()),
                "effects": dict(self.effects),
            }

    def person_ids_by(self, predicate: Callable[[Mapping[str, Any]], bool]) -> list[int]:
        with self.lock:
            return [pid for pid, rec in self.persons.items() if predicate(rec)]


def _guess_definition(name: str, value: Any) -> dict[str, Any]:
    stamp = now_v2()
    if isinstance(value, bool):
        data_type = "BOOLEAN"
    elif isinstance(value, int):
        data_type = "INTEGER"
    elif isinstance(value, float):
        data_type = "DECIMAL"
    elif isinstance(value, list):
        data_type = "LIST_OF_OBJECTS"
    elif isinstance(value, str) and _valid_date(value):
        data_type = "DATE"
    else:
        data_type = "STRING"
    definition: dict[str, Any] = {"createdAt": stamp, "modifiedAt": stamp, "name": name, "dataType": data_type}
    if data_type == "LIST_OF_OBJECTS":
        schema: dict[str, str] = {}
        for item in value:
            for key, item_value in item.items() if isinstance(item, dict) else ():
                if key not in schema:
                    schema[key] = _guess_definition(key, item_value)["dataType"]
        definition["objectSchema"] = {k: ("STRING" if v == "LIST_OF_OBJECTS" else v) for k, v in schema.items()}
    return definition
