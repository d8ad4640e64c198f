"""The push: deliver the outbox to Infobip, at least once on the wire and exactly once in effect.

A drain runs rounds of three steps until nothing is due:

1. **Claim** — one short transaction. ``SELECT … FOR UPDATE SKIP LOCKED`` picks the oldest due pending rows that
   are the *head* of their entity (no earlier pending or dead row of the same realm/entity/entity_id), then
   every pending row of those entities is taken along (coalescing); all of them get a lease (``locked_until``,
   ``locked_by``) and ``attempts + 1``. HTTP then runs with no transaction open, so the lease, not a row lock,
   keeps other workers away; it is renewed while the worker works. A worker killed at any point leaves rows
   that are claimed again once the lease runs out; a row whose workers die ``INFOBIP_OUTBOX_MAX_ATTEMPTS``
   times is a dead letter.
2. **Deliver** — no transaction. The rows of one entity become one change computed from the entity's current
   state plus what only the payloads know (removed contacts and tags, the company a person left, identifiers of
   deleted rows). Kinds go in dependency order (tags, custom attributes, event definitions, companies, persons
   and their company memberships, merges, events); a kind with at least ``INFOBIP_OUTBOX_BATCH_MIN`` changes
   in a round uses the batch endpoints (persons create/update/delete ≤1000, companies create/update,
   company membership ≤1000, events ≤5000), anything a batch could not settle goes through the single calls.
   A missing tag, custom attribute definition or event definition in Infobip (``Tag X does not exist``) is
   created from our definition and the call repeated once.
3. **Record** — one short transaction: rows done, skipped, deferred, backed off or dead, one
   ``OutboxAttempt`` per call (request summary, status, error, duration), Infobip ids and sync states on persons
   and companies. Only rows still leased by this worker are written: a worker that lost its lease leaves the
   outcome to the one that took over.

**Order per entity.** A row is delivered only as part of its entity's group starting at the entity's oldest
pending row, and a dead row blocks the rows after it until staff retry or discard it in the admin: a later
change of an entity is never sent before an earlier one is done.

**Exactly once in effect.** Every call is safe to repeat: creates go through the client's safe create (a
transient failure is followed by a lookup by externalId, then email, then phone before sending again) and a
batch create that had to be retried resolves its items through ``/persons/match``; a create whose identifier
already belongs to an Infobip person *adopts* that person (same externalId/email/phone is the same person by
Infobip's own rules) and PATCHes our state onto it. Updates are PATCHes (sets are appended, scalars
overwritten), contact/tag removals and deletes converge, events carry our ``event_id`` as Infobip's ``eventId``
(Infobip records an eventId once per person). So a lost response, a 5xx or a killed worker leads to a repeat
that changes nothing twice. A person without externalId, email and phone cannot be looked up after a failed
create: its create is sent without automatic retry of ambiguous failures (no duplicate), and such a failure
is a dead letter telling staff to check Infobip first.

**Merges** are pushed as *update + delete*, not through ``POST /people/3/persons/merge``: the absorbed persons
are deleted in Infobip (found by their Infobip id, then externalId, email, phone — never the survivor), the
survivor is written with PUT (our merge result is the whole truth, already decided with Infobip's rules), and
the absorbed persons' events, which Infobip dropped with them, are sent again to the survivor with their own
eventIds. Every step converges when repeated. We chose this over Infobip's merge because Infobip's merge keeps
the *oldest* Infobip profile and matches only on identifiers still present in the request, while our survivor
(with the Infobip id identities and events refer to) is chosen by staff and the absorbed profiles may share no
identifier with it anymore.

**Failures.** 429, 5xx, timeouts, dropped connections, 401/403 (configuration) and a missing company back off:
``INFOBIP_OUTBOX_BACKOFF_BASE × 2^(attempts-1)`` seconds with jitter, capped at ``INFOBIP_OUTBOX_BACKOFF_CAP``,
and become dead after ``INFOBIP_OUTBOX_MAX_ATTEMPTS`` attempts. A 400/404/409 that the rules above cannot
settle will not get better by waiting: dead at once, with Infobip's reason. Rows of a realm whose CDP extension
is off are skipped. An event whose person is not in Infobip yet waits (deferred, no attempt counted) for the
person's create.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import re
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from companies.models import Company
from companies.representation import company_as_infobip
from identities.models import Realm
from infobip.bulk import bulk_set, copy_insert
from infobip.client import (
    AlreadyExists,
    InfobipClient,
    InfobipError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unreachable,
    client_for_realm,
)
from infobip.client import ValidationError as InfobipValidationError
from infobip.models import OutboxAttempt, OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from people.fields import API_NAME
from people.models import (
    CustomAttributeDefinition,
    EventDefinition,
    MergeRecord,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
    SyncStatus,
    Tag,
)
from people.representation import person_as_infobip, person_standard_attributes

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
MATCH_BATCH = 1000
EVENT_BATCH = 5000
EVENT_BATCH_MAX_AGE = dt.timedelta(days=29)  # Infobip refuses batch events older than 30 days
DEFER_SECONDS = 5.0
MISSING_TAG_RE = re.compile(r"Tag (.+?) does not exist")
MISSING_ATTRIBUTE_RE = re.compile(r"Custom attribute (.+?) does not exist")


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("INFOBIP_OUTBOX_MAX_ATTEMPTS", 10))


def backoff_seconds(attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: exponential, capped, with "equal jitter"."""
    base = float(_setting("INFOBIP_OUTBOX_BACKOFF_BASE", 10))
    cap = float(_setting("INFOBIP_OUTBOX_BACKOFF_CAP", 3600))
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------------------------ the work


@dataclass
class Call:
    request: str
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    ok: bool
    error: str = ""


class Outcome:
    DONE = "done"
    SKIP = "skip"
    RETRY = "retry"
    DEAD = "dead"
    DEFER = "defer"


@dataclass(eq=False)
class Work:
    """All claimed rows of one entity and what delivering them came to."""

    realm: Any
    entity: str
    entity_id: str
    entries: list[OutboxEntry]
    calls: list[Call] = field(default_factory=list)
    outcome: str | None = None
    error: str = ""
    delay: float = 0.0
    infobip_id: int | None = None  # persons and companies: the Infobip id learned here
    clear_infobip_id: bool = False  # the person/company is gone from Infobip; a new one was or will be made
    modified_at: str | None = None

    @property
    def head(self) -> OutboxEntry:
        return self.entries[0]

    @property
    def ops(self) -> list[str]:
        return [e.op for e in self.entries]

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    def done(self) -> None:
        if self.outcome is None:
            self.outcome = Outcome.DONE

    def skip(self, reason: str) -> None:
        self.outcome, self.error = Outcome.SKIP, reason

    def defer(self, reason: str, seconds: float = DEFER_SECONDS) -> None:
        self.outcome, self.error, self.delay = Outcome.DEFER, reason, seconds

    def fail(self, error: Any, *, transient: bool | None = None) -> None:
        if transient is None:
            transient = retryable(error)
        self.outcome = Outcome.RETRY if transient else Outcome.DEAD
        self.error = describe(error)


def retryable(error: Any) -> bool:
    """Whether waiting can help: throttling, server and network trouble, configuration (401/403)."""
    if isinstance(error, RateLimited | ServerError | Timeout | Unreachable):
        return True
    if isinstance(error, InfobipError):
        return error.status in (401, 403) or error.status is None
    if isinstance(error, PushDeferred):
        return True
    return True  # our own bugs and database trouble: retry, the dead letter catches what never works


def describe(error: Any) -> str:
    if isinstance(error, InfobipError):
        text = str(error)
        fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in error.field_errors.items())
        return f"{text} ({fields})" if fields and fields not in text else text
    return str(error) or error.__class__.__name__


class PushDeferred(Exception):
    """Something this change depends on is not in Infobip yet (a company, a person): try again later."""


class PushRefused(Exception):
    """The change cannot be delivered as it is (no retry helps); the message says what staff should do."""


# ------------------------------------------------------------------------------------------------- claim

