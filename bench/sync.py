"""The two-way sync and the outbox push at scale, beside the naive one-call-per-person way, in the same run.

    .venv/bin/python bench/sync.py --persons 100000

What it does:

1. Creates a dedicated database (``cdpadmin_bench_sync``, dropped at the end unless ``--keep``) and starts the
   Infobip sandbox as a separate process (rate limits off), seeded through its bulk seeding with ``--persons``
   persons (externalId, email and phone each).
2. Writes as many identities, half of which match an Infobip person (a quarter by email, a quarter by phone; the
   other half match nobody), and times the **full three-step sync**: the run itself (pull into the mirror, steps
   1-3, one process: a run is sequential by design) and the push of what it must tell Infobip (every person's
   externalId) by ``--workers`` drain processes, until Infobip is in sync.
3. Times the **push of ``--persons`` local changes** (new persons written as the services write them, with their
   outbox rows) by ``--workers`` drain processes, until every one is in Infobip with its id stored here.
4. Times the same work done **naively** — one HTTP call per person and step, one transaction per person, in as
   many processes — on ``--naive-sample`` persons, and extrapolates it to the full size (the output says so).
5. Switches Infobip's **real published rate limits** on (in the sandbox, and our limiter shared through
   PostgreSQL by the workers), pushes a slice of new persons, extrapolates to ``--persons`` and compares with the
   minimum those limits allow.

Per batch (issue 11: no bulk path may depend on statistics a new database does not have):

    DEVELOPMENT=true .venv/bin/python bench/sync.py --batches --persons 50000                  # brand-new database
    DEVELOPMENT=true .venv/bin/python bench/sync.py --batches --persons 50000 --existing 1000000

``--batches`` runs, in one process on a database just created and migrated (never analyzed by the bench; with
``--existing N`` it first holds N persons of another realm written by seed_demo's writer, which analyzes as it
goes), the outbox push of ``--persons`` new local persons (one drain round of 1,000 a batch), then the sync's
first fill of the realm's empty mirror from ``--persons`` Infobip persons (one page of 1,000 a batch), then the
push of the externalIds that fill must tell Infobip. Each prints every batch's wall and CPU seconds (this process
+ its PostgreSQL backend; the sandbox's apart) and the last-quarter / first-quarter ratio, and
the same work done one call per person on ``--naive-sample`` persons in one process, per 1,000 persons.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000, help="Infobip persons, identities and local changes")
    parser.add_argument("--database", default="cdpadmin_bench_sync")
    parser.add_argument("--workers", type=int, default=2, help="drain processes (Q_WORKERS of one cluster)")
    parser.add_argument("--naive-sample", type=int, default=1000, help="persons the naive baselines handle")
    parser.add_argument(
        "--limits-slice", type=int, default=0, help="persons pushed with real limits (0: a tenth, at least 10,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (dropped otherwise)")
    parser.add_argument("--batches", action="store_true", help="per-batch times of the first fill and the push")
    parser.add_argument("--existing", type=int, default=0, help="--batches: persons of another realm first")
    parser.add_argument("--port", type=int, default=0, help="the sandbox's port (0: any free one)")
    return parser.parse_args()


def say(text: str = "") -> None:
    print(text, flush=True)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} persons/s" if seconds > 0 else "∞"


def in_processes(workers: int, target: Callable[[int], None]) -> float:
    """Run ``target(i)`` in ``workers`` forked processes (as django-q2 workers are); returns the wall time."""
    from django.db import connections

    from infobip.client import clear_client_cache

    connections.close_all()  # children open their own connections and HTTP sessions
    clear_client_cache()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_child, args=(target, i)) for i in range(workers)]
    started = time.monotonic()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.monotonic() - started
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        raise SystemExit(f"a worker process failed: exit codes {failed}")
    return elapsed


def _child(target: Callable[[int], None], index: int) -> None:
    from django.db import connections

    try:
        target(index)
    finally:
        connections.close_all()


def drain_worker(_index: int) -> None:
    from infobip.outbox import engine

    engine.drain()


def setup_django(args) -> dict:
    """Points Django at a fresh bench database (rate limits off, the limiter in PostgreSQL, no autodrain) and
    migrates it; returns the connection parameters of the maintenance database."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin").rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
    os.environ["INFOBIP_RATE_LIMITS"] = "off"
    os.environ["INFOBIP_RATE_LIMITER"] = "postgres"  # shared by the worker processes, as in production
    os.environ["INFOBIP_OUTBOX_AUTODRAIN"] = "false"  # the bench drains itself: no django-q2 cluster runs
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command

    db = settings.DATABASES["default"]
    admin_params = {
        "host": db["HOST"],
        "port": db["PORT"],
        "user": db["USER"],
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin_params) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)
    return admin_params


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("people_person", "people_personphone", "people_personemail", "identities_identity",
                      "infobip_outboxentry", "infobip_outboxattempt"):  # fmt: skip
            cursor.execute(f"ANALYZE {table}")


