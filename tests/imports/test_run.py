"""The first import of a new realm into a brand-new database: every batch costs what the first one did.

A new database has no planner statistics; the contact tables' foreign-key checks then scan the person table
instead of using its index, and each batch reads more rows than the one before (issue 11). The import runs
``core.bulk.statistics_refresh`` after each batch; these tests count, per batch, the rows PostgreSQL read by
sequential scans and the statements sent, and assert they do not grow with the table. Not timed.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from imports import batches
from imports.models import ImportBatch, ImportStatus
from people.bulk import PERSON_TABLES
from people.models import Person
from tests.imports.helpers import analyze, csv_bytes, run, upload

pytestmark = pytest.mark.django_db

ROWS, BATCH = 3000, 500
HEADER = ["First name", "Last name", "Phone", "Email", "City", "Tags"]


def _rows() -> list[list[str]]:
    rows = [HEADER]
    for i in range(ROWS):
        j = i - 7 if i % 10 == 9 else i  # every tenth row repeats an earlier row's phone and email
        rows.append([f"Name{i}", "Doe", f"+38591{j:07d}", f"p{j}@example.com", "Zagreb", f"T{i % 5}"])
    return rows


def _forget_statistics() -> None:
    """Make the tables look as a new database's do: empty files, analyzed while empty (as autovacuum or a setup
    step leaves them), the worst case for the planner. Rolled back with the test."""
    tables = [*PERSON_TABLES, "imports_importrow", "imports_importissue", "infobip_outboxentry"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _scanned() -> int:
    """Sequential scans of the person tables so far in this transaction (this backend's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)",
            [list(PERSON_TABLES)],
        )
        return int(cursor.fetchone()[0])


def _import_per_batch(realm, settings, monkeypatch) -> tuple[list[int], list[int]]:
    """Import the file in batches; returns per batch (sequential scans of the person tables, statements sent)."""
    settings.IMPORT_BATCH_ROWS = BATCH
    _forget_statistics()
    assert not Person.objects.exists()
    job = analyze(upload(realm, "people.csv", csv_bytes(_rows())))
    scanned, statements, plans = [], [], []
    real = batches.run_batch

    def measured(job, context, batch, **kwargs):
        count = []
        before = _scanned()
        with connection.execute_wrapper(lambda execute, *args: count.append(1) or execute(*args)):
            done = real(job, context, batch, **kwargs)
        scanned.append(_scanned() - before)
        statements.append(len(count))
        plans.append(_fk_check_plan())
        return done

    monkeypatch.setattr(batches, "run_batch", measured)
    job = run(job, "resolve")
    assert job.status == ImportStatus.SUCCEEDED
    assert ImportBatch.objects.filter(job=job).count() == len(scanned) >= 5
    assert Person.objects.filter(realm=realm).count() == ROWS - ROWS // 10
    # The check a contact's foreign key makes for every row (as PostgreSQL's RI trigger words it) is an index
    # lookup once the table has grown past its first batch (a few hundred rows may be read whole): the planner
    # knows the person table is not empty.
    assert set(plans[1:]) <= {"Index Scan", "Index Only Scan"}, plans
    return scanned, statements


def _fk_check_plan() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM ONLY people_person x WHERE id OPERATOR(pg_catalog.=) %s "
            "FOR KEY SHARE OF x",
            [Person.objects.order_by("-pk").values_list("pk", flat=True).first()],
        )
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    node = plan[0]["Plan"]
    while node.get("Plans") and node["Node Type"] in ("LockRows", "Result"):
        node = node["Plans"][0]
    return node["Node Type"]


def test_a_first_import_into_a_new_database_does_not_slow_down_batch_after_batch(realm, settings, monkeypatch):
    scanned, statements = _import_per_batch(realm, settings, monkeypatch)
    quarter = max(len(scanned) // 4, 1)
    # The later batches scan the person tables no more often than the second one did (the first one fills
    # empty tables): a few statement-level scans at most, never one per row, whatever the tables hold by then.
    assert max(scanned[-quarter:]) <= max(scanned[1], 2), scanned
    assert max(scanned) < BATCH // 10, scanned
    # And send the same statements: nothing per row, nothing that depends on what is already there.
    assert max(statements[1:]) <= min(statements[1:]) + 2, statements