_HEADS_SQL = """
SELECT o.id, o.realm_id, o.entity, o.entity_id
FROM infobip_outboxentry o
WHERE o.status = 'pending'
  AND o.next_attempt_at <= clock_timestamp()
  AND (o.locked_until IS NULL OR o.locked_until < clock_timestamp())
  {realm_filter}
  AND NOT EXISTS (
      SELECT 1 FROM infobip_outboxentry p
      WHERE p.realm_id = o.realm_id AND p.entity = o.entity AND p.entity_id = o.entity_id
        AND p.id < o.id AND p.status IN ('pending', 'dead'))
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
    """Lease the next due entities (head rows plus all their pending followers). One short transaction."""
    limit = limit or int(_setting("INFOBIP_OUTBOX_CLAIM", 1000))
    lease = float(_setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
    realm_ids = list(realm_ids) if realm_ids is not None else None
    realm_filter = "AND o.realm_id = ANY(%(realm_ids)s)" if realm_ids is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_EXHAUSTED_SQL, {"max": max_attempts()})
        cursor.execute(_HEADS_SQL.format(realm_filter=realm_filter), {"limit": limit, "realm_ids": realm_ids})
        heads = cursor.fetchall()
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


def renew_lease(worker: str, ids: list[int]) -> None:
    lease = float(_setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
    OutboxEntry.objects.filter(id__in=ids, locked_by=worker, status=OutboxStatus.PENDING).update(
        locked_until=timezone.now() + dt.timedelta(seconds=lease)
    )


# --------------------------------------------------------------------------------------------- delivering


class Context:
    """One realm's share of a round: its client, the works, Infobip ids learned so far, the lease."""

    def __init__(self, realm: Any, client: InfobipClient, works: list[Work], worker: str) -> None:
        self.realm = realm
        self.client = client
        self.works = works
        self.worker = worker
        self.person_ids: dict[int, int] = {}  # local person pk -> Infobip id learned this round
        self.company_ids: dict[int, int] = {}
        self.failed_persons: set[int] = set()
        self._lease_ids = [e.id for w in works for e in w.entries]
        self._renewed = time.monotonic()
        self._lease = float(_setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
        self._batch_min = int(_setting("INFOBIP_OUTBOX_BATCH_MIN", 5))
        self._ensured_tags: set[str] = set()
        self._ensured_attributes: set[str] = set()
        self._ensured_definitions: set[str] = set()

    def batching(self, count: int) -> bool:
        return count >= self._batch_min

    def keep_lease(self) -> None:
        if time.monotonic() - self._renewed > self._lease / 3:
            renew_lease(self.worker, self._lease_ids)
            self._renewed = time.monotonic()

    def call(self, works: Work | list[Work], request: str, fn: Callable[[], Any], *, ok_status: int = 200) -> Any:
        """Run one client call and note it on every work it serves (an OutboxAttempt each)."""
        works = works if isinstance(works, list) else [works]
        self.keep_lease()
        started, clock = timezone.now(), time.monotonic()
        try:
            result = fn()
        except InfobipError as exc:
            call = Call(request[:500], started, _ms(clock), exc.status, False, describe(exc)[:4000])
            for work in works:
                work.calls.append(call)
            raise
        status = 207 if isinstance(result, dict) and (result.get("partial") or result.get("errors")) else ok_status
        call = Call(request[:500], started, _ms(clock), status, True)
        for work in works:
            work.calls.append(call)
        return result

    # ----- dependencies Infobip may not have yet

    def ensure_dependencies(self, works: Work | list[Work], error: InfobipError) -> bool:
        """Create the tags / custom attribute definitions an error says are missing. True if any was made."""
        texts = [error.message, *(m for msgs in error.field_errors.values() for m in msgs)]
        return self.ensure_from_texts(works, texts)

    def ensure_from_texts(self, works: Work | list[Work], texts: Iterable[str]) -> bool:
        tags, attributes = set(), set()
        for text in texts:
            tags.update(MISSING_TAG_RE.findall(text or ""))
            attributes.update(MISSING_ATTRIBUTE_RE.findall(text or ""))
        made = False
        for name in sorted(tags - self._ensured_tags):
            self.call(works, f"POST /people/2/tags {name}", lambda name=name: self.client.ensure_tag(name))
            self._ensured_tags.add(name)
            made = True
        if attributes - self._ensured_attributes:
            definitions = {
                d.name: d for d in CustomAttributeDefinition.objects.filter(realm=self.realm, name__in=attributes)
            }
            for name in sorted(attributes - self._ensured_attributes):
                definition = definitions.get(name)
                if definition is None:
                    continue
                self.call(
                    works,
                    f"POST /people/2/customAttributes {name}",
                    lambda d=definition: _ensure_custom_attribute(self.client, d),
                )
                self._ensured_attributes.add(name)
                made = True
        return made

    def ensure_event_definition(self, works: Work | list[Work], definition: EventDefinition) -> None:
        if definition.definition_id in self._ensured_definitions:
            return
        self.call(
            works,
            f"POST /peopleevents/2/definitions {definition.definition_id}",
            lambda: _ensure_event_definition(self.client, definition),
        )
        self._ensured_definitions.add(definition.definition_id)


def _ms(clock: float) -> int:
    return max(0, int((time.monotonic() - clock) * 1000))


def with_dependencies(ctx: Context, works: Work | list[Work], send: Callable[[], Any]) -> Any:
    """``send()``; when Infobip answers that a tag or custom attribute does not exist, create it and send again."""
    try:
        return send()
    except InfobipValidationError as exc:
        if isinstance(exc, AlreadyExists) or not ctx.ensure_dependencies(works, exc):
            raise
    return send()


def _ensure_custom_attribute(client: InfobipClient, definition: CustomAttributeDefinition) -> Any:
    try:
        return client.create_custom_attribute(
            definition.name, definition.data_type, object_schema=definition.object_schema or None
        )
    except AlreadyExists:
        return None


def _event_definition_body(definition: EventDefinition) -> dict[str, Any]:
    body = {"definitionId": definition.definition_id, "title": definition.title, "fields": list(definition.fields)}
    if definition.description:
        body["description"] = definition.description
    return body


def _ensure_event_definition(client: InfobipClient, definition: EventDefinition) -> Any:
    body = _event_definition_body(definition)
    try:
        return client.create_event_definition(body)
    except AlreadyExists:
        changes = {k: v for k, v in body.items() if k != "definitionId"}
        return client.update_event_definition(definition.definition_id, changes)


def inside_transaction() -> bool:
    """Whether a transaction of ours is open (a test case's wrapping transaction does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def deliver(works: list[Work], *, worker: str) -> None:
    """Send every work's change (no database transaction may be open: calls can take seconds)."""
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
        ctx = Context(realm, client, realm_works, worker)
        for kind in ENTITY_ORDER:
            kind_works = [w for w in realm_works if w.entity == kind and not w.decided]
            if not kind_works:
                continue
            try:
                HANDLERS[kind](ctx, kind_works)
            except Exception as exc:  # a bug or the database: these works are tried again later
                logger.exception("pushing %s changes of realm %s failed", kind, realm.pk)
                for work in kind_works:
                    if not work.decided:
                        work.fail(exc, transient=True)
        for work in realm_works:
            if not work.decided:
                work.done()


def _settle(work: Work, fn: Callable[[], None]) -> None:
    """Run one work's delivery, turning every failure into its outcome."""
    try:
        fn()
    except PushDeferred as exc:
        work.fail(exc, transient=True)
    except PushRefused as exc:
        work.fail(exc, transient=False)
    except InfobipError as exc:
        work.fail(exc)
    else:
        work.done()


# ----------------------------------------------------------------------------------- tags and definitions


def push_tags(ctx: Context, works: list[Work]) -> None:
    names = [w.entity_id for w in works]
    existing = set(
        Tag.objects.filter(realm=ctx.realm)
        .annotate(lname=Lower("name"))
        .filter(lname__in=[n.lower() for n in names])
        .values_list("lname", flat=True)
    )
    for work in works:
        name = work.entity_id
        if name.lower() in existing:
            _settle(work, lambda name=name, work=work: _tag_create(ctx, work, name))
        else:
            _settle(work, lambda name=name, work=work: _tag_delete(ctx, work, name))


def _tag_create(ctx: Context, work: Work, name: str) -> None:
    with contextlib.suppress(AlreadyExists):
        ctx.call(work, f"POST /people/2/tags {name}", lambda: ctx.client.create_tag(name))
    ctx._ensured_tags.add(name)


def _tag_delete(ctx: Context, work: Work, name: str) -> None:
    with contextlib.suppress(NotFound):
        ctx.call(work, f"DELETE /people/2/tags/{name}", lambda: ctx.client.delete_tag(name))


def push_custom_attributes(ctx: Context, works: list[Work]) -> None:
    definitions = {
        d.name: d
        for d in CustomAttributeDefinition.objects.filter(realm=ctx.realm, name__in=[w.entity_id for w in works])
    }
    for work in works:
        definition = definitions.get(work.entity_id)
        if definition is not None:
            _settle(work, lambda d=definition, work=work: _custom_attribute_create(ctx, work, d))
        else:
            _settle(work, lambda work=work: _custom_attribute_delete(ctx, work))


def _custom_attribute_create(ctx: Context, work: Work, definition: CustomAttributeDefinition) -> None:
    request = f"POST /people/2/customAttributes {definition.name} ({definition.data_type})"
    try:
        ctx.call(work, request, lambda: _create_custom_attribute_exact(ctx.client, definition))
    except AlreadyExists as exc:
        raise PushRefused(
            f"Infobip already has a custom attribute {definition.name!r} of another data type and has no update: "
            f"delete it there or here. ({exc})"
        ) from exc
    ctx._ensured_attributes.add(definition.name)


def _create_custom_attribute_exact(client: InfobipClient, definition: CustomAttributeDefinition) -> Any:
    try:
        return client.create_custom_attribute(
            definition.name, definition.data_type, object_schema=definition.object_schema or None
        )
    except AlreadyExists:
        existing = client.get_custom_attribute(definition.name)
        if existing.get("dataType") not in (None, definition.data_type):
            raise
        return existing


def _custom_attribute_delete(ctx: Context, work: Work) -> None:
    name = work.entity_id
    with contextlib.suppress(NotFound):
        ctx.call(work, f"DELETE /people/2/customAttributes/{name}", lambda: ctx.client.delete_custom_attribute(name))


def push_event_definitions(ctx: Context, works: list[Work]) -> None:
    definitions = {
        d.definition_id: d
        for d in EventDefinition.objects.filter(realm=ctx.realm, definition_id__in=[w.entity_id for w in works])
    }
    for work in works:
        definition = definitions.get(work.entity_id)
        if definition is None:
            work.done()  # Infobip has no delete for definitions: the one there stays
            continue
        _settle(work, lambda d=definition, work=work: _event_definition_push(ctx, work, d))


def _event_definition_push(ctx: Context, work: Work, definition: EventDefinition) -> None:
    body = _event_definition_body(definition)
    changes = {k: v for k, v in body.items() if k != "definitionId"}
    path = f"/peopleevents/2/definitions/{definition.definition_id}"
    if OutboxOp.CREATE in work.ops:
        try:
            ctx.call(
                work,
                f"POST /peopleevents/2/definitions {definition.definition_id}",
                lambda: ctx.client.create_event_definition(body),
                ok_status=201,
            )
            ctx._ensured_definitions.add(definition.definition_id)
            return
        except AlreadyExists:
            pass
    try:
        ctx.call(work, f"POST {path}", lambda: ctx.client.update_event_definition(definition.definition_id, changes))
    except NotFound:
        ctx.call(
            work, "POST /peopleevents/2/definitions", lambda: ctx.client.create_event_definition(body), ok_status=201
        )
    ctx._ensured_definitions.add(definition.definition_id)


# --------------------------------------------------------------------------------------------- companies


def _company_body(company: Company) -> dict[str, Any]:
    body = company_as_infobip(company)
    body["externalId"] = company.external_id or ""  # Infobip clears an externalId with "" (PATCH keeps a missing key)
    return body


def _company_create_body(company: Company) -> dict[str, Any]:
    return {k: v for k, v in _company_body(company).items() if v not in ("", [], {})}


def push_companies(ctx: Context, works: list[Work]) -> None:
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    companies = {c.pk: c for c in Company.objects.filter(realm=ctx.realm, pk__in=ids).prefetch_related("tags")}
    creates, updates = [], []
    for work in works:
        company = companies.get(int(work.entity_id)) if work.entity_id.isdigit() else None
        if company is None:
            delete = next((e for e in reversed(work.entries) if e.op == OutboxOp.DELETE), None)
            _settle(work, lambda work=work, delete=delete: _company_delete(ctx, work, delete.payload if delete else {}))
        elif company.infobip_id is None:
            creates.append((work, company))
        else:
            updates.append((work, company))
    if ctx.batching(len(creates)):
        creates = _companies_batch_create(ctx, creates)
    for work, company in creates:
        _settle(work, lambda work=work, company=company: _company_create(ctx, work, company))
    # A batch PATCH appends tags and domains (no replace flags there): only changes that leave them alone.
    plain = [
        (w, c) for w, c in updates if not _company_fields(w) & {"tags", "domains"} and OutboxOp.CREATE not in w.ops
    ]
    if ctx.batching(len(plain)):
        _companies_batch_update(ctx, plain)
    for work, company in updates:
        if not work.decided:
            _settle(work, lambda work=work, company=company: _company_update(ctx, work, company))


def _company_fields(work: Work) -> set[str]:
    return {name for entry in work.entries for name in (entry.payload or {}).get("fields") or ()}


def _companies_batch_update(ctx: Context, updates: list[tuple[Work, Company]]) -> None:
    """PATCH /companies/batch per 1000; a company Infobip refuses goes through the single PATCH."""
    for chunk in _chunks(updates, 1000):
        works = [w for w, _ in chunk]
        items = [
            {
                "query": {"id": str(company.infobip_id)},
                "update": {k: v for k, v in _company_body(company).items() if k not in ("tags", "domains")},
            }
            for _, company in chunk
        ]
        try:
            result = ctx.call(
                works,
                f"PATCH /people/2/companies/batch [{len(chunk)}]",
                lambda items=items: ctx.client.update_companies(items),
            )
        except InfobipError as exc:
            _batch_failed(works, exc)
            continue
        refused = {str((r.get("query") or {}).get("id")) for r in result.get("results") or []}
        for work, company in chunk:
            if str(company.infobip_id) not in refused:
                ctx.company_ids[company.pk] = company.infobip_id
                work.done()


def _companies_batch_create(ctx: Context, creates: list[tuple[Work, Company]]) -> list[tuple[Work, Company]]:
    """One POST /companies/batch per 1000; returns what the batch did not settle (single calls follow)."""
    left: list[tuple[Work, Company]] = []
    for chunk in _chunks(creates, 1000):
        works = [w for w, _ in chunk]
        bodies = [_company_create_body(c) for _, c in chunk]
        try:
            result = ctx.call(
                works,
                f"POST /people/2/companies/batch [{len(chunk)}]",
                lambda bodies=bodies: ctx.client.create_companies(bodies),
            )
        except InfobipError as exc:
            if not _batch_failed(works, exc):
                left.extend(chunk)  # refused as a whole: the single creates say which one is wrong
            continue
        by_index = {r.get("index"): r for r in result.get("results") or []}
        for index, (work, company) in enumerate(chunk):
            item = by_index.get(index) or {}
            if item.get("status") == 200 and item.get("id") is not None:
                work.infobip_id = int(item["id"])
                ctx.company_ids[company.pk] = work.infobip_id
                work.done()
            else:
                left.append((work, company))
    return left


def _company_create(ctx: Context, work: Work, company: Company) -> None:
    body = _company_create_body(company)
    try:
        created = ctx.call(
            work,
            f"POST /people/2/companies {company.name}",
            lambda: with_dependencies(ctx, work, lambda: ctx.client.create_company(body)),
        )
    except AlreadyExists:
        existing = ctx.call(work, "GET /people/2/companies?name=", lambda: ctx.client.find_company(name=company.name))
        if existing is None:
            raise
        created = existing  # same name is the same company in Infobip: adopt it, then write our state
        ctx.call(
            work,
            "PATCH /people/2/companies?id=",
            lambda: with_dependencies(
                ctx,
                work,
                lambda: ctx.client.update_company(
                    _company_body(company), id=existing["id"], replace_tags=True, replace_domains=True
                ),
            ),
        )
    work.infobip_id = int(created["id"])
    ctx.company_ids[company.pk] = work.infobip_id


def _company_update(ctx: Context, work: Work, company: Company) -> None:
    try:
        ctx.call(
            work,
            f"PATCH /people/2/companies?id={company.infobip_id}",
            lambda: with_dependencies(
                ctx,
                work,
                lambda: ctx.client.update_company(
                    _company_body(company), id=company.infobip_id, replace_tags=True, replace_domains=True
                ),
            ),
        )
        ctx.company_ids[company.pk] = company.infobip_id
    except NotFound:
        work.clear_infobip_id = True  # deleted in Infobip: make it again
        _company_create(ctx, work, company)


def _company_delete(ctx: Context, work: Work, payload: dict[str, Any]) -> None:
    if payload.get("infobipId"):
        selector = {"id": payload["infobipId"]}
    elif payload.get("name"):
        selector = {"name": payload["name"]}
    else:
        return
    with contextlib.suppress(NotFound):
        ctx.call(
            work, f"DELETE /people/2/companies?{next(iter(selector))}=", lambda: ctx.client.delete_company(**selector)
        )


# ------------------------------------------------------------------------------------------------ persons


def person_query(infobip_id: int) -> dict[str, Any]:
    return {"type": "ID", "identifier": str(infobip_id)}


def _identifier_candidates(external_id: str | None, emails: Iterable[str], phones: Iterable[str]) -> list[tuple]:
    out: list[tuple[str, str]] = []
    if external_id:
        out.append(("EXTERNAL_ID", external_id))
    out += [("EMAIL", e) for e in emails if e]
    out += [("PHONE", p) for p in phones if p]
    return out


def _body_identifiers(body: dict[str, Any]) -> list[tuple[str, str]]:
    contacts = body.get("contactInformation") or {}
    return _identifier_candidates(
        body.get("externalId"),
        [e.get("address") for e in contacts.get("email") or ()],
        [p.get("number") for p in contacts.get("phone") or ()],
    )


class _OrderedSet:
    def __init__(self, key: Callable[[str], str] = lambda v: v) -> None:
        self.key = key
        self.items: dict[str, str] = {}

    def add(self, value: str) -> None:
        self.items.setdefault(self.key(value), value)

    def discard(self, value: str) -> None:
        self.items.pop(self.key(value), None)

    def __iter__(self):
        return iter(list(self.items.values()))


@dataclass(eq=False)  # plans are compared by identity: field-wise equality of bodies would be slow and wrong
class PersonPlan:
    work: Work
    person: Person | None
    action: str  # "create" | "update" | "delete" | "nothing"
    body: dict[str, Any] = field(default_factory=dict)
    full: bool = False
    remove_phones: list[str] = field(default_factory=list)
    remove_emails: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    company_leave: int | None = None  # local company id the person left
    company_join: bool = False  # (re)join the person's current company
    delete_payload: dict[str, Any] = field(default_factory=dict)

    @property
    def simple_update(self) -> bool:
        return self.action == "update" and not (self.remove_phones or self.remove_emails or self.remove_tags)


@dataclass
class Collections:
    """Phones, emails and tag names of the persons a round changes, read with three plain queries."""

    phones: dict[int, list[str]] = field(default_factory=dict)
    emails: dict[int, list[str]] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, person_ids: list[int]) -> Collections:
        out = cls()
        if not person_ids:
            return out
        for pk, number in (
            PersonPhone.objects.filter(person_id__in=person_ids).order_by("id").values_list("person_id", "number")
        ):
            out.phones.setdefault(pk, []).append(number)
        for pk, address in (
            PersonEmail.objects.filter(person_id__in=person_ids).order_by("id").values_list("person_id", "address")
        ):
            out.emails.setdefault(pk, []).append(address)
        for pk, name in Person.tags.through.objects.filter(person_id__in=person_ids).values_list(
            "person_id", "tag__name"
        ):
            out.tags.setdefault(pk, []).append(name)
        return out

    def of(self, person: Person) -> tuple[list[str], list[str], list[str]]:
        return self.phones.get(person.pk, []), self.emails.get(person.pk, []), self.tags.get(person.pk, [])

    def body(self, person: Person) -> dict[str, Any]:
        """What ``person_as_infobip`` renders, from these rows."""
        phones, emails, tags = self.of(person)
        data = {key: value for key, value in person_standard_attributes(person).items() if value not in (None, "")}
        data["type"] = person.type
        data["tags"] = sorted(tags)
        data["customAttributes"] = dict(person.custom_attributes)
        data["contactInformation"] = {
            "phone": [{"number": p} for p in phones],
            "email": [{"address": e} for e in emails],
        }
        return data


