"""seed_demo's bulk seeding: truthful sync state, and statistics a new database lacks."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.db import connection

from companies.models import Company
from core.bulk import statistics_refresh
from infobip.models import OutboxEntry
from people.models import Person, SyncStatus
from people.seeding import SEED_TABLES, seed_persons


def test_seeded_persons_and_companies_are_not_marked_synced_in_a_cdp_realm(cdp_realm):
    """Nothing reached Infobip: only an observed Infobip answer may say "in sync"."""
    call_command("seed_demo", realm=cdp_realm.name, persons=30, identities="none", stdout=io.StringIO())
    persons = Person.objects.filter(realm=cdp_realm)
    assert persons.count() == 30
    assert set(persons.values_list("sync_status", flat=True)) == {SyncStatus.LOCAL}
    assert not persons.filter(infobip_id__isnull=False).exists()
    companies = Company.objects.filter(realm=cdp_realm)
    assert companies.exists()
    assert set(companies.values_list("sync_status", flat=True)) == {SyncStatus.LOCAL}
    assert not OutboxEntry.objects.exists()


def test_seeding_a_new_database_leaves_its_tables_analyzed(realm):
    def reltuples() -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [list(SEED_TABLES)])
            return dict(cursor.fetchall())

    seed_persons(realm=realm, persons=500, identities="all", events_per_person=1, batch=100)
    after = reltuples()
    assert all(after[table] >= 0 for table in SEED_TABLES)  # -1: never analyzed
    assert after["people_person"] > 0
    assert statistics_refresh(SEED_TABLES) == []  # none has grown past the factor since its last ANALYZE
