"""Benchmark of merging and duplicate suggestions on a large realm (a program, not a test).

    .venv/bin/python bench/merge.py                      # 1,000,000 persons (several minutes)
    .venv/bin/python bench/merge.py --persons 100000     # a quicker check

It creates (and afterwards drops, unless --keep) its own database, `cdpadmin_bench_merge` on the server of
DATABASE_URL, seeds one realm with `people.seeding.seed_persons`, then measures in the same run:

1. `persons_merge` of 2 and of 10 profiles holding 1,000 events each (median of a few runs; the service runs
   in this process, so the time is the server's time: one transaction against PostgreSQL). Aim: < 200 ms for 2.
2. `duplicates_rescan` of the whole realm (blocking keys in SQL, streamed scoring). Aim: < 5 minutes.
3. Candidates found per second: a naive all-pairs scan of a sample (default 20,000 persons; every pair scored
   with the same weights, names compared by rapidfuzz.process.cdist, reasons by numpy equality, so the
   baseline is vectorized, not a slow Python loop) against our rescan of the whole realm, and the ratio.
   Our blocking on the same sample is also run, to show what it finds of the baseline's pairs (recall).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def database_urls(name: str) -> tuple[str, str]:
    """(bench database URL, maintenance URL) on the server of DATABASE_URL."""
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/cdpadmin")
    return urlunsplit(base._replace(path=f"/{name}")), urlunsplit(base._replace(path="/postgres"))


def recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def add_events(person_ids: list[int], per_person: int) -> None:
    from people.models import EventDefinition, Person, PersonEvent

    realm_id = Person.objects.filter(pk=person_ids[0]).values_list("realm_id", flat=True).get()
    definition = EventDefinition.objects.filter(realm_id=realm_id).first()
    PersonEvent.objects.bulk_create(
        [
            PersonEvent(
                realm_id=realm_id,
                person_id=pid,
                definition=definition,
                event_id=f"bench-{pid}-{n}",
                properties={"url": f"/p/{n}"},
            )
            for pid in person_ids
            for n in range(per_person)
        ],
        batch_size=5000,
    )


def time_merges(realm, pool: list[int], size: int, runs: int, events: int) -> list[float]:
    from people.merging import default_survivor, persons_merge
    from people.models import Person

    timings = []
    for run in range(runs):
        ids = pool[run * size : (run + 1) * size]
        add_events(ids, events)
        persons = list(Person.objects.filter(pk__in=ids))
        survivor = default_survivor(persons)
        started = time.perf_counter()
        persons_merge(survivor=survivor, others=[p for p in persons if p.pk != survivor.pk], actor="bench")
        timings.append(time.perf_counter() - started)
    return timings


def sample_features(sample_ids: list[int]) -> SimpleNamespace:
    """The sample's persons as arrays of coded keys (-1: none), as people.duplicates compares them."""
    import numpy as np

    from people.duplicates import email_key, external_id_key, fold_name, phone_national_number
    from people.models import Person, PersonEmail, PersonPhone

    rows = list(
        Person.objects.filter(pk__in=sample_ids)
        .order_by("pk")
        .values_list("pk", "first_name", "last_name", "birth_date", "external_id")
    )
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    index = {pid: i for i, pid in enumerate(ids.tolist())}
    n = len(rows)
    names = [fold_name(f"{first} {last}") for _, first, last, _, _ in rows]
    has_name = np.array([bool(fold_name(first)) and bool(fold_name(last)) for _, first, last, _, _ in rows])
    codes: dict[str, dict[str, int]] = {}

    def code(kind: str, value: str | None) -> int:
        if not value:
            return -1
        table = codes.setdefault(kind, {})
        return table.setdefault(value, len(table))

    name_key = np.array(
        [code("name", f"{fold_name(last).replace(' ', '')}|{fold_name(first)[:1]}") if has_name[i] else -1
         for i, (_, first, last, _, _) in enumerate(rows)]
    )  # fmt: skip
    born_day = np.array([born.toordinal() if born else -1 for *_, born, _ in rows])
    external_key = np.array([code("ext", external_id_key(ext) if ext else None) for *_, ext in rows])
    email_keys = np.full((n, 2), -1)
    for pid, address in PersonEmail.objects.filter(person_id__in=sample_ids).values_list("person_id", "address"):
        i = index[pid]
        slot = int((email_keys[i] >= 0).sum())
        if slot < 2:
            email_keys[i, slot] = code("email", email_key(address))
    nsn, country = np.full((n, 2), -1), np.full((n, 2), -1)
    for pid, number in PersonPhone.objects.filter(person_id__in=sample_ids).values_list("person_id", "number"):
        i = index[pid]
        slot = int((nsn[i] >= 0).sum())
        parsed = phone_national_number(number)
        if slot < 2 and parsed:
            nsn[i, slot], country[i, slot] = code("nsn", parsed[1]), parsed[0]
    return SimpleNamespace(
        ids=ids, n=n, names=names, has_name=has_name, name_key=name_key, born_day=born_day,
        external_key=external_key, email_keys=email_keys, nsn=nsn, country=country,
    )  # fmt: skip


