"""Benchmark of the people import (a program, not a test).

    .venv/bin/python bench/import.py                          # full size: ~150,000 rows, 200,000 persons
    .venv/bin/python bench/import.py --rows 20000 --existing 20000   # a quick check
    .venv/bin/python bench/import.py --fresh --rows 150000           # a new realm in a brand-new database

It creates its own database (`cdpadmin_bench_import` on the server of DATABASE_URL), seeds `--existing`
persons with people.seeding.seed_persons, writes a CSV of `--rows` rows (names, two phones, an email, city,
country, birth date, two custom attributes, tags; 10% in-file duplicates, 20% matching seeded persons) and
the same rows as XLSX, then measures in one run:

- ours: analyze and import (RESOLVE AUTOMATICALLY) of the CSV, and of the XLSX on a fresh copy of the same
  database; each in a child process whose peak RSS is reported;
- django-import-export 4.4.3 loading the same rows into the same tables, in its default mode (a lookup and a
  save per row) and with its fastest documented settings (use_bulk, batch_size, skip_diff, skip_html_diff,
  force_init_instance, no transactions per row): persons, then phones and emails resolving their person
  through ForeignKeyWidget. Both need minutes per 10,000 rows, so they get the first --die-default-rows and
  --die-bulk-rows rows of the file and are compared by rows/s. It is given the easy job: a
  realm of its own (nothing to match), contacts de-duplicated for it beforehand, no merging, no validation
  beyond its widgets. So its time is a lower bound of what the same work would cost it;
- raw PostgreSQL COPY of the same file into a bare table: the floor the issue names; and, to show how much
  of the rest the schema itself costs, the import's new persons, phones, emails and tag links written again
  server-side (INSERT … SELECT, no Python) into the real tables with their indexes and foreign keys.

Every run prints where the time went (per phase), each batch's wall time and CPU time (ours + the PostgreSQL
backend's, read from /proc: the machine's load inflates wall time, not CPU) with the ratio of the last
quarter's batches to the first quarter's, and the peak RSS (ru_maxrss) of the worker and of the analysis's
children. --fresh measures the first import of a new realm into a brand-new database (migrated, never
analyzed) and the baselines after it. Files go to var/bench/<database>/, so two runs never share them. Then it
prints the figures and the ratios, and drops its databases (unless --keep-db).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_IMPORT_DB", "cdpadmin_bench_import")  # distinct names let runs share a server
TEMPLATE_NAME = f"{DB_NAME}_tpl"
HEADER = [
    "First name", "Last name", "Phone", "Phone 2", "Email", "City", "Country", "Birth date", "Loyalty Points",
    "Favourite Store", "Tags",
]  # fmt: skip
MAX_BYTES = 15 * 1024 * 1024


def _server_url(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin")
os.environ["DATABASE_URL"] = _server_url(BASE_URL, DB_NAME)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _admin_execute(*statements: str) -> None:
    import psycopg

    with psycopg.connect(_server_url(BASE_URL, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _recreate(name: str, template: str | None = None) -> None:
    from django.db import connections

    connections.close_all()
    _admin_execute(
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
        f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""),
    )


def _mb(value: float) -> float:
    return value / (1024 * 1024)


# ------------------------------------------------------------------------------------------------- data


def build_rows(realm, rows: int, seed: int = 7) -> list[list[str]]:
    """10% of the rows repeat an earlier row's phone (in-file duplicates), 20% carry a seeded person's phone."""
    import unicodedata

    from django.db import connection

    from people.seeding import CITIES, FIRST_NAMES, LAST_NAMES, TAGS

    def ascii_only(text: str) -> str:
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()

    rnd = random.Random(seed)
    matching = int(rows * 0.2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT number FROM people_personphone WHERE realm_id = %s ORDER BY md5(number) LIMIT %s",
            [realm.pk, matching],
        )
        existing = [row[0] for row in cursor.fetchall()]
    out: list[list[str]] = []
    for i in range(rows):
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        country = rnd.choice(list(CITIES))
        phone = f"+3859{rnd.choice([1, 2, 5, 8, 9])}{5_000_000 + i:07d}"
        if i % 10 == 9 and out:
            phone = out[rnd.randrange(len(out))][2]  # an in-file duplicate
        elif i % 5 == 0 and existing:
            phone = "+" + existing.pop()  # a person already in the database
        second = f"0049176{i:08d}" if rnd.random() < 0.5 else ""  # seeded persons never have 49176…
        email = ascii_only(f"{first[:3]}.{last[:4]}{i}@ex.hr").lower()
        out.append(
            [first, last, phone, second, email, rnd.choice(CITIES[country]),
             country, f"{rnd.randrange(1950, 2005)}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
             str(rnd.randrange(5000)), rnd.choice(["Ilica", "Arena", "Korzo", ""]),
             rnd.choice(TAGS) if rnd.random() < 0.4 else ""]
        )  # fmt: skip
    return out


def bench_folder() -> Path:
    """The files of this run, in a folder per benchmark database: two runs on one machine never share them."""
    return ROOT / "var" / "bench" / DB_NAME


def write_files(rows: list[list[str]], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / "people.csv", folder / "people.xlsx"
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("People")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(xlsx_path)
    return csv_path, xlsx_path


# -------------------------------------------------------------------------------------------------- ours


PHASES = (
    ("read", "read the file (CSV reader alone, measured apart)"),
    ("parse", "analysis: parse, validate, normalise phones (all cores)"),
    ("stage", "analysis: COPY staging rows"),
    ("dedupe", "analysis: dedupe groups + match persons + counts"),
    ("match", "apply: match keys to persons"),
    ("plan", "apply: resolve groups / merges (Python)"),
    ("persons", "apply: persons COPY / UPDATE … FROM"),
    ("contacts", "apply: phones, emails COPY + tag links"),
    ("outbox", "apply: outbox rows"),
    ("rest", "apply: read staged rows, fold, issues, batch rows, commit"),
    ("plan_batches", "run: plan the batches"),
    ("refresh", "run: ANALYZE when a table has grown (between batches)"),
    ("finish", "run: delete the staged rows"),
)


_LOCK = threading.Lock()
_LOCAL = threading.local()  # the batch a worker thread is applying: its own steps' times


def _instrument(phases: dict[str, float]) -> None:
    """Wrap the import's steps with timers (same code, same calls), so the child can say where each second went:
    summed over the apply workers in ``phases``, and per batch in the batch's own record."""
    from imports import analysis, apply, batches

    def timed(owner, name, key_of):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = key_of(*args, **kwargs)
                if key:
                    spent = time.perf_counter() - started
                    with _LOCK:
                        phases[key] = phases.get(key, 0.0) + spent
                    own = getattr(_LOCAL, "phases", None)
                    if own is not None:
                        own[key] = own.get(key, 0.0) + spent

        setattr(owner, name, wrapper)

    staging = {"imports_importissue": "parse", "imports_importrow": "stage"}
    timed(analysis, "copy_rows", lambda table, *a, **k: staging.get(table))
    from imports import services

    timed(services, "analyze_job", lambda *a, **k: "analysis")
    timed(batches, "run_batch", lambda *a, **k: "apply")
    timed(apply, "key_owners", lambda *a, **k: "match")
    timed(apply, "resolve_targets", lambda *a, **k: "plan_all")
    timed(apply, "outbox_record_many", lambda *a, **k: "outbox")
    timed(apply.person_bulk, "persons_insert", lambda *a, **k: "persons")
    timed(apply.person_bulk, "persons_update", lambda *a, **k: "persons")
    timed(apply.person_bulk, "contacts_add", lambda *a, **k: "contacts")
    timed(batches.apply, "apply_batch", lambda *a, **k: "apply_batch")
    timed(batches, "plan_batches", lambda *a, **k: "plan_batches")
    timed(batches, "statistics_refresh", lambda *a, **k: "refresh")
    timed(batches, "finish", lambda *a, **k: "finish")