def local_persons(realm_, prefix: str, count: int, *, analyzed: bool = True) -> list:
    """New local persons with their create rows in the outbox (as person_create writes them)."""
    from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
    from people.models import Person, PersonEmail, PersonPhone, SyncStatus

    persons = []
    for start in range(0, count, 5000):
        chunk = Person.objects.bulk_create(
            [
                Person(realm=realm_, external_id=f"{prefix}-{i}", first_name="Bench", last_name=f"L{i}",
                       sync_status=SyncStatus.PENDING)
                for i in range(start, min(count, start + 5000))
            ]
        )  # fmt: skip
        PersonEmail.objects.bulk_create(
            [PersonEmail(realm=realm_, person=p, address=f"{p.external_id}@example.net") for p in chunk]
        )
        PersonPhone.objects.bulk_create([PersonPhone(realm=realm_, person=p, number=f"4917{p.pk:09d}") for p in chunk])
        if realm_.cdp_enabled:
            OutboxEntry.objects.bulk_create(
                [
                    OutboxEntry(realm=realm_, entity=OutboxEntity.PERSON, entity_id=str(p.pk), op=OutboxOp.CREATE)
                    for p in chunk
                ]
            )
        persons += chunk
    if analyzed:
        analyze()  # what a bulk load does (people/seeding.py too)
    return persons


def seed(sandbox, n: int, workers: int, *, analyzed: bool = True):
    """Seeds the sandbox with n persons and writes n identities, half of them matching; returns (realm, owner)."""
    from identities.ids import new_object_id
    from identities.models import Identity
    from identities.services import realm_create
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY

    started = time.monotonic()
    sandbox.control("POST", "seed", {"count": n, "prefix": "seed"})
    say(f"sandbox (pid {sandbox.pid}) seeded with {n:,} persons in {time.monotonic() - started:.1f}s")
    realm = realm_create(
        name="Bench",
        default_country="HR",
        default_currency="EUR",
        cdp_enabled=True,
        infobip_base_url=sandbox.url,
        infobip_api_key=SANDBOX_API_KEY,
    )
    owner = new_object_id()

    def identity_data(i: int) -> dict:
        """Identity i matches Infobip person i+1 by email (i < n/4) or phone (i < n/2); the rest nothing."""
        if i < n // 4:
            return {"email": f"seed{i + 1}@example.com"}
        if i < n // 2:
            return {"phone": f"+3859{i + 1:09d}"}
        return {"email": f"nobody{i}@example.org"}

    started = time.monotonic()
    for start in range(0, n, 5000):
        Identity.objects.bulk_create(
            [
                Identity(id=new_object_id(), realm=realm, owner=owner, type="person", country="HR", currency="EUR",
                         data=identity_data(i))
                for i in range(start, min(n, start + 5000))
            ]
        )  # fmt: skip
    if analyzed:
        analyze()
    say(f"{n:,} identities written in {time.monotonic() - started:.1f}s (half of them match a person)")
    say(f"drains run in {workers} worker process(es)\n")
    return realm, owner


