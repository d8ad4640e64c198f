"""What the outbox engine and its handlers share: a claimed entity's work, its outcome, the calls made for it
and the per-realm context (client, lease, Infobip ids learned, dependencies created on the way)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from infobip.client import (
    AlreadyExists,
    InfobipClient,
    InfobipError,
    RateLimited,
    ServerError,
    Timeout,
    Unreachable,
)
from infobip.client import ValidationError as InfobipValidationError
from infobip.client.transport import call_deadline
from infobip.models import OutboxEntry, OutboxStatus
from people.models import (
    CustomAttributeDefinition,
    EventDefinition,
)

logger = logging.getLogger(__name__)

DEFER_SECONDS = 5.0
MISSING_TAG_RE = re.compile(r"Tag (.+?) does not exist")
MISSING_ATTRIBUTE_RE = re.compile(r"Custom attribute (.+?) does not exist")


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


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
    unlink: list[int] = field(default_factory=list)  # local persons whose link to infobip_id was stale

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

    def postpone(self, error: PushDeferred) -> None:
        """Not now: a change waiting for another outbox row (PushWaiting) costs no attempt; other deferrals retry."""
        if isinstance(error, PushWaiting):
            self.defer(str(error))
        else:
            self.fail(error, transient=True)

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


class PushWaiting(PushDeferred):
    """What this change needs is on its way in another pending outbox row (a merge's push deleting the absorbed
    profile that still holds an identifier): it waits, with no attempt counted, so it cannot die of attempts while
    that row waits its turn in a backlog."""


class BudgetSpent(Exception):
    """The task's time budget is spent: no further call is made this round (the rest is sent by the next drain)."""


class PushRefused(Exception):
    """The change cannot be delivered as it is (no retry helps); the message says what staff should do."""


def renew_lease(worker: str, ids: list[int]) -> None:
    lease = float(setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
    OutboxEntry.objects.filter(id__in=ids, locked_by=worker, status=OutboxStatus.PENDING).update(
        locked_until=timezone.now() + dt.timedelta(seconds=lease)
    )


class Context:
    """One realm's share of a round: its client, the works, Infobip ids learned so far, the lease."""

    def __init__(
        self, realm: Any, client: InfobipClient, works: list[Work], worker: str, deadline: float | None = None
    ) -> None:
        self.realm = realm
        self.deadline = deadline  # time.monotonic() past which no call is made (BudgetSpent)
        self.client = client
        self.works = works
        self.worker = worker
        self.person_ids: dict[int, int] = {}  # local person pk -> Infobip id learned this round
        self.company_ids: dict[int, int] = {}
        self.failed_persons: set[int] = set()
        self._lease_ids = [e.id for w in works for e in w.entries]
        self._renewed = time.monotonic()
        self._lease = float(setting("INFOBIP_OUTBOX_LEASE_SECONDS", 300))
        self._batch_min = int(setting("INFOBIP_OUTBOX_BATCH_MIN", 5))
        self.ensured_tags: set[str] = set()
        self.ensured_attributes: set[str] = set()
        self.ensured_definitions: set[str] = set()

    def batching(self, count: int) -> bool:
        return count >= self._batch_min

    def keep_lease(self) -> None:
        if time.monotonic() - self._renewed > self._lease / 3:
            renew_lease(self.worker, self._lease_ids)
            self._renewed = time.monotonic()

    def call(self, works: Work | list[Work], request: str, fn: Callable[[], Any], *, ok_status: int = 200) -> Any:
        """Run one client call and note it on every work it serves (an OutboxAttempt each)."""
        works = works if isinstance(works, list) else [works]
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise BudgetSpent(f"the time budget was spent before {request[:80]}")
        self.keep_lease()
        started, clock = timezone.now(), time.monotonic()
        token = call_deadline.set(self.deadline)  # the client's retry waits count against the budget too
        try:
            result = fn()
        except InfobipError as exc:
            call = Call(request[:500], started, _ms(clock), exc.status, False, describe(exc)[:4000])
            for work in works:
                work.calls.append(call)
            raise
        finally:
            call_deadline.reset(token)
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
        for name in sorted(tags - self.ensured_tags):
            self.call(works, f"POST /people/2/tags {name}", lambda name=name: self.client.ensure_tag(name))
            self.ensured_tags.add(name)
            made = True
        if attributes - self.ensured_attributes:
            definitions = {
                d.name: d for d in CustomAttributeDefinition.objects.filter(realm=self.realm, name__in=attributes)
            }
            for name in sorted(attributes - self.ensured_attributes):
                definition = definitions.get(name)
                if definition is None:
                    continue
                self.call(
                    works,
                    f"POST /people/2/customAttributes {name}",
                    lambda d=definition: ensure_custom_attribute(self.client, d),
                )
                self.ensured_attributes.add(name)
                made = True
        return made

    def ensure_event_definition(self, works: Work | list[Work], definition: EventDefinition) -> None:
        if definition.definition_id in self.ensured_definitions:
            return
        self.call(
            works,
            f"POST /peopleevents/2/definitions {definition.definition_id}",
            lambda: upsert_event_definition(self.client, definition),
        )
        self.ensured_definitions.add(definition.definition_id)


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


def ensure_custom_attribute(client: InfobipClient, definition: CustomAttributeDefinition) -> Any:
    try:
        return client.create_custom_attribute(
            definition.name, definition.data_type, object_schema=definition.object_schema or None
        )
    except AlreadyExists:
        return None


def event_definition_body(definition: EventDefinition) -> dict[str, Any]:
    body = {"definitionId": definition.definition_id, "title": definition.title, "fields": list(definition.fields)}
    if definition.description:
        body["description"] = definition.description
    return body


def upsert_event_definition(client: InfobipClient, definition: EventDefinition) -> Any:
    body = event_definition_body(definition)
    try:
        return client.create_event_definition(body)
    except AlreadyExists:
        changes = {k: v for k, v in body.items() if k != "definitionId"}
        return client.update_event_definition(definition.definition_id, changes)


def settle(work: Work, fn: Callable[[], None]) -> None:
    """Run one work's delivery, turning every failure into its outcome."""
    try:
        fn()
    except PushDeferred as exc:
        work.postpone(exc)
    except PushRefused as exc:
        work.fail(exc, transient=False)
    except InfobipError as exc:
        work.fail(exc)
    else:
        work.done()


def batch_failed(works: list[Work], error: InfobipError) -> bool:
    """A whole batch call failed: a transient failure fails its works (the round is repeated later, and every
    batch converges when repeated); a refusal leaves them to the single calls. True if they were failed."""
    if not retryable(error):
        return False
    for work in works:
        work.fail(error, transient=True)
    return True


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
