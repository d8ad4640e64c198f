"""The store's shared state: the lock, the id counters, reset and introspection."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class StoreOptions:
    auto_create_tags: bool = False  # unknown tag names on persons: rejected (False) or created (True)
    require_custom_attribute_definitions: bool = True


class StoreBase:
    """State, lock and lifecycle shared by every entity mixin."""

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
            self.version = 0  # bumped by writes that change what a list shows (its cache key)
            self.changes = getattr(self, "changes", 0) + 1  # bumped by every write: the state file is stale
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
        self.changes += 1

    @staticmethod
    def _peek(counter: itertools.count) -> tuple[int, itertools.count]:
        """The next value of an id counter without losing it: (value, an equivalent fresh counter)."""
        value = next(counter)
        return value, itertools.count(value)

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