_TICK = os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _backend_cpu_seconds(pid: int) -> float:
    """CPU seconds so far of PostgreSQL backend ``pid`` (same machine: /proc), user + system; NaN when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # a server on another machine, or the backend closed (CONN_MAX_AGE): unknown
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICK


def _instrument_batches(batches_out: list[dict]) -> None:
    """Each batch's wall time, its worker thread's CPU and its PostgreSQL backend's CPU (which the machine's load
    does not inflate the way it inflates wall time). Workers apply batches at once: each has its own thread and
    connection; the WAL counters are the server's, so batches running together share theirs."""
    from imports import batches

    original = batches.run_batch

    def run_batch(job, context, batch, **kwargs):
        pid = _backend_pid()
        checkpoints, wal = _wal_counters()
        server, own, wall = _backend_cpu_seconds(pid), _thread_cpu_seconds(), time.perf_counter()
        _LOCAL.phases = {}
        try:
            return original(job, context, batch, **kwargs)
        finally:
            batches_out.append(
                {
                    "number": batch.number,
                    "thread": threading.get_ident(),
                    "wall": time.perf_counter() - wall,
                    "cpu": _thread_cpu_seconds() - own,
                    # NaN when Django reconnected during the batch (CONN_MAX_AGE): that batch is left out
                    "server_cpu": _backend_cpu_seconds(pid) - server if _backend_pid() == pid else float("nan"),
                    "phases": _LOCAL.phases,
                    **dict(zip(("checkpoints", "wal_bytes"), _delta(_wal_counters(), (checkpoints, wal)), strict=True)),
                }
            )
            _LOCAL.phases = None

    batches.run_batch = run_batch