def _plan_person(work: Work, person: Person | None, defined: set[str], collections: Collections) -> PersonPlan:
    ops = work.ops
    if OutboxOp.DELETE in ops:
        delete = next(e for e in reversed(work.entries) if e.op == OutboxOp.DELETE)
        return PersonPlan(work, None, "delete", delete_payload=delete.payload or {})
    if person is None:
        return PersonPlan(work, None, "nothing")
    if person.merged_into_id:
        return PersonPlan(work, person, "merged")
    fields: set[str] = set()
    add = {"phones": _OrderedSet(), "emails": _OrderedSet(str.lower), "tags": _OrderedSet(str.lower)}
    remove = {"phones": _OrderedSet(), "emails": _OrderedSet(str.lower), "tags": _OrderedSet(str.lower)}
    company_from: Any = ...
    for entry in work.entries:
        payload = entry.payload or {}
        if entry.op != OutboxOp.UPDATE:
            continue
        fields.update(payload.get("fields") or ())
        for kind in add:
            for value in (payload.get("added") or {}).get(kind) or ():
                add[kind].add(value)
                remove[kind].discard(value)
            for value in (payload.get("removed") or {}).get(kind) or ():
                remove[kind].add(value)
                add[kind].discard(value)
        change = payload.get("company")
        if isinstance(change, dict) and company_from is ...:
            company_from = change.get("from")
    plan = PersonPlan(work, person, "update")
    if person.infobip_id is None or OutboxOp.CREATE in ops:
        plan.action = "create" if person.infobip_id is None else "update"
        plan.full = True
        plan.body = collections.body(person)
        plan.company_join = person.company_id is not None
        return plan
    standard = person_standard_attributes(person)
    for name in sorted(fields):
        api = API_NAME.get(name, name)
        if name == "custom_attributes":
            custom = {key: None for key in sorted(defined) if key not in person.custom_attributes}
            custom.update(person.custom_attributes)
            plan.body["customAttributes"] = custom
        elif name == "type":
            plan.body["type"] = person.type
        elif api in standard:
            plan.body[api] = "" if standard[api] is None else standard[api]
    if "company" in fields:
        plan.company_join = person.company_id is not None
        if person.company_id is None and company_from not in (..., None):
            plan.company_leave = company_from
    if not any(list(values) for values in (*add.values(), *remove.values())):
        return plan  # scalar changes only: the person's contacts and tags are not needed (nor loaded)
    phones, emails, tags = collections.of(person)
    lower_emails, lower_tags = {e.lower() for e in emails}, {t.lower() for t in tags}
    added_tags = [t for t in add["tags"] if t.lower() in lower_tags]
    added_phones = [p for p in add["phones"] if p in phones]
    added_emails = [e for e in add["emails"] if e.lower() in lower_emails]
    if added_tags:
        plan.body["tags"] = added_tags
    if added_phones or added_emails:
        plan.body["contactInformation"] = {
            "phone": [{"number": p} for p in added_phones],
            "email": [{"address": e} for e in added_emails],
        }
    plan.remove_phones = [p for p in remove["phones"] if p not in phones]
    plan.remove_emails = [e for e in remove["emails"] if e.lower() not in lower_emails]
    plan.remove_tags = [t for t in remove["tags"] if t.lower() not in lower_tags]
    return plan