def chunk_scores(f: SimpleNamespace, rs: slice):
    """Scores of the sample's rows rs against every row, weighted like people.duplicates; shape (rows, n)."""
    import numpy as np
    from rapidfuzz import fuzz, process

    from people.duplicates import WEIGHTS

    def same(key, rows_slice):
        return (key[rows_slice, None] == key[None, :]) & (key[rows_slice, None] >= 0)

    similarity = process.cdist(
        f.names[rs], f.names, scorer=fuzz.token_sort_ratio, processor=None, workers=1, dtype=np.float32
    )
    known = f.has_name[rs, None] & f.has_name[None, :]
    similarity = np.where(known, similarity, 50.0)
    evidence = (WEIGHTS["name"] * same(f.name_key, rs) + WEIGHTS["external_id"] * same(f.external_key, rs)).astype(
        np.float32
    )
    both_born = (f.born_day[rs, None] >= 0) & (f.born_day[None, :] >= 0)
    same_day = f.born_day[rs, None] == f.born_day[None, :]
    evidence += WEIGHTS["birth_date"] * (both_born & same_day) + WEIGHTS["birth_date_differs"] * (both_born & ~same_day)
    email_hit = np.zeros_like(known)
    phone_hit = np.zeros_like(known)
    for a in range(2):
        for b in range(2):
            email_hit |= (f.email_keys[rs, a, None] == f.email_keys[None, :, b]) & (f.email_keys[rs, a, None] >= 0)
            phone_hit |= (
                (f.nsn[rs, a, None] == f.nsn[None, :, b])
                & (f.nsn[rs, a, None] >= 0)
                & (f.country[rs, a, None] != f.country[None, :, b])
            )
    evidence += WEIGHTS["email"] * email_hit + WEIGHTS["phone"] * phone_hit
    return np.clip(np.round(evidence + similarity / 2), 0, 100)


def baseline_all_pairs(realm, sample_ids: list[int]) -> tuple[set[tuple[int, int]], float, int]:
    """Every pair of the sample scored like people.duplicates does; returns (candidate pairs, seconds, pairs)."""
    import numpy as np

    from people.duplicates import MIN_SCORE

    started = time.perf_counter()
    f = sample_features(sample_ids)
    n = f.n
    found: set[tuple[int, int]] = set()
    chunk = 500
    for start in range(0, n, chunk):
        rs = slice(start, min(start + chunk, n))
        score = chunk_scores(f, rs)
        upper = np.arange(n)[None, :] > np.arange(rs.start, rs.stop)[:, None]
        hits = np.argwhere((score >= MIN_SCORE) & upper)
        for i, j in hits:
            found.add((int(f.ids[rs.start + i]), int(f.ids[j])))
    return found, time.perf_counter() - started, n * (n - 1) // 2


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="persons in the naive all-pairs baseline")
    parser.add_argument("--events", type=int, default=1000, help="events per merged profile")
    parser.add_argument("--runs", type=int, default=5, help="merges of 2 timed (merges of 10: runs // 2 + 1)")
    parser.add_argument("--database", default="cdpadmin_bench_merge")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def seed_realm(args):
    """Migrates the bench database and seeds one realm; returns (realm, merge pool, sample ids)."""
    from django.core.management import call_command
    from django.db import connection

    from identities.models import Realm
    from people.seeding import seed_persons

    call_command("migrate", verbosity=0)
    realm = Realm.objects.create(name="Bench", slug="bench", default_country="HR", default_currency="EUR")
    started = time.perf_counter()
    seeded = seed_persons(realm=realm, persons=args.persons, events_per_person=0.3)
    print(f"seeded {seeded.persons:,} persons, {seeded.events:,} events in {time.perf_counter() - started:.1f}s")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM people_person WHERE realm_id = %s ORDER BY md5(id::text) LIMIT %s",
            [realm.pk, args.sample + 200],
        )
        shuffled = [row[0] for row in cursor.fetchall()]
    return realm, shuffled[:200], shuffled[200:]


