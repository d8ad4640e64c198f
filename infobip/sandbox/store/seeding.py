"""Bulk loading without HTTP: Infobip-shaped persons, or generated ones for benchmarks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infobip.sandbox.store.contract import (
    _valid_date,
    now_v2,
)
from infobip.sandbox.store.errors import Duplicate


class SeedingMixin:
    """Bulk loads for tests and benchmarks."""

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
        tags = list(tags)
        with self.lock:
            self._ensure_tags(tags)
            stamp = now_v2()
            first_id = person_id = 0
            for i in range(count):
                person_id = next(self._person_ids)
                first_id = first_id or person_id
                self._seed_index(_seeded_person(person_id, i, prefix, tags, stamp))
            self.effects["persons_seeded"] += count
            self._touch()
            return (first_id, person_id)

    def _seed_index(self, record: dict[str, Any]) -> None:
        """Store a generated person; its identifiers are the only ones it has, so four index keys suffice."""
        person_id = record["id"]
        ext = record["externalId"]
        email = record["contactInformation"]["email"][0]["address"]
        phone = record["contactInformation"]["phone"][0]["number"]
        if ("EXTERNAL_ID", ext) in self._ident or ("EMAIL", email) in self._ident:
            raise Duplicate(f"seeded identifier {ext} already exists")
        self.persons[person_id] = record
        for key in (("ID", person_id), ("EXTERNAL_ID", ext), ("EMAIL", email), ("PHONE", phone)):
            self._ident[key] = person_id
        for tag in record["tags"]:
            self.tag_members[tag].add(person_id)


_FIRST_NAMES = ("Ana", "Ivan", "Jane", "John", "Marko", "Petra", "Luka", "Maja", "Alex", "Sara")
_LAST_NAMES = ("Horvat", "Smith", "Kovač", "Jurić", "Novak", "Babić", "Brown", "Marić", "Perić", "Lee")


def _seeded_person(person_id: int, i: int, prefix: str, tags: list[str], stamp: str) -> dict[str, Any]:
    """The ``i``-th generated person: names cycle through short lists, identifiers derive from the id."""
    return {
        "createdAt": stamp,
        "modifiedAt": stamp,
        "id": person_id,
        "externalId": f"{prefix}-{person_id}",
        "firstName": _FIRST_NAMES[i % len(_FIRST_NAMES)],
        "lastName": _LAST_NAMES[(i // len(_FIRST_NAMES)) % len(_LAST_NAMES)],
        "type": "CUSTOMER",
        "origin": "API",
        "modifiedFrom": "API",
        "tags": list(tags),
        "customAttributes": {},
        "contactInformation": {
            "phone": [{"number": f"3859{person_id:09d}"}],
            "email": [{"address": f"{prefix}{person_id}@example.com"}],
        },
    }


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