def _needs_collections(work: Work, person: Person | None) -> bool:
    """Whether planning this person's change reads its phones, emails and tags (a full body or set changes)."""
    if person is None or person.merged_into_id or OutboxOp.DELETE in work.ops:
        return False
    if person.infobip_id is None or OutboxOp.CREATE in work.ops:
        return True
    return any(
        values
        for entry in work.entries
        for key in ("added", "removed")
        for values in ((entry.payload or {}).get(key) or {}).values()
    )


def push_persons(ctx: Context, works: list[Work]) -> None:
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    persons = {p.pk: p for p in Person.objects.filter(realm=ctx.realm, pk__in=ids).select_related("company")}
    collections = Collections.load(
        [
            int(w.entity_id)
            for w in works
            if w.entity_id.isdigit() and _needs_collections(w, persons.get(int(w.entity_id)))
        ]
    )
    defined = set(CustomAttributeDefinition.objects.filter(realm=ctx.realm).values_list("name", flat=True))
    plans = [
        _plan_person(w, persons.get(int(w.entity_id)) if w.entity_id.isdigit() else None, defined, collections)
        for w in works
    ]
    creates, updates, deletes = [], [], []
    for plan in plans:
        if plan.action == "nothing":
            plan.work.done()  # the person is gone and left nothing for Infobip to forget
        elif plan.action == "merged":
            plan.work.skip(f"Merged into person {plan.person.merged_into_id}; the merge's push covers it.")
        elif plan.action == "create":
            creates.append(plan)
        elif plan.action == "update":
            updates.append(plan)
        else:
            deletes.append(plan)

    # Deletes, then updates, then creates: what frees an identifier (a deleted person, a removed email after a
    # merge is undone) goes before what takes it, or Infobip would still see it taken.
    findable = [p for p in deletes if _delete_query(p.delete_payload or {})]
    if ctx.batching(len(findable)):
        _persons_batch_delete(ctx, findable)
    for plan in deletes:
        if not plan.work.decided:
            _settle(plan.work, lambda plan=plan: _person_delete(ctx, plan))
    untag = [p for p in updates if p.remove_tags and not (p.remove_phones or p.remove_emails)]
    if ctx.batching(len(untag)):
        _persons_batch_untag(ctx, untag)
    simple = [p for p in updates if p.simple_update and p.body and not p.work.decided]
    if ctx.batching(len(simple)):
        _persons_batch_update(ctx, simple)
    for plan in updates:
        _person_single_unless_decided(ctx, plan)
    safe_creates = [p for p in creates if _body_identifiers(p.body)]
    if ctx.batching(len(safe_creates)):
        _persons_batch_create(ctx, safe_creates)
    for plan in creates:
        _person_single_unless_decided(ctx, plan)
    _company_memberships(ctx, [p for p in creates + updates if p.work.outcome in (None, Outcome.DONE)])
    _events_of_restored_persons(ctx, [p for p in creates + updates if p.work.outcome in (None, Outcome.DONE)])