def bench_merges(args, realm, merge_pool: list[int]) -> None:
    print(f"\n== merge ({args.events:,} events per profile, {args.persons:,} persons in the realm)")
    two = time_merges(realm, merge_pool, 2, args.runs, args.events)
    ten = time_merges(realm, merge_pool[2 * args.runs :], 10, args.runs // 2 + 1, args.events)
    for label, timings, aim in (("2 profiles", two, 0.200), ("10 profiles", ten, None)):
        median = statistics.median(timings)
        verdict = "" if aim is None else (f"  (aim < {aim * 1000:.0f} ms: {'met' if median < aim else 'MISSED'})")
        print(
            f"merge of {label:<11}: median {median * 1000:7.1f} ms, "
            f"min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f} over {len(timings)} runs{verdict}"
        )


def bench_rescan(realm):
    from people.duplicates import BLOCK_CAP, duplicates_rescan

    print(f"\n== duplicate rescan of the realm (block cap {BLOCK_CAP})")
    stats = duplicates_rescan(realm=realm)
    total = stats.seconds["total"]
    print(
        f"rescan: {stats.persons:,} persons, {stats.pairs:,} pairs scored, {stats.candidates:,} candidates "
        f"in {total:.1f}s  (aim < 300 s: {'met' if total < 300 else 'MISSED'})"
    )
    print(f"  pairs by reason: {stats.pairs_by_reason}")
    print(f"  blocks skipped (over the cap): {stats.skipped_blocks}")
    print(f"  seconds: {stats.as_dict()['seconds']}")
    return stats


def bench_candidates(realm, sample_ids: list[int], stats) -> None:
    from people.duplicates import duplicates_find

    total = stats.seconds["total"]
    print(f"\n== candidates per second: naive all-pairs on a {len(sample_ids):,}-person sample vs our rescan")
    baseline, baseline_seconds, pairs = baseline_all_pairs(realm, sample_ids)
    baseline_rate = len(baseline) / baseline_seconds
    ours_rate = stats.candidates / total
    print(
        f"baseline (all {pairs:,} pairs, vectorized): {len(baseline):,} candidates in {baseline_seconds:.1f}s"
        f" = {baseline_rate:,.0f} candidates/s ({pairs / baseline_seconds:,.0f} pairs/s)"
    )
    print(f"ours (blocking, whole realm):  {stats.candidates:,} candidates in {total:.1f}s = {ours_rate:,.0f}/s")
    print(f"ratio ours / baseline: {ours_rate / baseline_rate:.1f}x" if baseline_rate else "ratio: n/a")
    realm_pairs = stats.persons * (stats.persons - 1) // 2
    naive_seconds = realm_pairs / pairs * baseline_seconds
    print(f"a naive scan of all {realm_pairs:,} pairs of the realm: ~{naive_seconds:,.0f}s at the baseline's pace")
    started = time.perf_counter()
    ours_sample, _ = duplicates_find(realm=realm, person_ids=sample_ids)
    sample_seconds = time.perf_counter() - started
    ours_pairs = {(f.person_a, f.person_b) for f in ours_sample}
    recall = len(ours_pairs & baseline) / len(baseline) if baseline else 1.0
    print(
        f"ours on the same sample: {len(ours_pairs):,} candidates in {sample_seconds:.1f}s "
        f"({len(ours_pairs) / sample_seconds:,.0f}/s), recall of the baseline's pairs {recall:.1%}"
    )


def main() -> int:
    args = parse_args()
    bench_url, maintenance_url = database_urls(args.database)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
    print(f"database {args.database}: created for this run", flush=True)
    recreate_database(maintenance_url, args.database)
    try:
        import django

        django.setup()
        realm, merge_pool, sample_ids = seed_realm(args)
        bench_merges(args, realm, merge_pool)
        stats = bench_rescan(realm)
        bench_candidates(realm, sample_ids, stats)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"\ndatabase {args.database} kept")
        else:
            recreate_database(maintenance_url, args.database, drop_only=True)
            print(f"\ndatabase {args.database} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