def our_sync(out, realm, owner, sandbox, n: int, workers: int) -> None:
    """The full three-step sync run, then the push of what it must tell Infobip, checked against Infobip."""
    from identities.models import Identity
    from infobip import sync
    from infobip.client import InfobipClient
    from infobip.models import OutboxEntry, OutboxStatus, SyncRun
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
    from people.models import Person

    run = SyncRun.objects.create(realm=realm, owner=owner, started_by="bench")
    started = time.monotonic()
    run = sync.execute_run(run.pk)
    out.t_run = time.monotonic() - started
    assert run.status == "succeeded", run.errors[-3:]
    out.pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count()
    out.t_run_push = in_processes(workers, drain_worker)
    out.t_sync = out.t_run + out.t_run_push
    counts = run.counts
    out.linked, out.new_identities = counts["step1"]["linked"], counts["step3"]["identities_created"]
    assert out.linked == n // 2, counts
    assert out.new_identities == n - n // 2, counts
    assert OutboxEntry.objects.exclude(status=OutboxStatus.DONE).count() == 0
    client = InfobipClient(sandbox.url, SANDBOX_API_KEY, timeout=30)
    for infobip_id in random.Random(1).sample(range(1, n + 1), 20):
        person = Person.objects.get(realm=realm, infobip_id=infobip_id)
        assert client.get_person("ID", infobip_id)["externalId"] == person.external_id
        assert Identity.objects.filter(pk=person.external_id, person=person).exists()
    out.timings = run.progress.get("timings", {})


def our_push(out, realm, sandbox, n: int, workers: int) -> None:
    """The push of n new local persons by the drain workers, each created in Infobip exactly once."""
    from infobip.models import OutboxEntry, OutboxStatus
    from people.models import Person

    local_persons(realm, "local", n)
    calls_before = sandbox.stats()["calls"]
    out.t_push = in_processes(workers, drain_worker)
    assert OutboxEntry.objects.exclude(status=OutboxStatus.DONE).count() == 0
    assert Person.objects.filter(realm=realm, external_id__startswith="local-", infobip_id__isnull=True).count() == 0
    stats = sandbox.stats()
    assert stats["state"]["effects"]["persons_created"] == n, stats["state"]  # each exactly once
    out.calls = {k: v - calls_before.get(k, 0) for k, v in stats["calls"].items()}


