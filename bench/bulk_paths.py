"""Per-batch times of the bulk paths on a brand-new database (a program, not a test).

    DEVELOPMENT=true .venv/bin/python bench/bulk_paths.py                     # 300,000 persons
    DEVELOPMENT=true .venv/bin/python bench/bulk_paths.py --persons 50000 --batch 5000
    DEVELOPMENT=true .venv/bin/python bench/bulk_paths.py --persons 200000 --existing 1000000 --rescan-existing

Issue 11: no bulk path may depend on statistics a new database does not have. This creates its own database
(`cdpadmin_bench_bulk`, or BENCH_BULK_DB, on the server of DATABASE_URL; migrated, never analyzed), then:

1. with --existing N: N persons in another realm ("Existing", same seed), so the new realm is measured beside
   them (a new customer's realm on a database that already holds others; its rescan must cost what its own
   persons cost); --rescan-existing also rescans that realm (the rescan of a realm of N persons, per batch);
2. seed_demo's writer (people.seeding.seed_persons, COPY-based) into a new realm in batches of --batch persons,
   in two halves;
3. the duplicate rescan (people.duplicates.duplicates_rescan) of that realm after half the persons and again
   after all of them: per batch of --fetch-batch pairs (the batch's fetch, scoring and COPY of its suggestions;
   the first batch also carries the SQL phases before it, which are printed apart), the seconds of every phase,
   and the cost per person at twice the size.

The persons' names follow a realistic distribution by default (--names realistic: 40,000 generated last names,
1,500 first names, Zipf; --names demo: seed_demo's short lists, whose name blocks collide with the square of
the population) and --duplicates of them (5 %) are planted duplicates of an earlier person (email variant,
phone under another country prefix, same name and birth date); the bench prints how many of those pairs the
rescan suggests and how many suggestions it makes in all.

For every batched path it prints every batch's wall time and CPU time (this process + its PostgreSQL backend,
read from /proc: the machine's load inflates wall time, not CPU) and the ratio of the last quarter's batches to
the first quarter's (aim: at most 1.5x). The import has its own (bench/import.py --fresh); the sync's first fill
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


def _rescan(realm, label: str, planted: set[tuple[int, int]]):
    """Rescan ``realm`` with a batch clock; print its batches, phases and suggestions against ``planted``."""
    from people import duplicates
    from people.models import DuplicateCandidate

    clock = Clock()
    stats = duplicates.duplicates_rescan(realm=realm, progress=lambda pairs: clock.mark())
    report(f"duplicate rescan of {label}: {stats.persons:,} persons, {stats.pairs:,} pairs scored in batches of "
           f"{duplicates.FETCH_BATCH:,}", clock)  # fmt: skip
    seconds = stats.seconds
    sql = ["statistics", "prepare", "name", "birth_date", "external_id", "email", "phone", "analyze_pairs", "group"]
    print("  phases (s): " + ", ".join(f"{k} {seconds.get(k, 0):.2f}" for k in sql)
          + f"; fetches after the first {seconds['fetch'] - seconds['group']:.2f}; scoring with them "
          f"{seconds['score'] - seconds['group']:.2f}; insert {seconds['insert']:.2f}, delete {seconds['delete']:.2f};"
          f" total {seconds['total']:.2f}")  # fmt: skip
    print(f"  pairs by reason: {stats.pairs_by_reason}; blocks over the cap skipped: {stats.skipped_blocks}")
    found = set(DuplicateCandidate.objects.filter(realm=realm).values_list("person_a_id", "person_b_id"))
    hit = len(planted & found)
    print(
        f"  suggestions: {len(found):,}; planted duplicates {len(planted):,}, suggested {hit:,} "
        f"({hit / len(planted) if planted else 1:.1%}); other suggestions {len(found) - hit:,}",
        flush=True,
    )
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--existing", type=int, default=0, help="persons already in another realm")
    parser.add_argument("--rescan-existing", action="store_true", help="also rescan the realm of --existing")
    parser.add_argument("--names", choices=["realistic", "demo"], default="realistic")
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of planted duplicates")
    parser.add_argument("--fetch-batch", type=int, default=0, help="pairs a rescan batch (default FETCH_BATCH)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep a --keep-db database and its realms (the existing persons are not seeded again)",
    )
    args = parser.parse_args()
    args.keep_db = args.keep_db or args.reuse_db
    if not args.reuse_db:
        _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from identities.models import Realm
        from people import duplicates
        from people.seeding import seed_persons

        if args.fetch_batch:
            duplicates.FETCH_BATCH = args.fetch_batch
        call_command("migrate", verbosity=0)
        options = {"identities": "all", "events_per_person": 0.3, "names": args.names, "duplicates": args.duplicates}
        existing = None
        if args.reuse_db:
            from people.models import Person

            args.existing = Person.objects.count()
            existing_planted: set[tuple[int, int]] = set()
            print(f"reused database: {args.existing:,} persons already there")
        elif args.existing:
            started = time.perf_counter()
            existing = Realm.objects.create(name="Existing", slug="existing", default_country="HR",
                                            default_currency="EUR")  # fmt: skip
            seeded = seed_persons(realm=existing, persons=args.existing, batch=100_000, seed=41, **options)
            existing_planted = {(a, b) for a, b, _ in seeded.planted}
            took = time.perf_counter() - started
            print(f"{args.existing:,} existing persons (realm Existing, {args.names} names, "
                  f"{len(existing_planted):,} planted duplicates) in {took:.1f} s")  # fmt: skip
        slug = f"bulk-{Realm.objects.count()}" if args.reuse_db else "bulk"
        realm = Realm.objects.create(name=slug, slug=slug, default_country="HR", default_currency="EUR")
        where = f"database with {args.existing:,} existing persons" if args.existing else "new database"
        print(f"{where} {DB_NAME}: {args.persons:,} persons ({args.names} names, {args.duplicates:.0%} planted "
              f"duplicates) in batches of {args.batch:,}", flush=True)  # fmt: skip

        clock = Clock()
        rescans = []
        planted: set[tuple[int, int]] = set()
        half = args.persons // 2
        for part, seed in ((half, 42), (args.persons - half, 43)):  # phones and emails follow the ids: no clash
            seeded = seed_persons(
                realm=realm, persons=part, batch=args.batch, seed=seed, progress=lambda done: clock.mark(), **options
            )
            planted |= {(a, b) for a, b, _ in seeded.planted}
            rescans.append(_rescan(realm, f"the new realm ({'half' if not rescans else 'all'})", planted))
            clock.restart()
        report("seed_demo's writer (seed_persons), the rescans between its halves not counted", clock)
        (s1, s2) = rescans
        t1, t2 = s1.seconds["total"], s2.seconds["total"]
        print(f"duplicate rescan of {s1.persons:,} persons: {t1:.1f} s ({s1.pairs:,} pairs, {s1.candidates:,} "
              f"suggestions); of {s2.persons:,}: {t2:.1f} s ({s2.pairs:,}, {s2.candidates:,}); cost per person "
              f"{(t2 / s2.persons) / (t1 / s1.persons):.2f}x at twice the size (linear: 1x, quadratic: 2x); per pair "
              f"{(t2 / s2.pairs) / (t1 / s1.pairs):.2f}x")  # fmt: skip
        if existing is not None and args.rescan_existing:
            _rescan(existing, f"the existing realm ({args.existing:,} persons)", existing_planted)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