def _wal_counters() -> tuple[int, int]:
    """(checkpoints so far, WAL bytes written so far) of the whole server. After a checkpoint starts, the first
    change of every page writes the whole page to WAL: batches then write more WAL and cost the server more for
    a while, whatever the tables hold, so the bench shows each batch's WAL."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter), "
            "pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
        )
        return tuple(int(v) for v in cursor.fetchone())


def _delta(after: tuple[int, int], before: tuple[int, int]) -> tuple[int, int]:
    return tuple(a - b for a, b in zip(after, before, strict=True))


def _checkpoint() -> None:
    """Start the measurement right after a checkpoint (as pgbench does), so a timed one is less likely to fall
    inside the run; needs a superuser, else the bench goes on without it."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over fork and exec, so a child
    spawned by a parent grown to 380 MB reports at least 380 MB whatever it used itself."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _thread_cpu_seconds() -> float:
    """The calling thread's CPU seconds (a worker's own, not its neighbours')."""
    own = resource.getrusage(resource.RUSAGE_THREAD)
    return own.ru_utime + own.ru_stime


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _ours_child(path: str, queue, without_refresh: bool = False, workers: int | None = None) -> None:
    import django

    django.setup()
    from django.conf import settings

    from identities.models import Realm
    from imports import analysis, batches, readers, services

    if without_refresh:  # the way it was before statistics_refresh: to compare, in the same run
        analysis.statistics_refresh = batches.statistics_refresh = lambda tables: []

    phases: dict[str, float] = {}
    _instrument(phases)
    batch_times: list[dict] = []
    _instrument_batches(batch_times)
    if workers:
        settings.IMPORT_APPLY_WORKERS = workers
    realm = Realm.objects.get(name="Bench")
    started = time.perf_counter()
    job = services.import_job_from_path(realm=realm, path=Path(path))
    job = services.import_job_map(job=job, mapping=job.mapping)
    read_started = time.perf_counter()
    for _ in readers.table_rows(Path(job.data_file.path), analysis.table_info(job))[1]:
        pass
    phases["read"] = time.perf_counter() - read_started
    started += phases["read"]  # measured apart, not part of the run
    cpu = _cpu_seconds()
    job = services.import_job_analyze(job=job)
    analyzed = time.perf_counter()
    analyze_cpu = _cpu_seconds() - cpu
    job = services.import_job_start(job=job, strategy="resolve", enqueue=False)
    _checkpoint()
    profile_path = os.environ.get("BENCH_IMPORT_PROFILE")  # --profile: the import step under cProfile
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        job = profiler.runcall(services.import_job_run, job=job)
        profiler.dump_stats(profile_path)
    else:
        job = services.import_job_run(job=job)
    done = time.perf_counter()
    phases["dedupe"] = phases.pop("analysis") - phases.get("parse", 0) - phases.get("stage", 0)
    applied = phases.pop("apply_batch", 0.0)
    phases["plan"] = phases.pop("plan_all", 0.0)  # resolve_targets: key_owners runs before it, apart
    batch_total = phases.pop("apply", 0.0)
    phases["fetch_rest"] = batch_total - applied
    phases["rest"] = applied - sum(phases.get(k, 0.0) for k in ("match", "plan", "persons", "contacts", "outbox"))
    phases["rest"] += phases.pop("fetch_rest")
    queue.put(
        {
            "status": job.status,
            "job_id": job.pk,
            "error": job.error,
            "analyze": analyzed - started,
            "analyze_cpu": analyze_cpu,
            "import": done - analyzed,
            "import_cpu": _cpu_seconds() - cpu - analyze_cpu,
            "counts": job.counts(),
            "phases": phases,
            "batches": sorted(batch_times, key=lambda b: b["number"]),
            "workers": len({b["thread"] for b in batch_times}),  # the workers that applied a batch
            "mapping": {e["header"]: e["field"] for e in job.mapping},
            "peak_mb": _peak_rss_mb(),
            "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }
    )


def print_phases(result: dict) -> None:
    phases = result["phases"]
    print(f"  where the time went (wall s; machine shared, see CPU): analyze {result['analyze']:.2f} s wall / "
          f"{result['analyze_cpu']:.2f} s CPU of this process and its workers; import {result['import']:.2f} s wall / "
          f"{result['import_cpu']:.2f} s CPU (the server's CPU not counted); apply steps summed over its "
          f"{result['workers']} worker(s)")  # fmt: skip
    for key, label in PHASES:
        if key in phases:
            print(f"    {label:58} {phases[key]:8.2f}")
    print(f"  peak RSS: worker {result['peak_mb']:.0f} MB, largest analysis child {result['workers_peak_mb']:.0f} MB")


def run_ours(path: Path, *, without_refresh: bool = False, workers: int | None = None) -> dict:
    from django.db import connections

    connections.close_all()
    # A fresh interpreter, so its peak RSS is the import's own (a forked child would count the parent's rows).
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_ours_child, args=(str(path), queue, without_refresh, workers))
    child.start()
    result = queue.get()
    child.join()
    return result