def _person_single_unless_decided(ctx: Context, plan: PersonPlan) -> None:
    if not plan.work.decided:
        _settle(plan.work, lambda: _person_single(ctx, plan))
    if plan.work.outcome not in (None, Outcome.DONE):
        ctx.failed_persons.add(plan.person.pk)


def _events_of_restored_persons(ctx: Context, plans: list[PersonPlan]) -> None:
    """A person (re)created with events of its own (``payload.events``: undoing a merge gives an absorbed
    person its events back) gets them sent to its Infobip profile, with their eventIds, after the create."""
    for plan in plans:
        event_ids = [
            i for e in plan.work.entries if e.op == OutboxOp.CREATE for i in (e.payload or {}).get("events") or ()
        ]
        infobip_id = ctx.person_ids.get(plan.person.pk) or plan.person.infobip_id
        if not event_ids or not infobip_id:
            continue
        events = PersonEvent.objects.filter(pk__in=event_ids, person=plan.person).select_related("definition")
        outcome = plan.work.outcome
        plan.work.outcome = None  # let the shared sends fail the work; restore "done" after
        _send_events(ctx, [(plan.work, event, ("ID", str(infobip_id))) for event in events], shared=plan.work)
        if plan.work.outcome is None:
            plan.work.outcome = outcome


def _note_person_id(
    ctx: Context, plan: PersonPlan, infobip_id: int, *, modified_at: str | None = None, owner: Any = ...
) -> None:
    """Remember the Infobip id found for the plan's person; refuse one that is another local person's profile.
    ``owner``: the local person already holding that id, when the caller looked it up in bulk (None: nobody);
    a brand-new id needs no look-up (``owner=None``)."""
    infobip_id = int(infobip_id)
    if owner is ...:
        owner = Person.objects.filter(realm=ctx.realm, infobip_id=infobip_id).values_list("pk", flat=True).first()
    if owner is not None and owner != plan.person.pk:
        # Transient: that person's change releasing the identifier may still be on its way (a merge undone).
        raise PushDeferred(
            f"Infobip person {infobip_id} (found by this person's identifiers) is the Infobip profile of person "
            f"{owner} here: if that does not change by itself, merge the two persons or change what they share."
        )
    plan.work.infobip_id = infobip_id
    plan.work.modified_at = modified_at
    if plan.person.infobip_id != infobip_id:
        plan.work.clear_infobip_id = False
    ctx.person_ids[plan.person.pk] = infobip_id


def _person_single(ctx: Context, plan: PersonPlan) -> None:
    person = plan.person
    infobip_id = ctx.person_ids.get(person.pk) or (None if plan.work.clear_infobip_id else person.infobip_id)
    if plan.action == "create" or infobip_id is None:
        _person_create(ctx, plan)
        return
    try:
        _person_update_calls(ctx, plan, infobip_id)
    except NotFound:
        # Someone deleted the person in Infobip: make it again with everything we have.
        plan.work.clear_infobip_id = True
        ctx.person_ids.pop(person.pk, None)
        plan.body, plan.full = person_as_infobip(person), True
        plan.company_join = person.company_id is not None
        _person_create(ctx, plan)


def _person_update_calls(ctx: Context, plan: PersonPlan, infobip_id: int) -> None:
    client, query, work = ctx.client, person_query(infobip_id), plan.work
    if plan.body:
        updated = ctx.call(
            work,
            f"PATCH /people/2/persons?type=ID&identifier={infobip_id} {sorted(plan.body)}",
            lambda: with_dependencies(ctx, work, lambda: client.update_person("ID", infobip_id, plan.body)),
        )
        if isinstance(updated, dict):
            work.modified_at = updated.get("modifiedAt")
    if plan.remove_phones or plan.remove_emails:
        contacts = {
            "phone": [{"number": p} for p in plan.remove_phones],
            "email": [{"address": e} for e in plan.remove_emails],
        }
        ctx.call(
            work,
            f"DELETE /people/2/persons/contactInformation?type=ID&identifier={infobip_id}",
            lambda: client.remove_contact_information("ID", infobip_id, contacts),
        )
    for tag in plan.remove_tags:
        # NotFound: the tag itself is gone in Infobip, and so is its membership.
        with contextlib.suppress(NotFound):
            ctx.call(work, f"DELETE /people/2/tags/{tag}/persons", lambda tag=tag: client.untag_persons(tag, [query]))
    work.infobip_id = infobip_id
    ctx.person_ids[plan.person.pk] = infobip_id


