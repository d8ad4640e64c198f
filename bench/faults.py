"""The outbox proven under faults: N mixed changes pushed through a faulty sandbox, then both stores compared.

    DEVELOPMENT=true .venv/bin/python bench/faults.py --changes 10000

Four runs, each in a realm of its own against a fresh in-thread sandbox (real HTTP), in a dedicated database
(``cdpadmin_bench_faults``, dropped first):

1. ``faults``: creates, updates, deletes, merges and merge undos mixed (about 40/35/10/10/5 % of the changes,
   in two waves, the second changing persons the first pushed) through 20 % 5xx, 10 % responses lost after
   the write was applied and 5 % slow calls, drained in this process.
2. ``sigkill``: the same, drained by a real ``manage.py qworker`` cluster SIGKILLed at random points mid-drain
   three times and started again.
3. ``restart``: the same, with the sandbox stopped mid-run and started again from its state file.
4. ``undo``: a merge, then its undo while the merge's push is failing; faults cleared: Infobip has both persons.

Each run ends with the comparison of the sandbox's persons with the mirror (:func:`compare`): lost, wrongly
deleted, mislinked, differing, duplicated, resurrected and stray profiles; all must be 0.
The slow tests (tests/infobip/test_faults*.py) run the same scenarios with smaller counts.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAULTS = {"error_rate": 0.2, "lose_rate": 0.1, "slow_rate": 0.05, "slow_ms": 300.0}
COUNTS = ("lost", "wrongly_deleted", "mislinked", "differing", "duplicated", "resurrected", "stray")


@dataclass
class Mix:
    """What a scenario did, for the comparison and the printout."""

    changes: int = 0
    ops: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gone_external_ids: set[str] = field(default_factory=set)  # deleted here: must not be in Infobip


# ----------------------------------------------------------------------------------------------- the changes


def bulk_creates(realm: Any, first: int, count: int, mix: Mix) -> list[Any]:
    """Persons with their create rows, as person_create writes them (an email each, a phone on every second)."""
    from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
    from people.models import Person, PersonEmail, PersonPhone, SyncStatus

    persons = Person.objects.bulk_create(
        [
            Person(realm=realm, external_id=f"x-{i}", first_name="P", last_name=f"L{i}", sync_status=SyncStatus.PENDING)
            for i in range(first, first + count)
        ]
    )
    PersonEmail.objects.bulk_create(
        [PersonEmail(realm=realm, person=p, address=f"x{first + n}@example.com") for n, p in enumerate(persons)]
    )
    PersonPhone.objects.bulk_create(
        [PersonPhone(realm=realm, person=p, number=f"3859{first + n:09d}") for n, p in enumerate(persons) if n % 2 == 0]
    )
    OutboxEntry.objects.bulk_create(
        [OutboxEntry(realm=realm, entity=OutboxEntity.PERSON, entity_id=str(p.pk), op=OutboxOp.CREATE) for p in persons]
    )
    mix.ops["create"] += count
    mix.changes += count
    return persons


def bulk_updates(realm: Any, persons: list[Any], rng: random.Random, mix: Mix) -> None:
    """First-name and city changes (one row each, some persons twice: coalesced), as person_update writes them."""
    from django.utils import timezone

    from infobip.models import OutboxEntity, OutboxEntry, OutboxOp
    from infobip.outbox.payloads import PersonChange
    from people.models import Person

    rows = []
    for n, person in enumerate(persons):
        field_name = "city" if n % 3 == 0 else "first_name"
        value = f"{field_name[:1].upper()}{rng.randrange(10**6)}"
        Person.objects.filter(pk=person.pk).update(**{field_name: value}, modified=timezone.now())
        rows.append(
            OutboxEntry(
                realm=realm,
                entity=OutboxEntity.PERSON,
                entity_id=str(person.pk),
                op=OutboxOp.UPDATE,
                payload=PersonChange.build(fields=[field_name]).to_json(),
            )
        )
    OutboxEntry.objects.bulk_create(rows)
    mix.ops["update"] += len(rows)
    mix.changes += len(rows)


def service_changes(realm: Any, pool: list[Any], rng: random.Random, mix: Mix, *, deletes: int, merges: int) -> None:
    """Deletes, merges of pairs and undos of half the merges, through the services (real outbox rows)."""
    from django.db import transaction

    from people import services as people
    from people.merge_undo import merge_undo
    from people.merging import persons_merge
    from people.models import Person

    rng.shuffle(pool)
    doomed, pairs = pool[:deletes], pool[deletes : deletes + 2 * merges]
    for person in Person.objects.filter(pk__in=[p.pk for p in doomed]):
        with transaction.atomic():
            people.person_delete(person=person)
        mix.gone_external_ids.add(person.external_id)
    records = []
    for a, b in zip(pairs[::2], pairs[1::2], strict=True):
        survivor, other = Person.objects.get(pk=a.pk), Person.objects.get(pk=b.pk)
        records.append(persons_merge(survivor=survivor, others=[other], source="bench"))
    for record in records[::2]:
        merge_undo(record=record, source="bench")
    mix.ops["delete"] += len(doomed)
    mix.ops["merge"] += len(records)
    mix.ops["undo"] += len(records[::2])
    mix.changes += len(doomed) + len(records) + len(records[::2])


def first_wave(realm: Any, n: int, mix: Mix) -> list[Any]:
    return bulk_creates(realm, 0, max(1, int(n * 0.25)), mix)


def second_wave(realm: Any, n: int, pushed: list[Any], rng: random.Random, mix: Mix) -> None:
    """Changes of pushed persons (updates, deletes, merges, undos) and new persons, at once."""
    fresh = bulk_creates(realm, len(pushed), max(1, int(n * 0.15)), mix)
    updated = rng.sample(pushed, min(len(pushed), int(n * 0.25))) + rng.sample(fresh, min(len(fresh), int(n * 0.1)))
    bulk_updates(realm, updated, rng, mix)
    pool = list(pushed + fresh)
    service_changes(realm, pool, rng, mix, deletes=int(n * 0.1), merges=max(1, int(n * 0.1 / 1.5)))


# ------------------------------------------------------------------------------------------ the comparison


def compare(realm: Any, store_persons: dict[int, dict], mix: Mix) -> dict[str, int]:
    """Both stores, person by person: every count must be 0.

    lost: a live person here (not merged away) no Infobip profile has the externalId of; wrongly_deleted: of
    those, the ones once confirmed in Infobip (an Infobip id stored); mislinked: the stored Infobip id is not the
    profile with the person's externalId; differing: names, city, emails or phones differ; duplicated: profiles
    beyond the first with one externalId; resurrected: profiles of persons deleted or merged away here; stray:
    profiles of nobody here."""
    from people.models import Person

    by_external: dict[str, list[int]] = defaultdict(list)
    for infobip_id, profile in store_persons.items():
        by_external[profile.get("externalId") or ""].append(infobip_id)
    counts = dict.fromkeys(COUNTS, 0)
    live = Person.objects.filter(realm=realm, merged_into__isnull=True).prefetch_related("emails", "phones")
    known = set(mix.gone_external_ids)
    for person in live:
        known.add(person.external_id)
        ids = by_external.get(person.external_id, [])
        if not ids:
            counts["lost"] += 1
            counts["wrongly_deleted"] += person.infobip_id is not None
            continue
        if person.infobip_id not in ids:
            counts["mislinked"] += 1
            EXAMPLES.append(f"mislinked: person {person.pk} holds {person.infobip_id}; its externalId is on {ids}")
            continue
        if _differs(person, store_persons[person.infobip_id]):
            counts["differing"] += 1
            theirs = _theirs(store_persons[person.infobip_id])
            EXAMPLES.append(f"differing: person {person.pk} {_ours(person)} vs {theirs}")
    merged_away = set(
        Person.objects.filter(realm=realm, merged_into__isnull=False).values_list("external_id", flat=True)
    )
    for external_id, ids in by_external.items():
        counts["duplicated"] += max(0, len(ids) - 1)
        if external_id in merged_away or external_id in mix.gone_external_ids:
            counts["resurrected"] += len(ids)
        elif external_id not in known:
            counts["stray"] += len(ids)
            EXAMPLES.append(f"stray: {[store_persons[i] for i in ids]}")
    return counts


EXAMPLES: list[str] = []  # what a nonzero count stands for (the first few are printed)


def _ours(person: Any) -> tuple:
    return (
        person.first_name,
        person.last_name,
        person.city or "",
        sorted(e.address.lower() for e in person.emails.all()),
        sorted(p.number for p in person.phones.all()),
    )


def _theirs(profile: dict) -> tuple:
    contacts = profile.get("contactInformation") or {}
    return (
        profile.get("firstName") or "",
        profile.get("lastName") or "",
        profile.get("city") or "",
        sorted(e["address"].lower() for e in contacts.get("email") or ()),
        sorted(p["number"] for p in contacts.get("phone") or ()),
    )


def _differs(person: Any, profile: dict) -> bool:
    return _ours(person) != _theirs(profile)


def outbox_counts(realm: Any) -> dict[str, int]:
    from django.db.models import Count

    from infobip.models import OutboxEntry

    return dict(OutboxEntry.objects.filter(realm=realm).values_list("status").annotate(n=Count("id")).order_by())


# ------------------------------------------------------------------------------------------------ draining


def drain_until_settled(realm: Any, *, timeout: float, step: Callable[[], Any] | None = None) -> None:
    """Drain in this process (or wait for ``step``, e.g. a cluster) until no row of the realm is pending."""
    from infobip.models import OutboxEntry, OutboxStatus
    from infobip.outbox import engine

    deadline = time.monotonic() + timeout
    pending = OutboxEntry.objects.filter(realm=realm, status=OutboxStatus.PENDING)
    while pending.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not settled within {timeout:.0f}s: {pending.count()} rows pending")
        report = step() if step else engine.drain(max_seconds=30)
        if step or not getattr(report, "entries", 0):
            time.sleep(0.05)


def fast_outbox(settings: Any) -> None:
    """Backoffs in milliseconds and patient dead letters: a fault run settles in seconds, not hours."""
    settings.INFOBIP_RATE_LIMITS = "off"
    settings.INFOBIP_MAX_RETRIES = 2
    settings.INFOBIP_BACKOFF = 0.005
    settings.INFOBIP_BACKOFF_CAP = 0.02
    settings.INFOBIP_TIMEOUT = 5.0
    settings.INFOBIP_OUTBOX_BACKOFF_BASE = 0.02
    settings.INFOBIP_OUTBOX_BACKOFF_CAP = 0.2
    settings.INFOBIP_OUTBOX_MAX_ATTEMPTS = 60
    settings.INFOBIP_OUTBOX_AUTODRAIN = False
    settings.INFOBIP_OUTBOX_CLAIM = 1000


CLUSTER_ENV = {
    "Q_WORKERS": "2",
    "Q_USE_REDIS": "false",
    "INFOBIP_RATE_LIMITS": "off",
    "INFOBIP_MAX_RETRIES": "2",
    "INFOBIP_BACKOFF": "0.005",
    "INFOBIP_BACKOFF_CAP": "0.02",
    "INFOBIP_TIMEOUT": "5",
    "INFOBIP_OUTBOX_LEASE_SECONDS": "3",
    "INFOBIP_OUTBOX_BACKOFF_BASE": "0.02",
    "INFOBIP_OUTBOX_BACKOFF_CAP": "0.2",
    "INFOBIP_OUTBOX_MAX_ATTEMPTS": "60",
    "INFOBIP_OUTBOX_CLAIM": "25",  # short rounds: a kill lands mid-drain, with rows leased
    "LOG_LEVEL": "ERROR",
    "DEVELOPMENT": "true",
}


def start_qworker(database_url: str) -> subprocess.Popen:
    """A real `manage.py qworker` cluster (ORM broker) on ``database_url``, in its own process group."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qworker"],
        cwd=ROOT,
        env={**os.environ, **CLUSTER_ENV, "DATABASE_URL": database_url},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def sigkill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