# ----------------------------------------------------------------------------------- django-import-export


def run_django_import_export(csv_path: Path, *, bulk: bool = True, limit: int | None = None) -> dict:
    """The same rows (the first ``limit``) into people_person, people_personphone and people_personemail of a
    realm of its own; ``bulk``: its fastest documented settings (create-only: nothing to match), else its
    defaults (a lookup and a save per row)."""
    import tablib
    from django.db import connection, transaction
    from import_export import fields, resources, widgets

    from identities.models import Realm
    from people.models import Person, PersonEmail, PersonPhone
    from people.validation import normalize_email, normalize_phone

    mode = "bulk" if bulk else "default"
    realm = Realm.objects.create(
        name=f"Bench DIE {mode}", slug=f"bench-die-{mode}", default_country="HR", default_currency="EUR"
    )

    class Fast:
        if bulk:
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            skip_html_diff = True
            force_init_instance = True
            use_transactions = True

    class PersonResource(resources.ModelResource):
        class Meta(Fast):
            model = Person
            fields = ("realm", "external_id", "first_name", "last_name", "city", "country", "birth_date",
                      "custom_attributes", "origin")  # fmt: skip
            import_id_fields = ("realm", "external_id")

    class RealmPersonWidget(widgets.ForeignKeyWidget):
        """The person by externalId within the realm, so each lookup is a probe of the (realm, external_id)
        unique index rather than a scan of every realm's persons."""

        def get_queryset(self, value, row, *args, **kwargs):
            return Person.objects.filter(realm_id=realm.pk)

    class PhoneResource(resources.ModelResource):
        person = fields.Field("person", "person", RealmPersonWidget(Person, field="external_id"))

        class Meta(Fast):
            model = PersonPhone
            fields = ("realm", "person", "number")
            import_id_fields = ("realm", "number")

    class EmailResource(resources.ModelResource):
        person = fields.Field("person", "person", RealmPersonWidget(Person, field="external_id"))

        class Meta(Fast):
            model = PersonEmail
            fields = ("realm", "person", "address")
            import_id_fields = ("realm", "address")

    started = time.perf_counter()
    source = tablib.Dataset().load(csv_path.read_text(encoding="utf-8"), format="csv")
    persons = tablib.Dataset(headers=list(PersonResource.Meta.fields))
    phones = tablib.Dataset(headers=["realm", "person", "number"])
    emails = tablib.Dataset(headers=["realm", "person", "address"])
    seen: set[str] = set()
    source_rows = source.dict if limit is None else source.dict[:limit]
    for index, row in enumerate(source_rows):
        external_id = f"die-{mode}-{index}"
        custom = {"Loyalty Points": int(row["Loyalty Points"] or 0)}
        if row["Favourite Store"]:
            custom["Favourite Store"] = row["Favourite Store"]
        persons.append([realm.pk, external_id, row["First name"], row["Last name"], row["City"], row["Country"],
                        row["Birth date"], json.dumps(custom), "IMPORT"])  # fmt: skip
        for raw in (row["Phone"], row["Phone 2"]):
            if raw:
                number = normalize_phone(raw, "HR")
                if number not in seen:
                    seen.add(number)
                    phones.append([realm.pk, external_id, number])
        address = normalize_email(row["Email"])
        if address.lower() not in seen:
            seen.add(address.lower())
            emails.append([realm.pk, external_id, address])
    results = []
    resource_seconds = {}
    for resource_class, dataset in ((PersonResource, persons), (PhoneResource, phones), (EmailResource, emails)):
        resource_started = time.perf_counter()
        result = resource_class().import_data(dataset, raise_errors=True)
        resource_seconds[resource_class.__name__] = round(time.perf_counter() - resource_started, 2)
        results.append(result.totals)
    elapsed = time.perf_counter() - started
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_person WHERE realm_id = %s", [realm.pk])
        count = cursor.fetchone()[0]
    return {
        "seconds": elapsed,
        "rows": len(source_rows),
        "rate": len(source_rows) / elapsed,
        "persons": count,
        "totals": [dict(t) for t in results],
        "resource_seconds": resource_seconds,
    }