def _person_create(ctx: Context, plan: PersonPlan) -> None:
    person, work, client = plan.person, plan.work, ctx.client
    body = plan.body if plan.full else person_as_infobip(person)
    identifiers = _body_identifiers(body)
    if not identifiers:
        # Nothing to look the person up by after an ambiguous failure: send once, never blindly again.
        try:
            created = ctx.call(
                work,
                "POST /people/2/persons (no externalId, email or phone)",
                lambda: with_dependencies(
                    ctx, work, lambda: client._request("POST", "/people/2/persons", json_body=body, retries=0)
                ),
            )
        except (ServerError, Timeout, Unreachable) as exc:
            raise PushRefused(
                f"Creating this person failed ambiguously ({exc}) and it has no externalId, email or phone to "
                "check whether Infobip made it: look for it in Infobip (and link it), then retry."
            ) from exc
        _note_person_id(ctx, plan, created["id"], modified_at=created.get("modifiedAt"), owner=None)
        return
    try:
        created = ctx.call(
            work,
            f"POST /people/2/persons {identifiers[0][0]}={identifiers[0][1]}",
            lambda: with_dependencies(ctx, work, lambda: client.create_person(body)),
        )
    except AlreadyExists:
        existing = _find_by_identifiers(ctx, work, identifiers)
        if existing is None:
            raise
        _note_person_id(ctx, plan, existing["id"])
        updated = ctx.call(
            work,
            f"PATCH /people/2/persons?type=ID&identifier={existing['id']} (adopt)",
            lambda: with_dependencies(ctx, work, lambda: client.update_person("ID", existing["id"], body)),
        )
        work.modified_at = (updated or {}).get("modifiedAt")
        return
    # A safe create may return a person its lookup found after a lost response: check who holds that id here.
    _note_person_id(ctx, plan, created["id"], modified_at=created.get("modifiedAt"))


def _find_by_identifiers(ctx: Context, work: Work, identifiers: list[tuple[str, str]]) -> dict[str, Any] | None:
    for type_, identifier in identifiers:
        found = ctx.call(
            work,
            f"GET /people/2/persons?type={type_}&identifier={identifier}",
            lambda type_=type_, identifier=identifier: ctx.client.find_person(type_, identifier),
        )
        if found is not None:
            return found
    return None


def _persons_batch_create(ctx: Context, plans: list[PersonPlan]) -> None:
    """POST /persons/batch, then ids through /persons/match; 409 items adopt the person that has the
    identifier, other refusals fall to the single path (which creates missing tags and attributes)."""
    for chunk in _chunks(plans, 1000):
        works = [p.work for p in chunk]
        bodies = [p.body for p in chunk]
        try:
            result = ctx.call(
                works,
                f"POST /people/2/persons/batch [{len(chunk)}]",
                lambda bodies=bodies: ctx.client.create_persons(bodies),
            )
        except InfobipError as exc:
            _batch_failed(works, exc)  # transient: the round is tried again (a repeat adopts what was made)
            continue
        failed = {r.get("index"): r for r in result.get("results") or []}
        texts = [m.get("message", "") for r in failed.values() for m in r.get("errors") or []]
        retry = [i for i, r in failed.items() if r.get("status") != 409]
        if retry and ctx.ensure_from_texts(works, texts):
            again = [chunk[i] for i in retry]
            try:
                second = ctx.call(
                    [p.work for p in again],
                    f"POST /people/2/persons/batch [{len(again)}] (after creating missing tags/attributes)",
                    lambda again=again: ctx.client.create_persons([p.body for p in again]),
                )
            except InfobipError:
                second = None
            if second is not None:
                still = {again[r.get("index")].work.entity_id for r in second.get("results") or []}
                for i in retry:
                    if chunk[i].work.entity_id not in still:
                        failed.pop(i)
                    else:
                        failed[i] = {"status": 400}
        resolve = [p for i, p in enumerate(chunk) if i not in failed or failed[i].get("status") == 409]
        try:
            found = _match_ids(ctx, resolve)
        except InfobipError as exc:
            _batch_failed([p.work for p in resolve], exc)
            continue
        taken = [found[chunk[i].work.entity_id] for i in failed if chunk[i].work.entity_id in found]
        owners = dict(Person.objects.filter(realm=ctx.realm, infobip_id__in=taken).values_list("infobip_id", "pk"))
        adopt = []
        for index, plan in enumerate(chunk):
            if index in failed and failed[index].get("status") != 409:
                continue  # single path
            infobip_id = found.get(plan.work.entity_id)
            if infobip_id is None:
                continue  # single path
            try:
                _note_person_id(ctx, plan, infobip_id, owner=owners.get(infobip_id))
            except PushDeferred as exc:
                plan.work.fail(exc, transient=True)
                continue
            if index in failed:
                adopt.append(plan)  # an identifier was taken: ours from a lost attempt or theirs; write our state
            else:
                plan.work.done()
        if adopt:
            _persons_batch_update(ctx, adopt, adopt_ids=True)


def _match_ids(ctx: Context, plans: list[PersonPlan]) -> dict[str, int]:
    """Infobip ids of the plans' persons, by externalId, then email, then phone (POST /persons/match).

    First every person's strongest identifier (one call per 1000 persons: what a batch create needs); then, for
    the few not found that way (an identifier that belongs to someone else), all their other identifiers."""
    if not plans:
        return {}

    def key(type_: str, identifier: str) -> tuple[str, str]:
        return (type_, identifier.lower() if type_ == "EMAIL" else identifier)

    wanted = {p.work.entity_id: _body_identifiers(p.body) for p in plans}
    works = [p.work for p in plans]
    matched: dict[tuple[str, str], int] = {}
    out: dict[str, int] = {}
    for rest in (False, True):
        queries, seen = [], set()
        for entity_id, identifiers in wanted.items():
            if entity_id in out:
                continue
            for type_, identifier in identifiers[1:] if rest else identifiers[:1]:
                if key(type_, identifier) not in seen:
                    seen.add(key(type_, identifier))
                    queries.append({"type": type_, "identifier": identifier})
        for chunk in _chunks(queries, MATCH_BATCH):
            matches = ctx.call(
                works,
                f"POST /people/2/persons/match [{len(chunk)}]",
                lambda chunk=chunk: ctx.client.match_persons(chunk),
            )
            for match in matches:
                matched[key(match.get("type"), str(match.get("identifier")))] = int(match["personId"])
        for entity_id, identifiers in wanted.items():
            found = next((matched[key(t, i)] for t, i in identifiers if key(t, i) in matched), None)
            if found is not None and entity_id not in out:
                out[entity_id] = found
    return out


def _persons_batch_untag(ctx: Context, plans: list[PersonPlan]) -> None:
    """Tag removals of many persons: one DELETE /tags/{name}/persons per tag and 1000 persons."""
    by_tag: dict[str, list[PersonPlan]] = defaultdict(list)
    for plan in plans:
        for tag in plan.remove_tags:
            by_tag[tag].append(plan)
    for tag, members in by_tag.items():
        for chunk in _chunks(members, 1000):
            queries = [person_query(ctx.person_ids.get(p.person.pk) or p.person.infobip_id) for p in chunk]
            try:
                ctx.call(
                    [p.work for p in chunk],
                    f"DELETE /people/2/tags/{tag}/persons [{len(chunk)}]",
                    lambda tag=tag, queries=queries: ctx.client.untag_persons(tag, queries),
                )
            except NotFound:
                pass  # the tag is gone in Infobip, and so is every membership of it
            except InfobipError as exc:
                for plan in chunk:
                    plan.work.fail(exc)
    for plan in plans:
        if not plan.work.decided:
            plan.remove_tags = []  # done: what is left of the change can go in a batch update


def _persons_batch_update(ctx: Context, plans: list[PersonPlan], *, adopt_ids: bool = False) -> None:
    """PATCH /persons/batch for updates that are only field changes and additions; the rest go single."""
    for chunk in _chunks(plans, 1000):
        works = [p.work for p in chunk]
        items = []
        for plan in chunk:
            infobip_id = ctx.person_ids.get(plan.person.pk) or plan.person.infobip_id
            items.append({"query": person_query(infobip_id), "update": plan.body})
        try:
            result = ctx.call(
                works,
                f"PATCH /people/2/persons/batch [{len(chunk)}]{' (adopt)' if adopt_ids else ''}",
                lambda items=items: ctx.client.update_persons(items),
            )
        except InfobipError as exc:
            _batch_failed(works, exc)  # refused as a whole (not transient): the single path goes one by one
            continue
        failed = {str((r.get("query") or {}).get("identifier")) for r in result.get("results") or []}
        texts = [m.get("message", "") for r in result.get("results") or [] for m in r.get("errors") or []]
        if failed:
            ctx.ensure_from_texts(works, texts)
        for plan, item in zip(chunk, items, strict=True):
            if item["query"]["identifier"] in failed:
                plan.work.outcome = None  # single path
            else:
                plan.work.infobip_id = int(item["query"]["identifier"])
                ctx.person_ids[plan.person.pk] = plan.work.infobip_id
                plan.work.done()


