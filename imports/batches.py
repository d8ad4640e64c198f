"""Running an import: batches of whole duplicate groups, one transaction each (the batch's persons, contacts,
tags, merges, outbox rows, its ``ImportBatch`` row and the job's counters commit together), resumable, on
every core.

Batches are independent by construction: rows sharing a phone, email or externalId are one group, and a group
is never split, so two batches never create the same person. What two batches can share is an *existing*
person that groups of both match; a batch that matches a person an earlier running batch also matches waits
for that one to commit and looks its keys up again (``Lanes.gate``), so such a person gets the rows in file
order, as one worker would apply them. Workers take batches in file order; several run at once on their own
connections (``IMPORT_APPLY_WORKERS``, at most the cores). A run inside a transaction (a test's) applies on
its own connection, one batch after the other: other connections could not see its staged rows.

Invariants: one runner per job (``RUN_LOCK``, imports.services) and one job per realm at a time
(``REALM_LOCK``, held by the run: two imports never race for the same new phone); a committed batch is never
applied again, also when batches committed out of order before a crash (``plan_batches`` skips every
committed batch's groups).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import psycopg.errors
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from core.bulk import copy_rows, statistics_refresh
from imports import apply
from imports.analysis import ISSUE_COLUMNS, staged_delete
from imports.apply import RunContext
from imports.grouping import row_ranges
from imports.models import (
    ImportBatch,
    ImportJob,
    ImportStatus,
)
from people.bulk import PERSON_TABLES

log = logging.getLogger(__name__)
APPLY_TABLES = (*PERSON_TABLES, "infobip_outboxentry", "imports_importissue", "imports_importbatch")
RUN_LOCK, REALM_LOCK = 81_002, 81_001  # advisory lock namespaces: one runner per job, one running job per realm
REALM_WAIT_SECONDS = 1.0  # how often a job waiting for another import of its realm looks for a cancel
MSG_EARLIER_FAILED = "batch {number} waited for batch {earlier}, which failed"


def batch_rows() -> int:
    return settings.IMPORT_BATCH_ROWS


@dataclass
class Batch:
    number: int
    grp_from: int
    grp_to: int
    rows: int


def plan_batches(job: ImportJob) -> list[Batch]:
    """The groups no committed batch holds, in order of their first row, about `batch_rows()` rows a batch.

    A batch never spans a committed batch's groups (it is applied by ``grp BETWEEN grp_from AND grp_to``)."""
    committed = list(
        ImportBatch.objects.filter(job=job).order_by("grp_from").values_list("grp_from", "grp_to", "number")
    )
    done = [(start, end) for start, end, _ in committed]
    starts = [start for start, _ in done]
    first_number = max((number for _, _, number in committed), default=0) + 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT grp, count(*) FROM imports_importrow WHERE job_id = %s GROUP BY grp ORDER BY grp", [job.pk]
        )
        sizes = cursor.fetchall()
    size = batch_rows()
    batches: list[Batch] = []
    current: Batch | None = None
    current_gap = -1
    for grp, count in sizes:
        gap = bisect.bisect_right(starts, grp)  # committed batches starting at or before this group
        if gap and grp <= done[gap - 1][1]:
            continue  # inside a committed batch
        if current is None or current.rows >= size or gap != current_gap:
            current = Batch(first_number + len(batches), grp, grp, 0)
            batches.append(current)
            current_gap = gap
        current.grp_to = grp
        current.rows += count
    return batches


def apply_workers(batches: list[Batch]) -> int:
    if connection.in_atomic_block:  # the caller's transaction: other connections would not see its rows
        return 1
    cores = len(os.sched_getaffinity(0))
    return max(1, min(settings.IMPORT_APPLY_WORKERS, cores, len(batches)))


class EarlierBatchFailed(Exception):
    pass


class Lanes:
    """The batches of one run and the ones being applied: workers take them in file order; a batch that
    matches an existing person an earlier running batch matches too waits for it (``gate``)."""

    def __init__(self, job: ImportJob, batches: list[Batch]):
        self.job = job
        self._cond = threading.Condition()
        self._queue = deque(batches)
        self._matched: dict[int, set[int] | None] = {}  # running batch → existing persons it matches
        self._failed: set[int] = set()
        self.errors: dict[int, BaseException] = {}
        self.cancelled = False
        self._started, self._rows = time.monotonic(), 0

    def pending(self) -> list[Batch]:
        with self._cond:
            return list(self._queue)

    def take(self) -> Batch | None:
        with self._cond:
            if self.errors or self.cancelled or not self._queue:
                return None
            batch = self._queue.popleft()
            self._matched[batch.number] = None
            return batch

    def gate(self, number: int, persons: set[int]) -> bool:
        """Batch `number` knows the existing persons it matches and has locked none of them yet. Returns once no
        earlier running batch matches any of them; True when it waited (its keys are looked up again: the
        earlier batch may have merged them)."""
        waited = False
        with self._cond:
            self._matched[number] = persons
            self._cond.notify_all()
            if not persons:
                return False
            while True:
                earlier = [n for n in self._matched if n < number]
                if not any(self._matched[n] is None or self._matched[n] & persons for n in earlier):
                    break
                waited = True
                self._cond.wait()
            failed = min((n for n in self._failed if n < number), default=None)
            if waited and failed is not None:
                raise EarlierBatchFailed(MSG_EARLIER_FAILED.format(number=number, earlier=failed))
        return waited

    def done(self, batch: Batch, rows: int, error: BaseException | None = None) -> None:
        with self._cond:
            self._matched.pop(batch.number, None)
            if error is not None:
                self._failed.add(batch.number)
                self.errors[batch.number] = error
            self._rows += rows
            rate = round(self._rows / max(time.monotonic() - self._started, 1e-6), 1)
            self._cond.notify_all()
        if error is None:
            ImportJob.objects.filter(pk=self.job.pk).update(rate=rate)

    def cancel(self, batch: Batch) -> None:
        with self._cond:
            self.cancelled = True
        self.done(batch, 0)

    def first_error(self) -> BaseException | None:
        return self.errors[min(self.errors)] if self.errors else None


