"""The sandbox's in-memory People database: persons, companies, tags, custom attributes, events.

Records are kept in the exact JSON shape Infobip returns and are never mutated after they are stored:
every write builds a new dict and swaps it in (copy-on-write), so a reader can serialise a record outside
the lock. One lock guards every write and every multi-step read.

Indexes: ``_ident`` maps every unique identifier of a person to its id — ``("ID", 5)``,
``("EXTERNAL_ID", "x")`` (case-sensitive), ``("EMAIL", "a@b.c")`` (lower-cased), ``("PHONE", "385...")``
and ``(<channel type>, <sender/applicationId>, <user/registration id>)`` — so every single-person lookup
and uniqueness check is O(1). Companies are indexed by id, lower-cased name, externalId and domain;
tags by name (with the set of persons carrying each tag). Only records are state: ``state.py`` saves
them and rebuilds every index on load.

One module per entity (``persons``, ``person_input``, ``companies``, ``tags``, ``events``, ``seeding``)
and ``state`` (export/import for the state file);
``Store`` is their composition over ``StoreBase`` (lock, ids, reset).
"""

from __future__ import annotations

from infobip.sandbox.store.base import StoreBase, StoreOptions
from infobip.sandbox.store.companies import CompaniesMixin
from infobip.sandbox.store.contract import (
    _EVENT_ID_RE,
    AUTO_CREATE_TYPES,
    CHANNEL_BY_KEY,
    CHANNELS,
    COMPANY_SELECTORS,
    IDENTITY_TYPES,
    MAX_BATCH,
    MAX_EVENT_BATCH,
    PersonInput,
    _parse_iso,
    now_iso,
    now_v2,
)
from infobip.sandbox.store.errors import Duplicate, Invalid, NotFound, StoreError
from infobip.sandbox.store.events import EventsMixin
from infobip.sandbox.store.person_input import PersonInputMixin
from infobip.sandbox.store.persons import PersonsMixin
from infobip.sandbox.store.seeding import SeedingMixin
from infobip.sandbox.store.state import StateError, StateMixin
from infobip.sandbox.store.tags import TagsMixin


class Store(
    PersonsMixin, PersonInputMixin, CompaniesMixin, TagsMixin, EventsMixin, SeedingMixin, StateMixin, StoreBase
):
    """The whole People database of one sandbox."""


__all__ = [
    "AUTO_CREATE_TYPES",
    "CHANNELS",
    "CHANNEL_BY_KEY",
    "COMPANY_SELECTORS",
    "IDENTITY_TYPES",
    "MAX_BATCH",
    "MAX_EVENT_BATCH",
    "_EVENT_ID_RE",
    "Duplicate",
    "Invalid",
    "NotFound",
    "PersonInput",
    "StateError",
    "Store",
    "StoreError",
    "StoreOptions",
    "_parse_iso",
    "now_iso",
    "now_v2",
]