def _delete_query(payload: dict[str, Any]) -> dict[str, Any] | None:
    """How to find a deleted person in Infobip: its Infobip id, else the identifier a create would have used."""
    if payload.get("infobipId"):
        return person_query(payload["infobipId"])
    identifiers = _identifier_candidates(
        payload.get("externalId"), payload.get("emails") or (), payload.get("phones") or ()
    )
    if not identifiers:
        return None
    return {"type": identifiers[0][0], "identifier": identifiers[0][1]}


def _persons_batch_delete(ctx: Context, plans: list[PersonPlan]) -> None:
    for chunk in _chunks(plans, 1000):
        works = [p.work for p in chunk]
        queries = [_delete_query(p.delete_payload) for p in chunk]
        try:
            result = ctx.call(
                works,
                f"DELETE /people/2/persons/batch [{len(chunk)}]",
                lambda queries=queries: ctx.client.delete_persons(queries),
            )
        except InfobipError as exc:
            _batch_failed(works, exc)
            continue
        refused = {
            (str((r.get("query") or {}).get("type")), str((r.get("query") or {}).get("identifier")))
            for r in result.get("results") or []
            if "no person matching" not in " ".join(m.get("message", "") for m in r.get("errors") or []).lower()
        }
        for plan, query in zip(chunk, queries, strict=True):
            if (query["type"], query["identifier"]) not in refused:
                plan.work.done()


def _batch_failed(works: list[Work], error: InfobipError) -> bool:
    """A whole batch call failed: a transient failure fails its works (the round is repeated later, and every
    batch converges when repeated); a refusal leaves them to the single calls. True if they were failed."""
    if not retryable(error):
        return False
    for work in works:
        work.fail(error, transient=True)
    return True


def _person_delete(ctx: Context, plan: PersonPlan) -> None:
    payload, work = plan.delete_payload, plan.work
    if payload.get("infobipId"):
        with contextlib.suppress(NotFound):
            ctx.call(
                work,
                f"DELETE /people/2/persons?type=ID&identifier={payload['infobipId']}",
                lambda: ctx.client.delete_person("ID", payload["infobipId"]),
            )
        return
    # Never confirmed in Infobip, but a create may have reached it (a lost response, a killed worker): look.
    identifiers = _identifier_candidates(
        payload.get("externalId"), payload.get("emails") or (), payload.get("phones") or ()
    )
    found = _find_by_identifiers(ctx, work, identifiers)
    if found is not None:
        with contextlib.suppress(NotFound):
            ctx.call(
                work,
                f"DELETE /people/2/persons?type=ID&identifier={found['id']}",
                lambda: ctx.client.delete_person("ID", found["id"]),
            )


def _company_memberships(ctx: Context, plans: list[PersonPlan]) -> None:
    """Join the current company / leave the old one: one call per company and direction (≤1000 persons)."""
    joins: dict[int, list[PersonPlan]] = defaultdict(list)
    leaves: dict[int, list[PersonPlan]] = defaultdict(list)
    for plan in plans:
        if plan.company_join and plan.person.company_id:
            joins[plan.person.company_id].append(plan)
        if plan.company_leave:
            leaves[plan.company_leave].append(plan)
    if not joins and not leaves:
        return
    companies = {
        c.pk: c
        for c in Company.objects.filter(realm=ctx.realm, pk__in=[*joins, *leaves]).only("pk", "name", "infobip_id")
    }
    for direction, groups in (("join", joins), ("leave", leaves)):
        for company_id, members in groups.items():
            company = companies.get(company_id)
            if company is None:
                continue  # deleted here: its delete removes the memberships in Infobip too
            selector = {"id": ctx.company_ids.get(company_id) or company.infobip_id}
            if not selector["id"]:
                for plan in members:
                    plan.work.fail(PushDeferred(f"Company {company.name!r} is not in Infobip yet."), transient=True)
                continue
            for chunk in _chunks(members, 1000):
                queries = [person_query(ctx.person_ids.get(p.person.pk) or p.person.infobip_id) for p in chunk]
                method = (
                    ctx.client.add_persons_to_company if direction == "join" else ctx.client.remove_persons_from_company
                )
                verb = "PATCH" if direction == "join" else "DELETE"
                try:
                    ctx.call(
                        [p.work for p in chunk],
                        f"{verb} /people/2/companies/persons?id={selector['id']} [{len(chunk)}]",
                        lambda method=method, queries=queries, selector=selector: method(queries, **selector),
                    )
                except NotFound as exc:
                    for plan in chunk:
                        plan.work.fail(
                            PushDeferred(f"Company {company.name!r} is not in Infobip: {exc}"), transient=True
                        )
                except InfobipError as exc:
                    for plan in chunk:
                        plan.work.fail(exc)


# ------------------------------------------------------------------------------------------------- merges


def push_merges(ctx: Context, works: list[Work]) -> None:
    for work in works:
        _settle(work, lambda work=work: _merge(ctx, work))


def _merge(ctx: Context, work: Work) -> None:
    payload = work.entries[-1].payload or {}
    record = MergeRecord.objects.filter(pk=int(work.entity_id)).first() if work.entity_id.isdigit() else None
    survivor_id = payload.get("survivor") or (record.survivor_id if record else None)
    survivor = (
        Person.objects.filter(pk=survivor_id)
        .select_related("company")
        .prefetch_related("tags", "phones", "emails")
        .first()
        if survivor_id
        else None
    )
    if survivor is None:
        return  # the survivor was deleted since: its delete removed it from Infobip
    survivor_infobip = ctx.person_ids.get(survivor.pk) or survivor.infobip_id
    absorbed_rows = {
        p.pk: p for p in Person.objects.filter(pk__in=[a.get("id") for a in payload.get("absorbed") or ()])
    }
    # 1. The absorbed profiles leave Infobip (their identifiers now belong to the survivor).
    for absorbed in payload.get("absorbed") or ():
        row = absorbed_rows.get(absorbed.get("id"))
        infobip_id = absorbed.get("infobipId") or (row.infobip_id if row else None)
        identifiers = ([("ID", str(infobip_id))] if infobip_id else []) + _identifier_candidates(
            absorbed.get("externalId"), absorbed.get("emails") or (), absorbed.get("phones") or ()
        )
        for type_, identifier in identifiers:
            found = ctx.call(
                work,
                f"GET /people/2/persons?type={type_}&identifier={identifier} (absorbed)",
                lambda type_=type_, identifier=identifier: ctx.client.find_person(type_, identifier),
            )
            if found is None or (survivor_infobip and int(found["id"]) == int(survivor_infobip)):
                continue
            with contextlib.suppress(NotFound):
                ctx.call(
                    work,
                    f"DELETE /people/2/persons?type=ID&identifier={found['id']} (absorbed)",
                    lambda found=found: ctx.client.delete_person("ID", found["id"]),
                )
    # 2. The survivor is exactly our merge result.
    body = person_as_infobip(survivor)
    plan = PersonPlan(work, survivor, "create", body=body, full=True, company_join=survivor.company_id is not None)
    if survivor_infobip:
        try:
            replaced = ctx.call(
                work,
                f"PUT /people/2/persons?type=ID&identifier={survivor_infobip} (survivor)",
                lambda: with_dependencies(ctx, work, lambda: ctx.client.replace_person("ID", survivor_infobip, body)),
            )
            work.infobip_id = int(survivor_infobip)
            work.modified_at = (replaced or {}).get("modifiedAt")
            ctx.person_ids[survivor.pk] = work.infobip_id
        except NotFound:
            survivor_infobip = None
    if not survivor_infobip:
        _person_create(ctx, plan)
        survivor_infobip = work.infobip_id
    _company_memberships(ctx, [plan])
    if work.outcome not in (None, Outcome.DONE):
        return
    # 3. Their events, which Infobip dropped with them, go to the survivor again (same eventIds).
    event_ids = [e for a in payload.get("absorbed") or () for e in a.get("events") or ()]
    events = list(PersonEvent.objects.filter(pk__in=event_ids).select_related("definition"))
    _send_events(ctx, [(work, event, ("ID", str(survivor_infobip))) for event in events], shared=work)