# ------------------------------------------------------------------------------------------------ floor


def run_copy(csv_path: Path) -> float:
    from django.db import connection

    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS bench_bare; CREATE TABLE bench_bare ({columns})")
        started = time.perf_counter()
        sql = "COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)"
        with cursor.cursor.copy(sql) as copy, open(csv_path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_bare")
    return elapsed


def run_schema_floor() -> tuple[float, int]:
    """What writing the import's new persons costs the real tables alone (their indexes, constraints and
    deferred foreign-key checks), with no Python in the way: the persons, phones, emails and tag links the
    import created, and their outbox and history rows, copied server-side into a realm of their own in one
    transaction."""
    from django.db import connection, transaction

    from identities.models import Realm

    source = Realm.objects.get(name="Bench")
    target = Realm.objects.create(name="Bench floor", slug="bench-floor", default_country="HR", default_currency="EUR")
    person_columns = (
        "type, external_id, first_name, middle_name, last_name, gender, birth_date, address, city, country, "
        "preferred_language, profile_picture, origin, modified_from, custom_attributes, company_id, sync_status, "
        "sync_error, created, modified"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE floor_map ON COMMIT DROP AS SELECT id AS old_id, "
            "nextval(pg_get_serial_sequence('people_person', 'id')) AS new_id "
            "FROM people_person WHERE realm_id = %s AND origin = 'IMPORT'",
            [source.pk],
        )
        cursor.execute(
            f"INSERT INTO people_person (id, realm_id, {person_columns}) "
            f"SELECT m.new_id, %s, {person_columns} FROM people_person p JOIN floor_map m ON p.id = m.old_id",
            [target.pk],
        )
        persons = cursor.rowcount
        for table, column in (("people_personphone", "number"), ("people_personemail", "address")):
            cursor.execute(
                f"INSERT INTO {table} (realm_id, person_id, {column}, created) "
                f"SELECT %s, m.new_id, c.{column}, c.created FROM {table} c JOIN floor_map m ON c.person_id = m.old_id",
                [target.pk],
            )
        cursor.execute(
            "INSERT INTO people_person_tags (person_id, tag_id) "
            "SELECT m.new_id, t.tag_id FROM people_person_tags t JOIN floor_map m ON t.person_id = m.old_id"
        )
        # The outbox rows and history rows the import wrote for them (an import writes both).
        cursor.execute(
            "INSERT INTO infobip_outboxentry (realm_id, entity, entity_id, op, payload, status, attempts, "
            "next_attempt_at, last_error, created, locked_by) "
            "SELECT %s, o.entity, m.new_id::text, o.op, o.payload, o.status, 0, o.next_attempt_at, '', o.created, '' "
            "FROM infobip_outboxentry o JOIN floor_map m ON o.entity_id = m.old_id::text "
            "WHERE o.realm_id = %s AND o.entity = 'person'",
            [target.pk, source.pk],
        )
        cursor.execute(
            "INSERT INTO people_personactivity (realm_id, person_id, created, actor_kind, actor_id, actor_label, "
            "action, fields, detail) SELECT %s, m.new_id, a.created, a.actor_kind, a.actor_id, a.actor_label, "
            "a.action, a.fields, a.detail FROM people_personactivity a JOIN floor_map m ON a.person_id = m.old_id",
            [target.pk],
        )
    return time.perf_counter() - started, persons


# ------------------------------------------------------------------------------------------------ fresh


def quarter_ratio(times: list[float]) -> float:
    """Mean batch time of the last quarter over that of the first (the first batch, into empty tables, left out
    when there are enough batches)."""
    body = times[1:] if len(times) >= 5 else times
    quarter = max(len(body) // 4, 1)
    first = [t for t in body[:quarter] if t == t]  # NaN (unknown) left out
    last = [t for t in body[-quarter:] if t == t]
    if not first or not last or not sum(first):
        return float("nan")
    return (sum(last) / len(last)) / (sum(first) / len(first))


def print_batches(result: dict) -> None:
    """Per batch: wall, this process's CPU, the PostgreSQL backend's CPU; quarter ratios of wall and of CPU."""
    batches = result["batches"]
    if not batches:
        return
    wall = [b["wall"] for b in batches]
    cpu = [b["cpu"] + b["server_cpu"] for b in batches]
    print("  per batch wall (s):             " + " ".join(f"{t:.2f}" for t in wall))
    print("  per batch CPU, ours+server (s): " + " ".join(f"{t:.2f}" for t in cpu))
    print("  of which the server's (s):      " + " ".join(f"{b['server_cpu']:.2f}" for b in batches))
    print(f"  last quarter / first quarter: wall {quarter_ratio(wall):.2f}x, CPU {quarter_ratio(cpu):.2f}x"
          "   (aim: at most 1.5x; CPU is what the machine's load does not inflate)")  # fmt: skip
    print("  WAL written per batch (MB):     " + " ".join(f"{b.get('wal_bytes', 0) / 1e6:.0f}" for b in batches))
    during = [i + 1 for i, b in enumerate(batches) if b.get("checkpoints")]
    if during:
        print(
            f"  a checkpoint was counted during batch {', '.join(map(str, during))}: after one starts, batches "
            "write whole pages to WAL (more MB above) and cost the server more, whatever the tables hold"
        )
    names = sorted({name for b in batches for name in b.get("phases", {})})
    ratios = [f"{name} {quarter_ratio([b.get('phases', {}).get(name, 0.0) for b in batches]):.2f}x" for name in names]
    print("  last / first quarter per step (wall): " + ", ".join(ratios))


def run_baselines(csv_path: Path, rows: int, die_rows: tuple[int, int], skip_die: bool) -> dict:
    """The same file, in the same run: raw COPY, django-import-export's bulk mode and its default mode (the
    first ``die_rows`` rows of the file: both need minutes per 10,000; compared by rows/s), each in a realm
    of its own."""
    die_bulk_rows, die_default_rows = die_rows
    from django.db import connections

    connections.close_all()
    out: dict = {"copy": run_copy(csv_path), "rows": rows}
    if not skip_die:
        out["die_bulk"] = run_django_import_export(csv_path, bulk=True, limit=die_bulk_rows or None)
        if die_default_rows:
            out["die_default"] = run_django_import_export(csv_path, bulk=False, limit=die_default_rows)
    return out


def print_comparison(rows: int, ours: dict, base: dict, label: str) -> None:
    total = ours["analyze"] + ours["import"]
    copy = base["copy"]
    print(f"\n{label}: {rows:,} rows")
    print(f"{'':44} {'seconds':>9} {'rows/s':>10} {'peak MB':>8}")
    print(f"{'ours, analyze':44} {ours['analyze']:9.2f} {rows / ours['analyze']:10,.0f}")
    print(f"{'ours, import RESOLVE':44} {ours['import']:9.2f} {rows / ours['import']:10,.0f}")
    print(f"{'ours, analyze + import':44} {total:9.2f} {rows / total:10,.0f} {ours['peak_mb']:8.0f}")
    ours_rate = rows / total
    if "die_bulk" in base:
        die = base["die_bulk"]
        label = f"django-import-export bulk, create-only ({die['rows']:,})"
        print(f"{label:44} {die['seconds']:9.2f} {die['rate']:10,.0f}"
              f"   {die['resource_seconds']}")  # fmt: skip
    if "die_default" in base:
        die = base["die_default"]
        label = f"django-import-export default (first {die['rows']:,})"
        print(f"{label:44} {die['seconds']:9.2f} {die['rate']:10,.0f}   {die['resource_seconds']}")
    print(f"{'PostgreSQL COPY into a bare table':44} {copy:9.2f} {rows / copy:10,.0f}")
    if "floor" in base:
        floor, floor_persons = base["floor"]
        label = f"same new persons, SQL only ({floor_persons:,})"
        print(f"{label:44} {floor:9.2f}   (persons, contacts, tag links, outbox and history rows: no Python)")
        print(f"the tables' own cost / COPY:         {floor / copy:6.1f}x  (indexes, constraints, key checks)")
        print(f"ours, import / the tables' own cost: {ours['import'] / floor:6.1f}x")
    if "die_default" in base:
        ratio = ours_rate / base["die_default"]["rate"]
        print(f"ours / django-import-export default: {ratio:6.1f}x faster (rows/s; aim: at least 20x)")
    if "die_bulk" in base:
        ratio = ours_rate / base["die_bulk"]["rate"]
        print(f"ours / django-import-export bulk:    {ratio:6.2f}x faster (rows/s; aim: above 1x)")
    print(f"analyze + import / COPY:             {total / copy:6.1f}x  (aim: within 10x)")
    print(f"peak RSS of the worker:              {ours['peak_mb']:6.0f} MB (aim: under 500 MB); "
          f"largest analysis child {ours['workers_peak_mb']:.0f} MB")  # fmt: skip


def run_fresh(
    rows: int, batch_rows: int, compare: bool, die_rows: tuple[int, int], skip_die: bool, workers: int | None = None
) -> None:
    """The first import of a new realm into a brand-new database (migrated, nothing analyzed), per batch; then
    the baselines on the same file in the same database."""
    import django

    os.environ["IMPORT_BATCH_ROWS"] = str(batch_rows)
    runs = [("ours", False, workers)]
    if compare:
        runs += [("ours without statistics_refresh", True, workers), ("ours, one apply worker", False, 1)]
    results = []
    base = None
    for label, without, run_workers in runs:
        _recreate(DB_NAME)
        django.setup()
        from django.core.management import call_command

        from identities.models import Realm

        call_command("migrate", verbosity=0)
        realm = Realm.objects.create(
            name="Bench", slug="bench", default_country="HR", default_currency="EUR", cdp_enabled=True
        )  # cdp_enabled: the import writes an outbox row per created or changed person
        csv_path, _ = write_files(build_rows(realm, rows), bench_folder())
        result = run_ours(csv_path, without_refresh=without, workers=run_workers)
        results.append((label, result))
        if base is None:
            base = run_baselines(csv_path, rows, die_rows, skip_die)
            base["floor"] = run_schema_floor()
    print(f"first import of a new realm into a new database: {rows:,} rows, batches of {batch_rows:,} rows")
    for label, result in results:
        print(f"{label}: {result['status']} {result['counts']}")
        print_batches(result)
        print_phases(result)
    print_comparison(rows, results[0][1], base, "new database, same run")


# ------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--existing", type=int, default=200_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--skip-xlsx", action="store_true", help="skip the XLSX run (a copy of the database)")
    parser.add_argument("--skip-baseline", action="store_true", help="skip django-import-export (slow)")
    parser.add_argument("--fresh", action="store_true", help="only the first import into a brand-new database")
    parser.add_argument("--batch-rows", type=int, default=5000, help="rows per batch (--fresh)")
    parser.add_argument(
        "--compare", action="store_true", help="--fresh also without statistics_refresh, and with one apply worker"
    )
    parser.add_argument("--workers", type=int, help="apply workers (default: IMPORT_APPLY_WORKERS)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of our import step (pstats) to FILE")
    parser.add_argument(
        "--die-default-rows",
        type=int,
        default=5000,
        help="rows given to django-import-export's default (row by row) mode; 0: skip it",
    )
    parser.add_argument(
        "--die-bulk-rows", type=int, default=10_000, help="rows given to its bulk mode; 0: the whole file"
    )
    args = parser.parse_args()
    if args.profile:
        os.environ["BENCH_IMPORT_PROFILE"] = str(Path(args.profile).resolve())
    if args.fresh:
        try:
            die_rows = (args.die_bulk_rows, args.die_default_rows)
            run_fresh(args.rows, args.batch_rows, args.compare, die_rows, args.skip_baseline, args.workers)
        finally:
            if not args.keep_db:
                from django.db import connections

                connections.close_all()
                _admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        return

    _recreate(DB_NAME)
    import django

    django.setup()
    from django.core.management import call_command

    from identities.models import Realm
    from people.seeding import seed_persons

    call_command("migrate", verbosity=0)
    realm = Realm.objects.create(
        name="Bench", slug="bench", default_country="HR", default_currency="EUR", cdp_enabled=True
    )  # cdp_enabled: the import writes an outbox row per created or changed person
    t0 = time.perf_counter()
    seed_persons(realm=realm, persons=args.existing, identities="none", events_per_person=0, batch=50_000)
    print(f"seeded {args.existing:,} persons in {time.perf_counter() - t0:.1f} s")
    rows = build_rows(realm, args.rows)
    csv_path, xlsx_path = write_files(rows, bench_folder())
    size = csv_path.stat().st_size
    print(f"CSV {csv_path} {_mb(size):.1f} MB, {len(rows):,} rows; XLSX {_mb(xlsx_path.stat().st_size):.1f} MB")
    if size > MAX_BYTES:
        print("the CSV is over the 15 MB import limit: use fewer --rows", file=sys.stderr)
        sys.exit(2)
    if not args.skip_xlsx:
        _recreate(TEMPLATE_NAME, template=DB_NAME)

    try:
        ours = run_ours(csv_path, workers=args.workers)
        print(f"ours CSV:  {ours['status']} {ours['counts']}")
        print_batches(ours)
        print_phases(ours)
        schema_floor, floor_persons = run_schema_floor()
        ours_xlsx = None
        if not args.skip_xlsx:
            _recreate(DB_NAME, template=TEMPLATE_NAME)
            ours_xlsx = run_ours(xlsx_path, workers=args.workers)
            print(f"ours XLSX: {ours_xlsx['status']} {ours_xlsx['counts']}")
        die_rows = (args.die_bulk_rows, args.die_default_rows)
        base = run_baselines(csv_path, len(rows), die_rows, args.skip_baseline)
        base["floor"] = (schema_floor, floor_persons)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            _admin_execute(
                f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)",
                f"DROP DATABASE IF EXISTS {TEMPLATE_NAME} WITH (FORCE)",
            )

    total = ours["analyze"] + ours["import"]
    print_comparison(len(rows), ours, base, f"{args.existing:,} existing persons, same run")
    if ours_xlsx:
        total_xlsx = ours_xlsx["analyze"] + ours_xlsx["import"]
        print(f"ours XLSX, analyze + import: {total_xlsx:.2f} s; XLSX / CSV {total_xlsx / total:.2f}x "
              "(aim: within 2x), "
              f"peak {ours_xlsx['peak_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
