"""Recording changes that must reach Infobip. Called by services inside their transaction, so a change and
its outbox row commit together or not at all. The engine (infobip.outbox.engine, run by infobip.tasks) sends
them after commit; a commit wakes it through :func:`kick_drain`."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.bulk import copy_rows
from infobip.models import OutboxEntry, OutboxStatus

logger = logging.getLogger(__name__)

WAKEUP_KEY = "outbox-drain"
WAKEUP_TTL_SECONDS = 60.0
COPY_MIN = 500  # above this many rows COPY beats a multi-row INSERT

_WAKEUP_SQL = """
INSERT INTO infobip_outboxwakeup (key, until)
VALUES (%(key)s, extract(epoch FROM clock_timestamp()) + %(ttl)s)
ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until
WHERE infobip_outboxwakeup.until < extract(epoch FROM clock_timestamp())
RETURNING key
"""


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
    transaction.on_commit(kick_drain)
    return entry


def outbox_record_many(*, realm, entity: str, op: str, items: list[tuple[Any, dict[str, Any] | None]]) -> int:
    """`outbox_record` for many entities at once (bulk imports, sync pages): the same rules and the same rows.

    `items` are (entity_id, payload) pairs, recorded in that order; more than ``COPY_MIN`` go through COPY.
    Returns how many rows were written."""
    if not realm.cdp_enabled or not items:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_record_many must be called inside the transaction of the change it records")
    if len(items) > COPY_MIN:
        # One model instance gives every column's default; the rows differ only in id and payload (a model
        # instance per row cost more than the COPY itself).
        template = OutboxEntry(realm=realm, entity=entity, entity_id="", op=op, payload={})
        fields = [f for f in OutboxEntry._meta.concrete_fields if not f.primary_key]
        base = [template.__dict__[f.attname] for f in fields]
        at = {f.attname: i for i, f in enumerate(fields)}
        id_at, payload_at = at["entity_id"], at["payload"]
        empty = json.dumps({})

        def rows():
            for entity_id, payload in items:
                row = base.copy()
                row[id_at] = str(entity_id)
                row[payload_at] = json.dumps(payload) if payload else empty
                yield row

        copy_rows(OutboxEntry._meta.db_table, [f.column for f in fields], rows())
    else:
        OutboxEntry.objects.bulk_create(
            [
                OutboxEntry(realm=realm, entity=entity, entity_id=str(entity_id), op=op, payload=payload or {})
                for entity_id, payload in items
            ]
        )
    transaction.on_commit(kick_drain)
    return len(items)


def outbox_supersede(
    *, realm, entity: str, entity_ids: list[Any], reason: str, statuses: tuple[str, ...] = (OutboxStatus.PENDING,)
) -> int:
    """Mark the still-undelivered rows of these entities obsolete (status superseded, `reason` shown in the admin):
    a later change made them so, and they are never sent. Called inside the later change's transaction.

    Rows a worker holds a lease on are left alone (they are being sent; superseding them would let the next row
    of the entity overtake them): the handlers check the newer facts themselves. Returns how many were marked."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_supersede must be called inside the transaction of the change that supersedes")
    now = timezone.now()
    return (
        OutboxEntry.objects.filter(
            realm=realm, entity=entity, entity_id__in=[str(i) for i in entity_ids], status__in=statuses
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(
            status=OutboxStatus.SUPERSEDED, processed_at=now, locked_until=None, locked_by="", last_error=reason[:4000]
        )
    )


def wakeup_take() -> bool:
    """True for the one caller that may queue a drain now: no drain task is queued and not yet started.

    One atomic statement on a marker row shared by every process: a thousand commits in a second queue one
    task. The marker lapses after a minute (a lost task), and the drain clears it when it starts, so a commit
    after that start always queues the next one: no change waits for the minute schedule."""
    with connection.cursor() as cursor:
        cursor.execute(_WAKEUP_SQL, {"key": WAKEUP_KEY, "ttl": WAKEUP_TTL_SECONDS})
        return cursor.fetchone() is not None


def wakeup_clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM infobip_outboxwakeup WHERE key = %s", [WAKEUP_KEY])


def enqueue_drain() -> None:
    from django_q.tasks import async_task  # django-q2 reads its settings on import

    async_task("infobip.tasks.drain_outbox", task_name="infobip-outbox-drain")


def kick_drain() -> None:
    """On commit of a change: queue a drain task, debounced (see :func:`wakeup_take`).

    Runs after the commit, so a failure here must not break the caller: the minute schedule is the safety net.
    """
    if not getattr(settings, "INFOBIP_OUTBOX_AUTODRAIN", True):
        return
    try:
        if wakeup_take():
            enqueue_drain()
    except Exception:
        logger.exception("could not queue the outbox drain; the minute schedule will pick the changes up")