# ------------------------------------------------------------------------------------------------- events


def push_events(ctx: Context, works: list[Work]) -> None:
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    events = {
        e.pk: e for e in PersonEvent.objects.filter(realm=ctx.realm, pk__in=ids).select_related("definition", "person")
    }
    waiting = _persons_waiting(ctx, [e.person_id for e in events.values()])
    sendable = []
    for work in works:
        event = events.get(int(work.entity_id)) if work.entity_id.isdigit() else None
        if event is None:
            work.done()  # deleted with its person: nothing to send
            continue
        person = event.person
        infobip_id = ctx.person_ids.get(person.pk) or person.infobip_id
        if infobip_id:
            sendable.append((work, event, ("ID", str(infobip_id))))
            continue
        state = waiting.get(person.pk)
        if person.pk in ctx.failed_persons or state == OutboxStatus.PENDING:
            work.defer(f"Waiting for person {person.pk} to reach Infobip.")
        elif state == OutboxStatus.DEAD:
            work.fail(
                PushRefused(f"Person {person.pk} could not be pushed to Infobip (see its dead letter)."),
                transient=False,
            )
        else:
            identifier = _person_identifier(person)
            if identifier is None:
                work.fail(PushRefused(f"Person {person.pk} is not in Infobip and has no identifier."), transient=False)
            else:
                sendable.append((work, event, identifier))
    _send_events(ctx, sendable)


def _persons_waiting(ctx: Context, person_ids: list[int]) -> dict[int, str]:
    """Persons with undelivered rows: pending (wait for them) or dead (give up)."""
    rows = (
        OutboxEntry.objects.filter(
            realm=ctx.realm,
            entity=OutboxEntity.PERSON,
            entity_id__in=[str(i) for i in set(person_ids)],
            status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
        )
        .values_list("entity_id", "status")
        .order_by()
    )
    out: dict[int, str] = {}
    for entity_id, status in rows:
        if out.get(int(entity_id)) != OutboxStatus.DEAD:
            out[int(entity_id)] = status
    return out


def _person_identifier(person: Person) -> tuple[str, str] | None:
    if person.external_id:
        return ("EXTERNAL_ID", person.external_id)
    email = person.emails.values_list("address", flat=True).first()
    if email:
        return ("EMAIL", email)
    phone = person.phones.values_list("number", flat=True).first()
    return ("PHONE", phone) if phone else None


def _occurred(event: PersonEvent) -> str:
    when = event.occurred_time.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _send_events(
    ctx: Context, items: list[tuple[Work, PersonEvent, tuple[str, str]]], *, shared: Work | None = None
) -> None:
    """Batch (≤5000, all or nothing) when there are enough recent ones; single sends for the rest.

    ``shared``: the events belong to one merge work, which fails as soon as one event cannot be sent and is
    settled by its caller otherwise; without it every event has its own work, settled here."""
    recent_limit = timezone.now() - EVENT_BATCH_MAX_AGE
    singles = items
    if ctx.batching(len(items)):
        singles = [i for i in items if i[1].occurred_time < recent_limit]
        batchable = [i for i in items if i[1].occurred_time >= recent_limit]
        for chunk in _chunks(batchable, EVENT_BATCH):
            works = list({id(w): w for w, _, _ in chunk}.values())
            for definition in {e.definition.definition_id: e.definition for _, e, _ in chunk}.values():
                with contextlib.suppress(InfobipError):  # if it fails, the single sends say what is wrong
                    ctx.ensure_event_definition(works, definition)
            payload = [
                {
                    "definitionId": event.definition.definition_id,
                    "occurredTime": _occurred(event),
                    "identifier": {"id": identifier[1], "type": identifier[0]},
                    "eventId": event.event_id,
                    "properties": event.properties or {},
                }
                for _, event, identifier in chunk
            ]
            try:
                ctx.call(
                    works,
                    f"POST /people/3/events [{len(chunk)}]",
                    lambda payload=payload: ctx.client.send_events(payload),
                    ok_status=202,
                )
            except InfobipError as exc:
                if retryable(exc):
                    for work in works:
                        work.fail(exc)
                else:
                    singles = singles + chunk  # all or nothing: the single sends find the one Infobip refuses
                continue
            if shared is None:
                for work in works:
                    work.done()
    for work, event, identifier in singles:
        if shared is None:
            _settle(
                work, lambda work=work, event=event, identifier=identifier: _send_event(ctx, work, event, identifier)
            )
            continue
        if shared.outcome not in (None, Outcome.DONE):
            return
        try:
            _send_event(ctx, shared, event, identifier)
        except InfobipError as exc:
            shared.fail(exc)
            return


def _send_event(ctx: Context, work: Work, event: PersonEvent, identifier: tuple[str, str]) -> None:
    definition = event.definition

    def send() -> Any:
        return ctx.client.send_event(
            definition.definition_id,
            identifier[1],
            identifier_type=identifier[0],
            properties=event.properties or {},
            event_id=event.event_id,
        )

    request = f"POST /peopleevents/2/persons/{identifier[1]}/definitions/{definition.definition_id}/events"
    try:
        ctx.call(work, request, send, ok_status=201)
    except NotFound as exc:
        if "definition" not in exc.message.lower():
            raise
        ctx.ensure_event_definition(work, definition)
        ctx.call(work, request, send, ok_status=201)


HANDLERS: dict[str, Callable[[Context, list[Work]], None]] = {
    OutboxEntity.TAG: push_tags,
    OutboxEntity.CUSTOM_ATTRIBUTE: push_custom_attributes,
    OutboxEntity.EVENT_DEFINITION: push_event_definitions,
    OutboxEntity.COMPANY: push_companies,
    OutboxEntity.PERSON: push_persons,
    OutboxEntity.MERGE: push_merges,
    OutboxEntity.EVENT: push_events,
}


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------------------------------------ record


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
                obj.infobip_modified_at = _parse_infobip_time(work.modified_at)
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
            # Another local row took one of these Infobip ids meanwhile (a race with the sync): save one by one.
            for obj in to_save:
                try:
                    with transaction.atomic():
                        model.objects.filter(pk=obj.pk).update(**{f: getattr(obj, f) for f in fields})
                except IntegrityError:
                    model.objects.filter(pk=obj.pk).update(
                        sync_status=SyncStatus.FAILED,
                        sync_error=f"Infobip id {obj.infobip_id} already belongs to another person here.",
                    )


def _survivor_pk(work: Work) -> int | None:
    payload = work.entries[-1].payload or {}
    return payload.get("survivor")


def _parse_infobip_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------------- drain


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
    keep_days = float(_setting("INFOBIP_OUTBOX_KEEP_DAYS", 30) if keep_days is None else keep_days)
    before = timezone.now() - dt.timedelta(days=keep_days)
    ids = list(
        OutboxEntry.objects.filter(
            status__in=[OutboxStatus.DONE, OutboxStatus.SKIPPED], processed_at__lt=before
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
    """Claim, deliver and record rounds until nothing is due (or the time/round budget is spent)."""
    worker = new_worker_id()
    report = DrainReport()
    started = time.monotonic()
    realm_ids = list(realm_ids) if realm_ids is not None else None
    while True:
        if max_rounds is not None and report.rounds >= max_rounds:
            report.more = True
            break
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            report.more = True
            break
        works = claim(worker=worker, limit=claim_size, realm_ids=realm_ids)
        if not works:
            break
        deliver(works, worker=worker)
        counts = record(works, worker=worker)
        report.rounds += 1
        report.entries += sum(len(w.entries) for w in works)
        for outcome, n in counts.items():
            report.outcomes[outcome] += n
    report.seconds = time.monotonic() - started
    return report


__all__ = [
    "DrainReport",
    "backoff_seconds",
    "claim",
    "deliver",
    "drain",
    "record",
]