def limited_push(out, args, realm, sandbox, n: int, workers: int) -> None:
    """A slice of new persons pushed with Infobip's real published rate limits on, in the sandbox and ours."""
    from django.conf import settings

    from infobip.models import OutboxEntry, OutboxStatus

    out.slice_size = args.limits_slice or min(n, max(10_000, n // 10))
    settings.INFOBIP_RATE_LIMITS = "real"
    sandbox.control("POST", "ratelimits", {"mode": "real"})
    before = sandbox.stats()
    local_persons(realm, "limited", out.slice_size)
    out.t_limited = in_processes(workers, drain_worker)
    assert OutboxEntry.objects.exclude(status=OutboxStatus.DONE).count() == 0
    after = sandbox.stats()
    out.throttled = sum(after["faults"].get("rate_limited", {}).values()) - sum(
        before["faults"].get("rate_limited", {}).values()
    )
    out.limited_calls = {
        k: v - before["calls"].get(k, 0) for k, v in after["calls"].items() if v > before["calls"].get(k, 0)
    }
    sandbox.control("POST", "ratelimits", {"mode": "off"})
    settings.INFOBIP_RATE_LIMITS = "off"


def naive_sync_worker(sandbox, naive_realm, owner, first_id: int, s: int, workers: int) -> Callable[[int], None]:
    """Per Infobip person: GET it, write it and its identity link one transaction each, PATCH it back."""
    from django.db import transaction

    from identities.models import Identity
    from infobip.client import InfobipClient
    from infobip.records import record_keys
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
    from infobip.sync.matching import OrphanIndex
    from people.models import Person, PersonEmail, PersonPhone, SyncStatus

    def naive_sync(index: int) -> None:
        naive_client = InfobipClient(sandbox.url, SANDBOX_API_KEY, timeout=30)
        orphans = OrphanIndex(naive_realm)  # the same in-memory matching as ours: only the I/O differs
        for infobip_id in range(first_id + index, first_id + s, workers):
            record = naive_client.get_person("ID", infobip_id)
            external_id, emails, phones = record_keys(record)
            with transaction.atomic():
                person = Person.objects.create(
                    realm=naive_realm, infobip_id=infobip_id, first_name=record.get("firstName", ""),
                    last_name=record.get("lastName", ""), sync_status=SyncStatus.SYNCED,
                )  # fmt: skip
                for email in emails:
                    PersonEmail.objects.create(realm=naive_realm, person=person, address=email)
                for phone in phones:
                    PersonPhone.objects.create(realm=naive_realm, person=person, number=phone)
                claims = orphans.claims(external_id, emails, phones)
                if claims:
                    identity = Identity.objects.get(pk=max(claims, key=claims.get))
                    identity.person = person
                    identity.save()
                else:
                    identity = Identity.objects.create(
                        realm=naive_realm, owner=owner, type="person", country="HR", currency="EUR", person=person
                    )
                person.external_id = identity.pk
                person.save()
            naive_client.update_person("ID", infobip_id, {"externalId": identity.pk})

    return naive_sync


def naive_push_worker(sandbox, naive_persons: list[int], workers: int) -> Callable[[int], None]:
    """Per local person: one POST, then its Infobip id stored."""
    from infobip.client import InfobipClient
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
    from people.models import Person, SyncStatus
    from people.representation import person_as_infobip

    def naive_push(index: int) -> None:
        naive_client = InfobipClient(sandbox.url, SANDBOX_API_KEY, timeout=30)
        for pk in naive_persons[index::workers]:
            body = person_as_infobip(Person.objects.prefetch_related("tags", "phones", "emails").get(pk=pk))
            made = naive_client.create_person(body)
            Person.objects.filter(pk=pk).update(infobip_id=made["id"], sync_status=SyncStatus.SYNCED)

    return naive_push


def naive_baselines(out, args, sandbox, owner, n: int, workers: int, *, analyzed: bool = True) -> None:
    """The same sync and push done one call per person on a sample, in as many processes; per-person times."""
    from identities.ids import new_object_id
    from identities.models import Identity
    from identities.services import realm_create
    from people.models import Person

    s = out.s = min(args.naive_sample, n)
    first_id = sandbox.control("POST", "seed", {"count": s, "prefix": "naive"})["firstId"]
    naive_realm = realm_create(name="Naive", default_country="HR", default_currency="EUR", cdp_enabled=False)
    Identity.objects.bulk_create(
        [
            Identity(
                id=new_object_id(), realm=naive_realm, owner=owner, type="person", country="HR", currency="EUR",
                data={"email": f"naive{first_id + i}@example.com" if i < s // 2 else f"x{i}@example.org"},
            )
            for i in range(s)
        ]
    )  # fmt: skip
    naive_persons = [p.pk for p in local_persons(naive_realm, "naive-local", s, analyzed=analyzed)]
    naive_sync = naive_sync_worker(sandbox, naive_realm, owner, first_id, s, workers)
    out.t_naive_sync = in_processes(workers, naive_sync) / s
    out.t_naive_push = in_processes(workers, naive_push_worker(sandbox, naive_persons, workers)) / s
    assert Person.objects.filter(realm=naive_realm, infobip_id__isnull=True).count() == 0


def report_sync_and_push(r, n: int) -> None:
    naive_sync_total, naive_push_total = r.t_naive_sync * n, r.t_naive_push * n
    say(f"two-way sync, {n:,} Infobip persons and {n:,} identities, half of them matching (rate limits off)")
    say(
        f"  ours   {r.t_sync:8.1f} s  {rate(n, r.t_sync):>18}   run {r.t_run:.1f} s (Infobip reads "
        f"{r.timings.get('fetch_s', 0):.1f} s, database {r.timings.get('write_s', 0):.1f} s) + push of its "
        f"{r.pending:,} externalIds {r.t_run_push:.1f} s"
    )
    say(
        f"  naive  {naive_sync_total:8.1f} s  {rate(n, naive_sync_total):>18}   GET + PATCH per person, one transaction"
        f" each: measured on {r.s:,} persons ({r.t_naive_sync * 1000:.2f} ms/person), extrapolated"
    )
    say(
        f"  ratio  {naive_sync_total / r.t_sync:8.1f} ×   (linked {r.linked:,} identities, made {r.new_identities:,}"
        " new ones)"
    )
    say()
    say(f"push of {n:,} local changes (new persons), rate limits off")
    batches, matches = r.calls.get("POST /people/2/persons/batch", 0), r.calls.get("POST /people/2/persons/match", 0)
    say(
        f"  ours   {r.t_push:8.1f} s  {rate(n, r.t_push):>18}   {batches} batch creates and {matches} id look-ups"
        " in all"
    )
    say(
        f"  naive  {naive_push_total:8.1f} s  {rate(n, naive_push_total):>18}   one POST per person: measured on"
        f" {r.s:,} persons ({r.t_naive_push * 1000:.2f} ms/person), extrapolated"
    )
    say(f"  ratio  {naive_push_total / r.t_push:8.1f} ×")
    say()


def report_limited(r, n: int) -> None:
    extrapolated = r.t_limited * n / r.slice_size
    batch_floor = n / 1000 / 5  # POST /persons/batch: 5 requests/s × 1000 persons
    match_floor = n / 1000 / 15  # POST /persons/match: 15 requests/s × 1000 identities
    say(f"push of {n:,} new persons with Infobip's real published rate limits (in the sandbox and in our limiter)")
    say(
        f"  measured {r.slice_size:,} persons in {r.t_limited:.1f} s ({rate(r.slice_size, r.t_limited)};"
        f" {r.throttled} calls refused with 429; calls {r.limited_calls})"
    )
    say(f"  → {n:,} persons ≈ {extrapolated:.0f} s, extrapolated from that slice")
    say(
        f"  the limits allow at best 5 batch creates/s × 1000 = 5,000 persons/s → {batch_floor:.0f} s"
        f" ({batch_floor + match_floor:.0f} s if the /persons/match id look-ups, 15/s × 1000, ran after them)"
    )
    say(
        f"  ours takes {extrapolated / batch_floor:.1f} × that minimum; one POST per person (10/s) would take"
        f" {n / 10:,.0f} s"
    )


STATS_TABLES = ("people_person", "people_personphone", "people_personemail", "identities_identity",
                "infobip_outboxentry", "infobip_outboxattempt")  # fmt: skip


def statistics_state() -> str:
    """When each table was last analyzed, by whom (ANALYZE: statistics_refresh; autovacuum: the server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, analyze_count, autoanalyze_count FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s) ORDER BY relname",
            [list(STATS_TABLES)],
        )
        return ", ".join(f"{t} {live:,} rows ({a} ANALYZE, {auto} autoanalyze)" for t, live, a, auto in cursor)


def drain_in_batches(label: str, sandbox) -> tuple:
    """Drain the outbox in this process one round (a claim of up to 1,000 entities) a batch, timing each."""
    from batch_clock import Clock, quarter_means, report

    from infobip.outbox import engine

    clock = Clock(other=sandbox.pid)
    while engine.drain(max_rounds=1).entries:
        clock.mark()
    report(label, clock)
    return quarter_means(clock.cpu), quarter_means(clock.wall)


def batches_main(args) -> None:
    """Per-batch wall and CPU of the push and the sync's first fill (see the module's docstring)."""
    n = args.persons
    admin_params = setup_django(args)

    from identities.services import realm_create
    from infobip import sync
    from infobip.models import OutboxEntry, OutboxStatus, SyncRun
    from infobip.sandbox import pytest_plugin
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY, start_sandbox_process
    from infobip.sync.runs import PAGE_SIZE
    from people.seeding import seed_persons

    ports = iter([args.port, args.port + 1])
    if args.port:
        pytest_plugin.free_port = lambda host="127.0.0.1": next(ports)
    results = SimpleNamespace()
    sandbox = start_sandbox_process("--rate-limits", "off")
    push_sandbox = start_sandbox_process("--rate-limits", "off")  # the push's creates stay out of the fill's pages
    try:
        if args.existing:
            started = time.monotonic()
            other = realm_create(name="Existing", default_country="HR", default_currency="EUR", cdp_enabled=False)
            seed_persons(realm=other, persons=args.existing, identities="all", events_per_person=0, batch=100_000)
            say(f"{args.existing:,} existing persons (realm Existing, seed_demo's writer) in "
                f"{time.monotonic() - started:.1f} s")  # fmt: skip
        else:
            say("brand-new database: migrated, no ANALYZE")
        realm, owner = seed(sandbox, n, 1, analyzed=False)
        push_realm = realm_create(
            name="Push", default_country="HR", default_currency="EUR", cdp_enabled=True,
            infobip_base_url=push_sandbox.url, infobip_api_key=SANDBOX_API_KEY,
        )  # fmt: skip
        say(f"statistics before: {statistics_state()}\n")

        local_persons(push_realm, "local", n, analyzed=False)
        results.push = drain_in_batches(
            f"outbox push of {n:,} new local persons (one drain round a batch)", push_sandbox
        )
        assert push_sandbox.stats()["state"]["effects"]["persons_created"] == n
        say(f"  statistics after: {statistics_state()}\n")

        from batch_clock import Clock, quarter_means, report

        clock = Clock(other=sandbox.pid)
        run = SyncRun.objects.create(realm=realm, owner=owner, started_by="bench")
        run = sync.execute_run(run.pk, after_page=lambda page: clock.mark())
        assert run.status == "succeeded", run.errors[-3:]
        assert run.counts["step1"]["linked"] == n // 2, run.counts
        pages = -(-n // PAGE_SIZE)
        if len(clock.wall) > pages:  # the empty page that ends the listing is no batch
            clock.wall, clock.cpu, clock.other_cpu = clock.wall[:pages], clock.cpu[:pages], clock.other_cpu[:pages]
        report(f"sync's first fill of the empty mirror from {n:,} Infobip persons (one page of 1,000 a batch)", clock)
        results.fill = quarter_means(clock.cpu), quarter_means(clock.wall)
        say(f"  statistics after: {statistics_state()}\n")
        pending = OutboxEntry.objects.filter(status=OutboxStatus.PENDING).count()
        results.run_push = drain_in_batches(f"outbox push of the fill's {pending:,} externalIds", sandbox)
        assert OutboxEntry.objects.exclude(status=OutboxStatus.DONE).count() == 0
        say()
        naive_baselines(results, args, sandbox, owner, n, 1, analyzed=False)
    finally:
        teardown(args, admin_params, sandbox, push_sandbox)
    state = f"{args.existing:,} persons in another realm" if args.existing else "brand-new database"
    say(f"summary ({state}); per batch of 1,000 persons, first quarter → last quarter, CPU (wall):")
    for label, ((c1, c2), (w1, w2)), naive in (
        ("outbox push (create)", results.push, results.t_naive_push),
        ("sync first fill", results.fill, results.t_naive_sync),
        ("outbox push (externalIds)", results.run_push, None),
    ):
        baseline = (
            f"one call per person: {naive * 1000:.1f} s wall per 1,000"
            if naive
            else "(one call per person: the PATCH in the naive sync's figure)"
        )
        say(f"  {label:27} {c1:.2f} → {c2:.2f} s ({w1:.2f} → {w2:.2f} s)   ratio {c2 / c1:.2f}x CPU,"
            f" {w2 / w1:.2f}x wall   {baseline}")  # fmt: skip


def teardown(args, admin_params: dict, *sandboxes) -> None:
    """Stop the sandboxes, close our connection, and drop the bench's database unless --keep."""
    import psycopg
    from django.db import connection

    from infobip.client import clear_client_cache
    from infobip.sandbox.pytest_plugin import stop_sandbox_process

    for sandbox in sandboxes:
        stop_sandbox_process(sandbox)
    clear_client_cache()
    connection.close()
    if not args.keep:
        with psycopg.connect(**admin_params) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{args.database}"')


def main() -> None:
    args = parse_args()
    if args.batches:
        batches_main(args)
        return
    n, workers = args.persons, args.workers
    admin_params = setup_django(args)

    from infobip.sandbox.pytest_plugin import start_sandbox_process

    results = SimpleNamespace()
    sandbox = start_sandbox_process("--rate-limits", "off")
    try:
        realm, owner = seed(sandbox, n, workers)
        our_sync(results, realm, owner, sandbox, n, workers)
        our_push(results, realm, sandbox, n, workers)
        limited_push(results, args, realm, sandbox, n, workers)
        naive_baselines(results, args, sandbox, owner, n, workers)
    finally:
        teardown(args, admin_params, sandbox)
    report_sync_and_push(results, n)
    report_limited(results, n)


if __name__ == "__main__":
    main()
