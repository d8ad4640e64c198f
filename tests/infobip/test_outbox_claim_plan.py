"""The outbox claim on a brand-new database: each round reads what it claims, not the whole backlog (issue 11).

A backlog written into a new database (an import's or a seed's outbox rows) has no planner statistics; the heads
query then fetched every pending row, checked its predecessors and sorted them all to keep ``limit``, so each
drain round cost the whole backlog. With the table's statistics refreshed before the claim and the pending rows
indexed in id order, the plan walks that index and stops at the limit, whatever the delivered rows before them.
These tests read the plan PostgreSQL ran (EXPLAIN ANALYZE); not timed.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from infobip.models import OutboxEntry, OutboxStatus
from infobip.outbox import engine
from tests.identities.factories import RealmFactory

pytestmark = pytest.mark.django_db

LIMIT = 100


def _forget_statistics() -> None:
    """The outbox as a new database leaves it: empty, analyzed while empty. Rolled back with the test."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE infobip_outboxentry CASCADE")
        cursor.execute("ANALYZE infobip_outboxentry")


def _backlog(realm, *, done: int, pending: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO infobip_outboxentry (realm_id, entity, entity_id, op, payload, status, attempts,"
            " next_attempt_at, last_error, created, processed_at, locked_by)"
            " SELECT %s, 'person', g::text, 'create', '{}', CASE WHEN g <= %s THEN 'done' ELSE 'pending' END, 0,"
            " now() - interval '1 minute', '', now(), CASE WHEN g <= %s THEN now() END, ''"
            " FROM generate_series(1, %s) g",
            [realm.pk, done, done, done + pending],
        )


def _plan_nodes(sql: str, params: dict | None = None) -> list[dict]:
    """Every node of the plan PostgreSQL runs for ``sql`` now (EXPLAIN ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        raw = cursor.fetchone()[0]
    nodes, todo = [], [(json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


def _heads_plan() -> list[dict]:
    """The plan nodes of the claim's heads query as it runs now (nothing taken yet)."""
    sql = engine._HEADS_SQL.format(realm_filter="", head=engine._HEAD_CONDITIONS)
    return _plan_nodes(sql, {"limit": LIMIT, "taken": []})


def _outer_scan(nodes: list[dict]) -> dict:
    return next(n for n in nodes if n.get("Relation Name") == "infobip_outboxentry" and n.get("Alias") == "o")


@pytest.mark.parametrize(("done", "pending"), [(0, 4000), (6000, 4000)])
def test_a_claim_on_a_new_database_reads_its_limit_not_the_backlog(cdp_realm, done, pending):
    _forget_statistics()
    _backlog(cdp_realm, done=done, pending=pending)

    works = engine.claim(worker="bench11", limit=LIMIT)  # refreshes the statistics a new table lacks

    assert len(works) == LIMIT
    assert [int(w.entity_id) for w in works] == list(range(done + 1, done + LIMIT + 1))  # oldest heads first
    nodes = _heads_plan()
    assert not [n for n in nodes if n["Node Type"] == "Sort"]  # nothing sorted: the rows come in id order
    scan = _outer_scan(nodes)
    # The next LIMIT pending heads past the claimed ones: neither the backlog nor the delivered rows are read.
    assert scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0) <= 2 * LIMIT + 1, scan
    assert OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count() == pending


def test_the_realms_with_due_rows_are_found_without_reading_the_backlog(cdp_realm):
    quiet = RealmFactory(name="Quiet", cdp_enabled=True)  # a realm with nothing to send
    _forget_statistics()
    _backlog(cdp_realm, done=3000, pending=4000)

    engine.claim(worker="bench11", limit=LIMIT)  # refreshes the statistics, as every round does
    nodes = _plan_nodes(engine._DUE_REALMS_SQL.format(realm_filter=""))

    outbox = [n for n in nodes if n.get("Relation Name") == "infobip_outboxentry"]
    assert outbox, nodes
    # At most one outbox row per realm probed, whatever the backlog: not the 4,000 pending nor the 3,000 done.
    read = sum((n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"] for n in outbox)
    assert read <= 2, outbox
    with connection.cursor() as cursor:
        cursor.execute(engine._DUE_REALMS_SQL.format(realm_filter=""))
        due = {row[0] for row in cursor.fetchall()}
    assert cdp_realm.pk in due
    assert quiet.pk not in due
