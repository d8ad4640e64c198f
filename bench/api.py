"""Benchmark of the REST API against a bare DRF endpoint on the same gunicorn, in the same run.

    .venv/bin/python bench/api.py                      # 100,000 identities with persons (the issue's size)
    .venv/bin/python bench/api.py --identities 20000   # a quicker check

Creates (and drops afterwards, unless --keep) the database <DATABASE_URL's name>_bench_api on the same server
(so engineers sharing a server never drop each other's), with --reuse takes a kept one as it is,
seeds it with people.seeding.seed_persons, starts gunicorn with 2 workers on a free port with
API_BENCH_ENDPOINT=1 (which adds the bare endpoint /v1/_bench/ping), then drives each endpoint for --seconds
with --threads client threads (requests.Session each) and prints requests/s, p50 and p99 and the ratio to the
bare endpoint. The load generator shares the machine with the server, so absolute figures depend on it; the
ratios are the point. Aim (issue 3): reads >= 50 % of the bare endpoint's rate, creates >= 25 %.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
PERSONS_FILTER = {"#and": [{"#startsWith": {"lastName": "Smi"}}, {"#contains": {"tags": "VIP Customers"}}]}


def bench_database_name() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin")
    return f"{urlsplit(base).path.lstrip('/') or 'cdpadmin'}_bench_api"


BENCH_DB = bench_database_name()


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin")
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DB}", parts.query, parts.fragment))


def run_manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)


def drop_database(env: dict[str, str]) -> None:
    code = (
        "import psycopg, os\n"
        "from urllib.parse import urlsplit, urlunsplit\n"
        "p = urlsplit(os.environ['DATABASE_URL'])\n"
        "admin = urlunsplit((p.scheme.replace('postgres', 'postgresql'), p.netloc, '/postgres', '', ''))\n"
        "with psycopg.connect(admin, autocommit=True) as c:\n"
        f"    c.execute('DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def vacuum(env: dict[str, str]) -> None:
    """VACUUM ANALYZE after the bulk load: the state autovacuum keeps a live database in (visibility map set,
    so index-only scans are possible; statistics current)."""
    code = (
        "import psycopg, os\n"
        "url = os.environ['DATABASE_URL'].replace('postgres://', 'postgresql://', 1)\n"
        "with psycopg.connect(url, autocommit=True) as c:\n"
        "    c.execute('VACUUM ANALYZE')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def seed(env: dict[str, str], identities: int, *, reuse: bool = False) -> tuple[str, list[str]]:
    """Seed in a child process (Django configured for the bench database); returns (api key, identity ids).
    With `reuse`, a realm seeded by an earlier --keep run is taken as it is (a new key is made for it)."""
    code = f"""
import json, django
django.setup()
from identities.models import Identity, Realm
from identities.services import api_key_create, realm_create
from people.seeding import seed_persons
realm = Realm.objects.filter(name="Bench").first() if {reuse!r} else None
if realm is None:
    realm = realm_create(name="Bench", default_country="HR", default_currency="EUR")
    seed_persons(realm=realm, persons={identities}, identities="all", events_per_person=0)
_, plain = api_key_create(realm=realm)
ids = list(Identity.objects.filter(realm=realm).values_list("id", flat=True)[:5000])
print(json.dumps({{"key": plain, "ids": ids}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "cdpadmin.settings"},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["key"], data["ids"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "cdpadmin.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env={**env, "API_BENCH_ENDPOINT": "1", "LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/_bench/ping", timeout=10).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def measure(name: str, make_request, *, threads: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = itertools.count()

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        mine, bad = [], 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = make_request(session, next(counter))
            mine.append(time.perf_counter() - started)
            if response.status_code >= 300:
                bad += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "name": name,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep run left (implies --keep)")
    args = parser.parse_args()
    args.keep = args.keep or args.reuse

    env = {**os.environ, "DATABASE_URL": bench_database_url()}
    if not args.reuse:
        drop_database(env)
    print(f"seeding {args.identities:,} identities with persons into {BENCH_DB} ...", flush=True)
    started = time.monotonic()
    run_manage("ensure_database", env=env)
    run_manage("migrate", "--noinput", "-v0", env=env)
    key, ids = seed(env, args.identities, reuse=args.reuse)
    vacuum(env)
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
    port = free_port()
    server = start_gunicorn(env, port)
    base = f"http://127.0.0.1:{port}"
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    rnd = random.Random(7)
    run_id = f"{os.getpid()}-{int(time.time())}"
    filter_param = quote(json.dumps(PERSONS_FILTER))

    def ping(session, _):
        return session.get(f"{base}/v1/_bench/ping", timeout=10)

    def get_identity(session, _):
        return session.get(f"{base}/v1/identities/{rnd.choice(ids)}?populate=person", headers=headers, timeout=10)

    def list_persons(session, _):
        return session.get(f"{base}/v1/identities/persons?limit=100&filter={filter_param}", headers=headers, timeout=30)

    def create_person(session, n):
        body = {
            "country": "HR", "type": "person", "alias": f"bench-{n}",
            "person": {"firstName": "Bench", "lastName": f"Person{n}", "tags": ["Bench"],
                       "contactInformation": {"email": [{"address": f"bench.{run_id}.{n}@example.com"}]}},
        }  # fmt: skip
        return session.post(f"{base}/v1/identities/person", data=json.dumps(body), headers=headers, timeout=10)

    try:
        for warm in (ping, get_identity, list_persons):
            warm(requests.Session(), 0)
        results = [
            measure("bare DRF endpoint (baseline)", ping, threads=args.threads, seconds=args.seconds),
            measure("GET /v1/identities/:id?populate=person", get_identity, threads=args.threads, seconds=args.seconds),
            measure("GET /v1/identities/persons?limit=100&filter=…", list_persons, threads=args.threads,
                    seconds=args.seconds),
            measure("POST /v1/identities/person", create_person, threads=args.threads, seconds=args.seconds),
        ]  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            drop_database(env)

    baseline = results[0]["rps"]
    print(f"\n{args.identities:,} identities with persons; gunicorn -w 2; {args.threads} client threads; "
          f"{args.seconds:.0f} s per endpoint; filter={json.dumps(PERSONS_FILTER)}")  # fmt: skip
    print(f"{'endpoint':<48} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for row in results:
        ratio = row["rps"] / baseline if baseline else 0.0
        print(f"{row['name']:<48} {row['requests']:>9} {row['errors']:>7} {row['rps']:>9.1f} {row['p50']:>8.2f} "
              f"{row['p99']:>8.2f} {ratio:>7.2f}")  # fmt: skip
    print("aim: reads >= 0.50 of the baseline, creates >= 0.25")


if __name__ == "__main__":
    main()
