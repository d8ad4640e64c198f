"""The outbox engine: claim due entities under a lease, deliver them through the per-entity handlers with no
transaction open, record outcomes (done, skipped, deferred, backed off, dead) in one short transaction.
See docs/outbox.md for the design."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from companies.models import Company
from core.bulk import bulk_set, copy_insert, statistics_refresh
from identities.models import Realm
from infobip.client import (
    client_for_realm,
)
from infobip.models import OutboxAttempt, OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from infobip.outbox import attributes, companies, event_definitions, events, merges, persons, tags
from infobip.outbox.payloads import MergeChange
from infobip.outbox.recording import outbox_record
from infobip.outbox.work import (
    BudgetSpent,
    Context,
    Outcome,
    Work,
    setting,
)
from infobip.records import parse_infobip_time
from people.models import (
    Person,
    SyncStatus,
)

logger = logging.getLogger(__name__)

ENTITY_ORDER = [
    OutboxEntity.TAG,
    OutboxEntity.CUSTOM_ATTRIBUTE,
    OutboxEntity.EVENT_DEFINITION,
    OutboxEntity.COMPANY,
    OutboxEntity.PERSON,
    OutboxEntity.MERGE,
    OutboxEntity.EVENT,
]


def max_attempts() -> int:
    return int(setting("INFOBIP_OUTBOX_MAX_ATTEMPTS", 10))


def backoff_seconds(attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: exponential, capped, with "equal jitter"."""
    base = float(setting("INFOBIP_OUTBOX_BACKOFF_BASE", 10))
    cap = float(setting("INFOBIP_OUTBOX_BACKOFF_CAP", 3600))
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


_HEAD_CONDITIONS = """
      o.status = 'pending'
  AND o.next_attempt_at <= clock_timestamp()
  AND (o.locked_until IS NULL OR o.locked_until < clock_timestamp())
  AND NOT EXISTS (
      SELECT 1 FROM infobip_outboxentry p
      WHERE p.realm_id = o.realm_id AND p.entity = o.entity AND p.entity_id = o.entity_id
        AND p.id < o.id AND p.status IN ('pending', 'dead'))
"""

# Fair shares: every realm with due rows gets up to ``share`` of its oldest heads (one query per such realm, so
# a realm's 20,000-row backlog is read no further than its share) ...
# One probe per realm (its first due row, found through outbox_realm_status), not a read of every pending row:
# a DISTINCT over a 100,000-row backlog cost tens of milliseconds a round (issue 11).
_DUE_REALMS_SQL = """
SELECT r.id FROM identities_realm r
CROSS JOIN LATERAL (
    SELECT 1 FROM infobip_outboxentry o
    WHERE o.realm_id = r.id AND o.status = 'pending' AND o.next_attempt_at <= clock_timestamp()
    ORDER BY o.realm_id, o.status, o.processed_at DESC  -- the index's order: a scan of it, even when a
    LIMIT 1                                             -- few realms make a sequential scan look cheap
) AS due
WHERE true {realm_filter}
"""

# ... and what the shares left of the claim goes to the oldest heads of any realm.
_HEADS_SQL = """
SELECT o.id, o.realm_id, o.entity, o.entity_id
FROM infobip_outboxentry o
WHERE {head}
  {realm_filter}
  AND o.id <> ALL(%(taken)s)
ORDER BY o.id
LIMIT %(limit)s
FOR UPDATE OF o SKIP LOCKED
"""

_LEASE_SQL = """
UPDATE infobip_outboxentry f
SET locked_until = clock_timestamp() + make_interval(secs => %(lease)s), locked_by = %(worker)s,
    attempts = f.attempts + 1
FROM unnest(%(realms)s::bigint[], %(entities)s::text[], %(entity_ids)s::text[]) AS k(realm_id, entity, entity_id)
WHERE f.status = 'pending' AND f.realm_id = k.realm_id AND f.entity = k.entity AND f.entity_id = k.entity_id
RETURNING f.id
"""