def drain_with_kills(realm: Any, database_url: str, rng: random.Random, *, kills: int, timeout: float) -> list[str]:
    """Drain by a qworker cluster, SIGKILLed ``kills`` times at random points mid-drain (after a random number of
    rows were settled) and started again; returns "settled/total (leased)" at each kill."""
    from django.utils import timezone

    from infobip.models import OutboxEntry, OutboxStatus
    from infobip.outbox.recording import enqueue_drain, wakeup_clear

    rows = OutboxEntry.objects.filter(realm=realm)
    settled = rows.exclude(status=OutboxStatus.PENDING)
    total = rows.count()
    at_kill: list[str] = []
    deadline = time.monotonic() + timeout
    for _ in range(kills + 1):
        wakeup_clear()
        cluster = start_qworker(database_url)
        target = None
        try:
            if len(at_kill) < kills:
                target = min(total - 1, settled.count() + rng.randint(max(1, total // 20), max(2, total // 6)))
            kicked = 0.0
            while rows.filter(status=OutboxStatus.PENDING).exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not settle the outbox in time")
                if target is not None and settled.count() >= target:
                    break
                leased = rows.filter(status=OutboxStatus.PENDING, locked_until__gt=timezone.now()).exists()
                if not leased and time.monotonic() - kicked > 1.0:
                    enqueue_drain()  # the minute schedule's job: rows backed off or left by a dead worker
                    kicked = time.monotonic()
                time.sleep(0.2)
        finally:
            leased = rows.filter(status=OutboxStatus.PENDING, locked_until__gt=timezone.now()).count()
            sigkill(cluster)
            if target is not None:
                at_kill.append(f"{settled.count()}/{total} ({leased} leased)")
    return at_kill


# ---------------------------------------------------------------------------------------------- scenarios


def scenario_changes(realm: Any, n: int, rng: random.Random, drain: Callable[[], None]) -> Mix:
    """Both waves of changes, each drained by ``drain`` (which may kill workers or restart the sandbox)."""
    from people.models import Person

    mix = Mix()
    first = first_wave(realm, n, mix)
    drain()
    pushed = list(Person.objects.filter(pk__in=[p.pk for p in first]))
    second_wave(realm, n, pushed, rng, mix)
    drain()
    return mix


def scenario_undo(realm: Any, sandbox: Any) -> dict[str, Any]:
    """A merge, its push failing, its undo, faults cleared: Infobip ends with both persons as they are here."""
    from people.merge_undo import merge_undo
    from people.merging import persons_merge
    from people.models import Person

    mix = Mix()
    a, b = bulk_creates(realm, 900_000, 2, mix)
    drain_until_settled(realm, timeout=60)
    for endpoint in ("DELETE /people/2/persons", "PUT /people/2/persons", "DELETE /people/2/persons/batch"):
        sandbox.faults.script(endpoint, *([503] * 50))
    record = persons_merge(survivor=Person.objects.get(pk=a.pk), others=[Person.objects.get(pk=b.pk)])
    from infobip.outbox import engine

    engine.drain(max_rounds=2)  # the merge's push fails (503) and backs off
    merge_undo(record=record)
    sandbox.faults.clear()
    drain_until_settled(realm, timeout=60)
    counts = compare(realm, sandbox.store.persons, mix)
    both = sorted(p.get("externalId") for p in sandbox.store.persons.values())
    return {"counts": counts, "profiles": both, "outbox": outbox_counts(realm)}


def report(
    name: str, realm: Any, mix: Mix, counts: dict[str, int], outbox: dict[str, int], stats: dict, seconds: float
) -> bool:
    faults = {kind: sum(v.values()) for kind, v in stats.get("faults", {}).items()}
    calls = sum(stats.get("calls", {}).values())
    ok = not any(counts.values()) and set(outbox) <= {"done", "skipped", "superseded"}
    print(
        f"{name}: {mix.changes:,} changes {dict(mix.ops)} in {seconds:.0f}s, {calls:,} calls, faults {faults}; "
        f"outbox {outbox}; " + ", ".join(f"{k} {v}" for k, v in counts.items()) + (" — OK" if ok else " — FAILED"),
        flush=True,
    )
    for line in EXAMPLES[:5]:
        print(f"  {line}", flush=True)
    EXAMPLES.clear()
    from infobip.models import OutboxEntry

    for entry in OutboxEntry.objects.filter(realm=realm, status="dead")[:5]:
        print(f"  dead: {entry.entity} {entry.entity_id} {entry.op}: {entry.last_error[:300]}", flush=True)
    return ok


def _summed(all_stats: list[dict]) -> dict:
    """Calls and faults of sandboxes one after the other (a restarted sandbox counts from zero)."""
    out: dict[str, dict[str, Any]] = {"calls": defaultdict(int), "faults": defaultdict(lambda: defaultdict(int))}
    for stats in all_stats:
        for endpoint, n in stats.get("calls", {}).items():
            out["calls"][endpoint] += n
        for kind, by_endpoint in stats.get("faults", {}).items():
            for endpoint, n in by_endpoint.items():
                out["faults"][kind][endpoint] += n
    return out


def _realm(name: str, sandbox: Any) -> Any:
    from identities.models import Realm
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
    from tests.identities.factories import RealmFactory

    Realm.objects.filter(name=name).delete()
    return RealmFactory(name=name, cdp_enabled=True, infobip_base_url=sandbox.url, infobip_api_key=SANDBOX_API_KEY)


def _sandbox(port: int = 0, state_file: str | None = None) -> Any:
    from infobip.sandbox.faults import FaultConfig
    from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
    from infobip.sandbox.server import SandboxServer

    server = SandboxServer(
        "127.0.0.1", port, api_keys=[SANDBOX_API_KEY], rate_limits="off", state_file=state_file, faults=FaultConfig()
    )
    return server.start()


def run_all(n: int, seed: int, database_url: str, only: set[str]) -> bool:
    from django.conf import settings

    from infobip.client import clear_client_cache

    fast_outbox(settings)
    rng = random.Random(seed)
    ok = True
    for name in ("faults", "sigkill", "restart"):
        if only and name not in only:
            continue
        clear_client_cache()
        sandbox = _sandbox(state_file=str(Path(tempfile.mkdtemp()) / "state.json") if name == "restart" else None)
        sandbox.faults.configure(seed=seed, **FAULTS)
        realm = _realm(f"Faults {name}", sandbox)
        started = time.monotonic()
        holder = {"sandbox": sandbox}
        drain = _drainer(name, realm, holder, rng, database_url, timeout=max(600.0, n / 5))
        mix = scenario_changes(realm, n, rng, drain)
        sandbox = holder["sandbox"]
        seconds = time.monotonic() - started
        stats = _summed([*holder.get("stats", []), sandbox.stats()])  # a restarted sandbox counts from zero
        counts = compare(realm, sandbox.store.persons, mix)
        ok &= report(name, realm, mix, counts, outbox_counts(realm), stats, seconds)
        sandbox.stop()
    if not only or "undo" in only:
        clear_client_cache()
        sandbox = _sandbox()
        result = scenario_undo(_realm("Faults undo", sandbox), sandbox)
        good = not any(result["counts"].values()) and len(result["profiles"]) == 2
        print(f"undo: Infobip has {result['profiles']}; outbox {result['outbox']}; {result['counts']}", flush=True)
        ok &= good
        sandbox.stop()
    return ok


def _drainer(name: str, realm: Any, holder: dict, rng: random.Random, database_url: str, timeout: float):
    if name == "faults":
        return lambda: drain_until_settled(realm, timeout=timeout)
    if name == "sigkill":
        plan = [1, 2]  # three kills: one in the first wave's drain, two in the second's

        def killed() -> None:
            at_kill = drain_with_kills(realm, database_url, rng, kills=plan.pop(0), timeout=timeout)
            print(f"  sigkill: SIGKILLed at {at_kill}", flush=True)

        return killed

    def restart_midway() -> None:
        from infobip.outbox import engine

        engine.drain(max_rounds=2)
        old = holder["sandbox"]
        port, state_file, config = old.port, str(old.state.path), old.faults.config
        old.stop()  # flushes its state file; the next one starts from it
        holder.setdefault("stats", []).append(old.stats())
        holder["sandbox"] = new = _sandbox(port, state_file)
        new.faults.configure(config)
        print(f"  restart: sandbox restarted with {len(new.store.persons)} persons from its state file", flush=True)
        drain_until_settled(realm, timeout=timeout)

    return restart_midway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--database", default="cdpadmin_bench_faults")
    parser.add_argument("--only", default="", help="comma-separated: faults, sigkill, restart, undo")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin").rsplit("/", 1)[0]
    database_url = f"{base}/{args.database}"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
    os.environ["INFOBIP_OUTBOX_AUTODRAIN"] = "false"
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**params) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    sys.exit(0 if run_all(args.changes, args.seed, database_url, only) else 1)


if __name__ == "__main__":
    main()
