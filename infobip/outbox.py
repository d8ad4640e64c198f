"""Recording changes that must reach Infobip. Called by services inside their transaction, so a change and
its outbox row commit together or not at all. The drain (tasks) sends them after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from infobip.models import OutboxEntry


def outbox_record(*, realm, entity: str, entity_id: Any, op: str, payload: dict[str, Any] | None = None):
    """Write one outbox row for `realm`, or nothing when the realm does not push to Infobip.

    Must run inside the caller's transaction (services are atomic); refuses otherwise, because a row written
    outside the change's transaction could survive a rolled-back change or be lost with a committed one.
    """
    if not realm.cdp_enabled:
        return None
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_record must be called inside the transaction of the change it records")
    entry = OutboxEntry.objects.create(
        realm=realm, entity=entity, entity_id=str(entity_id), op=op, payload=payload or {}
    )
    transaction.on_commit(_kick_drain)
    return entry


def outbox_record_many(*, realm, entity: str, op: str, items: list[tuple[Any, dict[str, Any] | None]]) -> int:
    """`outbox_record` for many entities at once (bulk imports): the same rules, one INSERT.

    `items` are (entity_id, payload) pairs, recorded in that order. Returns how many rows were written.
    """
    if not realm.cdp_enabled or not items:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_record_many must be called inside the transaction of the change it records")
    OutboxEntry.objects.bulk_create(
        [
            OutboxEntry(realm=realm, entity=entity, entity_id=str(entity_id), op=op, payload=payload or {})
            for entity_id, payload in items
        ],
        batch_size=2000,
    )
    transaction.on_commit(_kick_drain)
    return len(items)


def _kick_drain() -> None:
    """Hook for the drain: the Infobip integration wakes a worker here. Nothing to do until it exists."""