_EXHAUSTED_SQL = """
UPDATE infobip_outboxentry
SET status = 'dead', locked_until = NULL, locked_by = '', processed_at = clock_timestamp(),
    last_error = 'No worker finished delivering this change in ' || attempts || ' attempts (workers died or timed out).'
WHERE status = 'pending' AND attempts >= %(max)s AND locked_until IS NOT NULL AND locked_until < clock_timestamp()
"""


def claim(*, worker: str, limit: int | None = None, realm_ids: Iterable[int] | None = None) -> list[Work]:
    """Lease the next due entities (head rows plus all their pending followers). One short transaction.

    Fair across realms: each realm with due rows gets an equal share of ``limit`` heads first (its oldest), the
    rest of the claim goes to the oldest heads of any realm; so one realm's backlog cannot starve another's."""
    limit = limit or int(setting("INFOBIP_OUTBOX_CLAIM", 1000))
    lease = float(setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
    realm_ids = list(realm_ids) if realm_ids is not None else None
    realm_filter = "AND o.realm_id = ANY(%(realm_ids)s)" if realm_ids is not None else ""
    # A backlog written into a new database has no statistics: the planner then fetches every pending head,
    # checks it and sorts them all to keep a thousand, so each round costs the whole backlog (issue 11).
    statistics_refresh(["infobip_outboxentry"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_EXHAUSTED_SQL, {"max": max_attempts()})
        due_filter = "AND r.id = ANY(%(realm_ids)s)" if realm_ids is not None else ""
        cursor.execute(_DUE_REALMS_SQL.format(realm_filter=due_filter), {"realm_ids": realm_ids})
        due = sorted(row[0] for row in cursor.fetchall())
        heads: list[tuple] = []
        if len(due) > 1:
            share = max(1, limit // len(due))
            one_realm = _HEADS_SQL.format(realm_filter="AND o.realm_id = %(realm)s", head=_HEAD_CONDITIONS)
            for realm_id in due:
                cursor.execute(one_realm, {"realm": realm_id, "limit": share, "taken": []})
                heads += cursor.fetchall()
            heads = heads[:limit]
        if len(heads) < limit:
            params = {"realm_ids": realm_ids, "limit": limit - len(heads), "taken": [h[0] for h in heads]}
            cursor.execute(_HEADS_SQL.format(realm_filter=realm_filter, head=_HEAD_CONDITIONS), params)
            heads += cursor.fetchall()
        if not heads:
            return []
        cursor.execute(
            _LEASE_SQL,
            {
                "lease": lease,
                "worker": worker,
                "realms": [h[1] for h in heads],
                "entities": [h[2] for h in heads],
                "entity_ids": [h[3] for h in heads],
            },
        )
        ids = [row[0] for row in cursor.fetchall()]
    groups: dict[tuple, list[OutboxEntry]] = defaultdict(list)
    for entry in OutboxEntry.objects.filter(id__in=ids).order_by("id"):
        groups[(entry.realm_id, entry.entity, entry.entity_id)].append(entry)
    realms = Realm.objects.in_bulk({key[0] for key in groups})
    return [
        Work(realm=realms[key[0]], entity=key[1], entity_id=key[2], entries=entries)
        for key, entries in sorted(groups.items(), key=lambda item: item[1][0].id)
    ]


def inside_transaction() -> bool:
    """Whether a transaction of ours is open (a test case's wrapping transaction does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


BUDGET_SPENT = "The drain's time budget was spent before this change was sent: the next drain sends it."


def deliver(works: list[Work], *, worker: str, deadline: float | None = None) -> None:
    """Send every work's change (no database transaction may be open: calls can take seconds). Past ``deadline``
    (time.monotonic()) no call is made: the works not decided by then wait for the next drain (no attempt
    counted)."""
    if inside_transaction():
        raise RuntimeError("the push must not call Infobip inside a database transaction")
    by_realm: dict[int, list[Work]] = defaultdict(list)
    for work in works:
        by_realm[work.realm.pk].append(work)
    for realm_works in by_realm.values():
        realm = realm_works[0].realm
        if not realm.cdp_enabled:
            for work in realm_works:
                work.skip("The realm's Infobip CDP extension is off: nothing is pushed.")
            continue
        try:
            client = client_for_realm(realm)
        except ValueError as exc:
            for work in realm_works:
                work.fail(exc, transient=True)
            continue
        ctx = Context(realm, client, realm_works, worker, deadline)
        for kind in ENTITY_ORDER:
            kind_works = [w for w in realm_works if w.entity == kind and not w.decided]
            if not kind_works:
                continue
            try:
                if deadline is not None and time.monotonic() >= deadline:
                    raise BudgetSpent(BUDGET_SPENT)
                HANDLERS[kind](ctx, kind_works)
            except BudgetSpent:
                for work in works:
                    if not work.decided:
                        work.defer(BUDGET_SPENT, 0)
                return
            except Exception as exc:  # a bug or the database: these works are tried again later
                logger.exception("pushing %s changes of realm %s failed", kind, realm.pk)
                for work in kind_works:
                    if not work.decided:
                        work.fail(exc, transient=True)
        for work in realm_works:
            if not work.decided:
                work.done()


HANDLERS: dict[str, Callable[[Context, list[Work]], None]] = {
    OutboxEntity.TAG: tags.push_tags,
    OutboxEntity.CUSTOM_ATTRIBUTE: attributes.push_custom_attributes,
    OutboxEntity.EVENT_DEFINITION: event_definitions.push_event_definitions,
    OutboxEntity.COMPANY: companies.push_companies,
    OutboxEntity.PERSON: persons.push_persons,
    OutboxEntity.MERGE: merges.push_merges,
    OutboxEntity.EVENT: events.push_events,
}


def record(works: list[Work], *, worker: str) -> dict[str, int]:
    """Write the round's outcomes in one short transaction (only rows this worker still leases)."""
    now = timezone.now()
    counts: dict[str, int] = defaultdict(int)
    cap = max_attempts()
    with transaction.atomic():
        ids = [e.id for w in works for e in w.entries]
        mine = set(
            OutboxEntry.objects.select_for_update()
            .filter(id__in=ids, locked_by=worker, status=OutboxStatus.PENDING)
            .values_list("id", flat=True)
        )
        works = [w for w in works if all(e.id in mine for e in w.entries)]
        finals: dict[str, list[int]] = defaultdict(list)
        changed: list[OutboxEntry] = []
        attempts: list[OutboxAttempt] = []
        for work in works:
            outcome = work.outcome or Outcome.DONE
            if outcome == Outcome.RETRY and work.head.attempts >= cap:
                outcome = Outcome.DEAD
                work.error = f"{work.error} (gave up after {work.head.attempts} attempts)"
            work.outcome = outcome
            counts[outcome] += len(work.entries)
            for call in work.calls:
                attempts.append(
                    OutboxAttempt(
                        entry=work.head,
                        started_at=call.started_at,
                        duration_ms=call.duration_ms,
                        request=call.request,
                        status_code=call.status_code,
                        ok=call.ok,
                        error=call.error,
                    )
                )
            if outcome in (Outcome.DONE, Outcome.SKIP, Outcome.DEAD):
                finals[outcome].extend(e.id for e in work.entries)
                continue
            delay = work.delay if outcome == Outcome.DEFER else backoff_seconds(work.head.attempts)
            for entry in work.entries:
                entry.next_attempt_at = now + dt.timedelta(seconds=delay)
                entry.last_error = work.error[:4000]
                entry.locked_until, entry.locked_by = None, ""
                if outcome == Outcome.DEFER:
                    entry.attempts = max(0, entry.attempts - 1)
                changed.append(entry)
        base = OutboxEntry.objects.filter(locked_by=worker)
        base.filter(id__in=finals[Outcome.DONE]).update(
            status=OutboxStatus.DONE, processed_at=now, locked_until=None, locked_by="", last_error=""
        )
        for outcome, status in ((Outcome.SKIP, OutboxStatus.SKIPPED), (Outcome.DEAD, OutboxStatus.DEAD)):
            by_error: dict[str, list[int]] = defaultdict(list)
            for work in works:
                if work.outcome == outcome:
                    by_error[work.error[:4000]].extend(e.id for e in work.entries)
            for error, entry_ids in by_error.items():
                base.filter(id__in=entry_ids).update(
                    status=status, processed_at=now, locked_until=None, locked_by="", last_error=error
                )
        bulk_set(OutboxEntry, changed, ["next_attempt_at", "last_error", "locked_until", "locked_by", "attempts"])
        copy_insert(OutboxAttempt, attempts)
        _relink_stale(works)
        _record_entities(works, now)
    return dict(counts)


def _record_entities(works: list[Work], now: dt.datetime) -> None:
    """Infobip ids, sync states and errors on persons and companies."""
    for model, entity in ((Person, OutboxEntity.PERSON), (Company, OutboxEntity.COMPANY)):
        mine = [w for w in works if w.entity == entity and w.entity_id.isdigit()]
        survivors = []
        if entity == OutboxEntity.PERSON:
            for work in works:
                if work.entity == OutboxEntity.MERGE and work.infobip_id:
                    survivors.append(work)
        if not mine and not survivors:
            continue
        pks = {int(w.entity_id) for w in mine}
        still_pending = set(
            OutboxEntry.objects.filter(
                entity=entity, entity_id__in=[str(pk) for pk in pks], status=OutboxStatus.PENDING
            ).values_list("entity_id", flat=True)
        )
        wanted = pks | {pk for pk in (_survivor_pk(w) for w in survivors) if pk}
        fields = ["infobip_id", "infobip_modified_at", "sync_status", "sync_error", "synced_at"]
        rows = {  # plain rows, not model instances: a round records up to a thousand of them
            row[0]: SimpleNamespace(pk=row[0], **dict(zip(fields, row[1:], strict=True)))
            for row in model.objects.filter(pk__in=wanted).values_list("pk", *fields)
        }
        to_save: list[Any] = []
        for work in mine + survivors:
            pk = _survivor_pk(work) if work.entity == OutboxEntity.MERGE else int(work.entity_id)
            obj = rows.get(pk)
            if obj is None:
                continue
            if work.clear_infobip_id and obj.infobip_id and work.infobip_id is None:
                obj.infobip_id = None
            if work.infobip_id:
                obj.infobip_id = work.infobip_id
            if work.modified_at:
                obj.infobip_modified_at = parse_infobip_time(work.modified_at)
            if work.outcome == Outcome.DONE:
                obj.sync_error = ""
                obj.synced_at = now
                if work.entity == OutboxEntity.MERGE or str(pk) not in still_pending:
                    obj.sync_status = SyncStatus.SYNCED
            elif work.outcome == Outcome.DEAD:
                obj.sync_status, obj.sync_error = SyncStatus.FAILED, work.error[:4000]
            elif work.outcome == Outcome.RETRY:
                obj.sync_status, obj.sync_error = SyncStatus.PENDING, work.error[:4000]
            elif (
                work.outcome == Outcome.SKIP and obj.sync_status == SyncStatus.PENDING and str(pk) not in still_pending
            ):
                obj.sync_status = SyncStatus.LOCAL if not work.realm.cdp_enabled else obj.sync_status
            to_save.append(obj)
        try:
            with transaction.atomic():
                bulk_set(model, to_save, fields)
        except IntegrityError:
            # Another local row holds one of these Infobip ids (a race with the sync, or its link is stale): what
            # Infobip just answered for this row is the newer fact, so that row is relinked and this one saved.
            for obj in to_save:
                try:
                    with transaction.atomic():
                        model.objects.filter(pk=obj.pk).update(**{f: getattr(obj, f) for f in fields})
                except IntegrityError:
                    realm = next(w.realm for w in mine + survivors)
                    holders = model.objects.filter(infobip_id=obj.infobip_id).exclude(pk=obj.pk)
                    _relink(model, entity, realm, list(holders.values_list("pk", flat=True)), obj.infobip_id, obj.pk)
                    model.objects.filter(pk=obj.pk).update(**{f: getattr(obj, f) for f in fields})


def _relink_stale(works: list[Work]) -> None:
    """Persons whose Infobip id turned out to be another person's profile (Infobip lost theirs and reused the id)
    lose it first, so the id can be stored for the person Infobip gave it to."""
    for work in works:
        if work.unlink and work.infobip_id:
            taker = _survivor_pk(work) if work.entity == OutboxEntity.MERGE else int(work.entity_id)
            _relink(Person, OutboxEntity.PERSON, work.realm, work.unlink, work.infobip_id, taker or 0)


def _relink(model: Any, entity: str, realm: Any, pks: list[int], infobip_id: int, taker: int) -> None:
    """Unlink ``pks`` from ``infobip_id`` and queue their create: the push looks them up by their identifiers
    and re-links them to the profile it finds, or re-creates them (never a failure that stays)."""
    reason = (
        f"Its Infobip profile {infobip_id} was gone (Infobip gave that id to {entity} {taker}): it is looked up by "
        "its identifiers and re-linked or re-created."
    )
    gone = model.objects.filter(pk__in=pks, infobip_id=infobip_id)
    relinked = list(gone.values_list("pk", flat=True))
    gone.update(infobip_id=None, sync_status=SyncStatus.PENDING, sync_error=reason)
    for pk in relinked:
        outbox_record(realm=realm, entity=entity, entity_id=pk, op=OutboxOp.CREATE)


def _survivor_pk(work: Work) -> int | None:
    return MergeChange.from_json(work.entries[-1].payload).survivor


CLAIM_MARGIN = 10.0  # seconds before a drain's budget ends in which no round is started


@dataclass
class DrainReport:
    rounds: int = 0
    entries: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    more: bool = False  # stopped by the time budget with work left


def purge_delivered(*, keep_days: float | None = None, limit: int = 10_000) -> int:
    """Delete delivered and skipped rows (and their attempts) older than ``INFOBIP_OUTBOX_KEEP_DAYS``; at most
    ``limit`` per call, so the minute schedule spreads a large backlog of old rows over many minutes."""
    keep_days = float(setting("INFOBIP_OUTBOX_KEEP_DAYS", 30) if keep_days is None else keep_days)
    before = timezone.now() - dt.timedelta(days=keep_days)
    ids = list(
        OutboxEntry.objects.filter(
            status__in=[OutboxStatus.DONE, OutboxStatus.SKIPPED, OutboxStatus.SUPERSEDED], processed_at__lt=before
        ).values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    with transaction.atomic():
        OutboxAttempt.objects.filter(entry_id__in=ids).delete()
        OutboxEntry.objects.filter(id__in=ids).delete()
    return len(ids)


def drain(
    *,
    max_seconds: float | None = None,
    max_rounds: int | None = None,
    claim_size: int | None = None,
    realm_ids: Iterable[int] | None = None,
) -> DrainReport:
    """Claim, deliver and record rounds until nothing is due (or the time/round budget is spent).

    ``max_seconds`` bounds the whole drain: no round is claimed in its last tenth (at most ``CLAIM_MARGIN``
    seconds), and a round stops calling Infobip when it is spent (client retry waits included); what it did
    not send waits for the next drain with no attempt counted, and ``more`` says so."""
    worker = new_worker_id()
    report = DrainReport()
    started = time.monotonic()
    deadline = None if max_seconds is None else started + max_seconds
    stop_claiming = None if max_seconds is None else deadline - min(CLAIM_MARGIN, max_seconds / 10)
    realm_ids = list(realm_ids) if realm_ids is not None else None
    while True:
        if max_rounds is not None and report.rounds >= max_rounds:
            report.more = True
            break
        if stop_claiming is not None and time.monotonic() >= stop_claiming:
            report.more = True
            break
        works = claim(worker=worker, limit=claim_size, realm_ids=realm_ids)
        if not works:
            break
        deliver(works, worker=worker, deadline=deadline)
        if any(w.outcome == Outcome.DEFER and w.error == BUDGET_SPENT for w in works):
            report.more = True
        counts = record(works, worker=worker)
        report.rounds += 1
        report.entries += sum(len(w.entries) for w in works)
        for outcome, n in counts.items():
            report.outcomes[outcome] += n
    report.seconds = time.monotonic() - started
    return report
