"""Persons: the identifier index, building records copy-on-write, every write, listing, v3 upsert and merge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infobip.contract import filters
from infobip.sandbox.store.contract import (
    CHANNEL_BY_KEY,
    IDENTITY_TYPES,
    MAX_CONTACTS,
    PERSON_SCALARS,
    PersonInput,
    now_v2,
)
from infobip.sandbox.store.errors import Duplicate, Invalid, NotFound, StoreError


class PersonsMixin:
    """Person records and the ``_ident`` index (call the ``_`` writers with the lock held)."""

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