def _work(job: ImportJob, lanes: Lanes) -> None:
    """One worker: batches until none is left, the job is cancelled or a batch failed."""
    context = RunContext.for_job(job)  # its own company cache: a rolled-back batch's ids never leak
    while (batch := lanes.take()) is not None:
        if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
            lanes.cancel(batch)
            return
        context.gate = lambda persons, number=batch.number: lanes.gate(number, persons)
        try:
            rows = run_batch(job, context, batch)
            statistics_refresh(APPLY_TABLES)  # after the first batch into a new database, then as the tables grow
        except Exception as exc:
            log.exception("import %s batch %s failed", job.pk, batch.number)
            lanes.done(batch, 0, exc)
            return
        lanes.done(batch, rows)


def _worker_thread(job: ImportJob, lanes: Lanes) -> None:
    try:
        _work(job, lanes)
    finally:
        connections.close_all()  # this thread's own connection


def run_job(job: ImportJob) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED):
            return job
        if job.status == ImportStatus.FAILED and not job.strategy:
            return job
        job.status = ImportStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.attempts += 1
        job.error = ""
        job.waiting = False  # a run that died while it waited left it set
        job.save(update_fields=["status", "started_at", "attempts", "error", "waiting"])
        if job.invalid_count == 0 and job.rows_invalid:
            ImportJob.objects.filter(pk=job.pk).update(invalid_count=job.rows_invalid)
    if not _realm_lock(job):
        return finish(job, ImportStatus.CANCELLED)
    try:
        lanes = Lanes(job, plan_batches(job))
        extra = [
            threading.Thread(target=_worker_thread, args=(job, lanes), name=f"import-{job.pk}-{i}", daemon=True)
            for i in range(1, apply_workers(lanes.pending()))
        ]
        for thread in extra:
            thread.start()
        try:
            _work(job, lanes)
        finally:
            for thread in extra:
                thread.join()
        error = lanes.first_error()
    except Exception as exc:  # planning itself failed
        log.exception("import %s failed", job.pk)
        error = exc
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [REALM_LOCK, job.realm_id])
    if error is not None:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    return finish(job, ImportStatus.CANCELLED if lanes.cancelled else ImportStatus.SUCCEEDED)


def _realm_lock(job: ImportJob) -> bool:
    """Wait for any other import of the realm to finish (a session lock, held until this run ends); False
    when the job was cancelled while it waited. Meanwhile the job says it waits (its page and the API name the
    import it waits for)."""
    waiting = False
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [REALM_LOCK, job.realm_id])
            acquired = cursor.fetchone()[0]
        if acquired or ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
            if waiting:
                ImportJob.objects.filter(pk=job.pk).update(waiting=False)
            return acquired
        if not waiting:
            ImportJob.objects.filter(pk=job.pk).update(waiting=True)
            waiting = True
        time.sleep(REALM_WAIT_SECONDS)


def finish(job: ImportJob, status: str) -> ImportJob:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
        staged_delete(job.pk)
    job.refresh_from_db()
    return job


def _transient(exc: Exception) -> bool:
    """A unique violation (someone added the same phone meanwhile) or a deadlock PostgreSQL broke: retried."""
    return isinstance(exc, IntegrityError) or isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)


def run_batch(job: ImportJob, context: RunContext, batch: Batch, *, attempts: int = 3) -> int:
    """One batch in one transaction; a concurrent change (``_transient``) retries it."""
    for attempt in range(1, attempts + 1):
        context.companies.clear()  # ids cached by a rolled-back attempt may not exist
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT row, grp, data FROM imports_importrow WHERE job_id = %s AND grp BETWEEN %s AND %s "
                        "ORDER BY grp, row",
                        [job.pk, batch.grp_from, batch.grp_to],
                    )
                    # The staged row is JSON text: decoded here, once.
                    staged = [(number, grp, json.loads(data)) for number, grp, data in cursor.fetchall()]
                outcome = apply.apply_batch(context, staged)
                copy_rows("imports_importissue", ISSUE_COLUMNS, outcome.issue_rows(job.pk))
                counts = outcome.counts
                ImportBatch.objects.create(
                    job=job,
                    number=batch.number,
                    grp_from=batch.grp_from,
                    grp_to=batch.grp_to,
                    rows=row_ranges(number for number, _, _ in staged),
                    row_count=len(staged),
                    counts=counts,
                )
                ImportJob.objects.filter(pk=job.pk).update(
                    rows_done=F("rows_done") + len(staged),
                    created_count=F("created_count") + counts["created"],
                    updated_count=F("updated_count") + counts["updated"],
                    unchanged_count=F("unchanged_count") + counts["unchanged"],
                    merged_count=F("merged_count") + counts["merged"],
                    discarded_count=F("discarded_count") + counts["discarded"],
                    invalid_count=F("invalid_count") + counts["invalid"],
                    persons_merged=F("persons_merged") + counts["persons_merged"],
                )
            return len(staged)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not _transient(exc):
                raise
            log.warning("import %s batch %s hit a concurrent change; retrying", job.pk, batch.number)
    return 0
