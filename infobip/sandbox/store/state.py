"""The store as plain JSON data and back: what the sandbox keeps on disk across restarts.

Only records and the next ids are state; every index (identifiers, company names/domains, tag members,
event keys) is rebuilt on import, so a state file cannot hold an index that disagrees with its records.
Effects (operation counters) are statistics, not state: they start at zero after a restart.
"""

from __future__ import annotations

import itertools
from typing import Any

STATE_FORMAT = "infobip-sandbox-state"
STATE_VERSION = 1


class StateError(ValueError):
    """The data is not a state this store can import (wrong format or version, malformed records)."""


class StateMixin:
    """``export_state`` / ``import_state`` over the store's records."""

    def export_state(self) -> dict[str, Any]:
        """A JSON-encodable copy of the state. Records are copy-on-write, so shallow copies taken under the
        lock stay consistent while the caller encodes them outside it."""
        with self.lock:
            next_person, self._person_ids = self._peek(self._person_ids)
            next_company, self._company_ids = self._peek(self._company_ids)
            next_tag, self._tag_ids = self._peek(self._tag_ids)
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "nextIds": {"person": next_person, "company": next_company, "tag": next_tag},
                "persons": list(self.persons.values()),
                "companies": list(self.companies.values()),
                "personCompany": [[p, c] for p, c in self.person_company.items()],
                "tags": list(self.tags.values()),
                "customAttributes": list(self.custom_attributes.values()),
                "definitions": [d for d in self.definitions.values() if not d.get("isInternalDefinition")],
                "events": [[person_id, list(events)] for person_id, events in self.events.items() if events],
            }

    def import_state(self, data: Any) -> None:
        """Replace the whole state with ``data`` (from :meth:`export_state`); raises StateError when malformed."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise StateError(f'not an Infobip sandbox state (no "format": "{STATE_FORMAT}")')
        if data.get("version") != STATE_VERSION:
            raise StateError(f"state version {data.get('version')!r} is not {STATE_VERSION}")
        with self.lock:
            self.reset()
            try:
                self._import_records(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.reset()
                raise StateError(f"malformed state: {type(exc).__name__}: {exc}") from exc

    def _import_records(self, data: dict[str, Any]) -> None:
        for tag in data["tags"]:
            self.tags[tag["name"]] = tag
            self.tag_members.setdefault(tag["name"], set())
        for definition in data["customAttributes"]:
            self.custom_attributes[definition["name"]] = definition
        for definition in data["definitions"]:
            self.definitions[definition["definitionId"]] = definition
        for record in data["persons"]:
            self._load_person(record)
        for record in data["companies"]:
            self._store_company(record, None)
            self.company_members[record["id"]] = set()
        for person_id, company_id in data["personCompany"]:
            self.person_company[int(person_id)] = int(company_id)
            self.company_members.setdefault(int(company_id), set()).add(int(person_id))
        for person_id, events in data["events"]:
            self.events[int(person_id)] = list(events)
            for event in events:
                self._event_keys[(int(person_id), event["eventId"])] = event
        self._touch()
        ids = data["nextIds"]
        self._person_ids = itertools.count(int(ids["person"]))
        self._company_ids = itertools.count(int(ids["company"]))
        self._tag_ids = itertools.count(int(ids["tag"]))

    def _load_person(self, record: dict[str, Any]) -> None:
        """``_store`` for a record from a state: no old version, tags already exist; refuses a record whose
        identifier another record holds (the file was edited or is corrupt)."""
        person_id = record["id"]
        if not isinstance(person_id, int) or person_id in self.persons:
            raise ValueError(f"person id {person_id!r} is not a new integer")
        for key in self.person_identifiers(record):
            if self._ident.setdefault(key, person_id) != person_id:
                raise ValueError(f"identifier {key} of person {person_id} belongs to person {self._ident[key]}")
        for tag in record["tags"]:
            self.tag_members.setdefault(tag, set()).add(person_id)
        self.persons[person_id] = record
