"""Per-batch times of the bulk paths on a brand-new database (a program, not a test).

    DEVELOPMENT=true .venv/bin/python bench/bulk_paths.py                     # 300,000 persons
    DEVELOPMENT=true .venv/bin/python bench/bulk_paths.py --persons 50000 --batch 5000

Issue 11: no bulk path may depend on statistics a new database does not have. This creates its own database
(`cdpadmin_bench_bulk`, or BENCH_BULK_DB, on the server of DATABASE_URL; migrated, never analyzed), then:

1. seed_demo's writer (people.seeding.seed_persons, COPY-based) into it in batches of --batch persons;
2. the duplicate rescan (people.duplicates.duplicates_rescan) of the realm after half the persons and again
   after all of them: its cost per person at twice the size (one transaction, no batches to time).

For the seeding it prints every batch's wall time and CPU time (this process + its PostgreSQL backend, read from
/proc: the machine's load inflates wall time, not CPU) and the ratio of the last quarter's batches to the
first quarter's (aim: at most 1.5x). The import has its own (bench/import.py --fresh); the sync's first fill
and the outbox push need the Infobip sandbox and are measured by bench/sync.py. Drops its database unless
--keep-db.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_BULK_DB", "cdpadmin_bench_bulk")
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin")


def _url(dbname: str) -> str:
    return urlunsplit(urlsplit(BASE_URL)._replace(path=f"/{dbname}"))


os.environ["DATABASE_URL"] = _url(DB_NAME)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from batch_clock import Clock, report  # noqa: E402  (bench/ is the script's directory)


def _admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from identities.models import Realm
        from people import duplicates
        from people.seeding import seed_persons

        call_command("migrate", verbosity=0)
        realm = Realm.objects.create(name="Bulk", slug="bulk", default_country="HR", default_currency="EUR")
        print(f"new database {DB_NAME}: {args.persons:,} persons in batches of {args.batch:,}")

        clock = Clock()
        rescans = []
        half = args.persons // 2
        for part, seed in ((half, 42), (args.persons - half, 43)):  # phones and emails follow the ids: no clash
            seed_persons(
                realm=realm, persons=part, identities="all", events_per_person=0.3, batch=args.batch, seed=seed,
                progress=lambda done: clock.mark(),
            )  # fmt: skip
            clock_pause = time.perf_counter()
            stats = duplicates.duplicates_rescan(realm=realm)
            rescans.append((stats.persons, time.perf_counter() - clock_pause, stats.candidates))
            clock.restart()
        report("seed_demo's writer (seed_persons), the rescans between its halves not counted", clock)
        (n1, t1, c1), (n2, t2, c2) = rescans
        print(f"duplicate rescan of {n1:,} persons: {t1:.1f} s ({c1:,} suggestions); of {n2:,}: {t2:.1f} s "
              f"({c2:,}); cost per person {(t2 / n2) / (t1 / n1):.2f}x at twice the size (linear: 1x, "
              "quadratic: 2x)")  # fmt: skip
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
