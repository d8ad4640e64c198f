"""Where a request of the API spends its time: one process, a fixed request mix, cProfile and the queries.

    .venv/bin/python bench/api.py --keep                  # seed the bench database once
    .venv/bin/python bench/api_profile.py                 # profile each endpoint of bench/api.py
    .venv/bin/python bench/api_profile.py --only list --top 40

Runs in-process against the database that `bench/api.py --keep` left (<DATABASE_URL's name>_bench_api),
through Django's whole WSGI handler (middleware, URL resolving, DRF), as gunicorn's worker would. For every
endpoint it prints the queries of one request (count and SQL), the mean wall time over --requests requests and
the cProfile functions with the most cumulative and own time. The bare endpoint is profiled too, as the
floor that every request pays.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import PERSONS_FILTER, bench_database_url  # noqa: E402 - bench/api.py is a sibling script

os.environ["DATABASE_URL"] = bench_database_url()
os.environ["API_BENCH_ENDPOINT"] = "1"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="per endpoint")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", choices=["ping", "detail", "list", "create"], action="append")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from identities.models import Identity, Realm
    from identities.services import api_key_create

    realm = Realm.objects.filter(name="Bench").first()
    if realm is None:
        raise SystemExit("no bench database: run `bench/api.py --keep` first")
    _, key = api_key_create(realm=realm)
    ids = list(Identity.objects.filter(realm=realm, person__isnull=False).values_list("id", flat=True)[:5000])
    rnd = random.Random(7)
    client = Client(HTTP_X_API_KEY=key)
    run_id = f"{os.getpid()}-{int(time.time())}"
    filter_param = quote(json.dumps(PERSONS_FILTER))

    def create(n: int):
        body = {
            "country": "HR", "type": "person", "alias": f"bench-{n}",
            "person": {"firstName": "Bench", "lastName": f"Person{n}", "tags": ["Bench"],
                       "contactInformation": {"email": [{"address": f"prof.{run_id}.{n}@example.com"}]}},
        }  # fmt: skip
        return client.post("/v1/identities/person", json.dumps(body), content_type="application/json")

    endpoints = {
        "ping": lambda n: client.get("/v1/_bench/ping"),
        "detail": lambda n: client.get(f"/v1/identities/{rnd.choice(ids)}?populate=person"),
        "list": lambda n: client.get(f"/v1/identities/persons?limit=100&filter={filter_param}"),
        "create": create,
    }
    for name, call in endpoints.items():
        if args.only and name not in args.only:
            continue
        for n in range(5):  # warm caches and connections
            response = call(n)
            assert response.status_code < 300, response.content[:500]
        with CaptureQueriesContext(connection) as queries:
            call(10_000)
        print(f"\n=== {name}: {len(queries)} queries")
        for query in queries.captured_queries:
            sql = query["sql"] if args.sql else query["sql"][:160]
            print(f"  {float(query['time']) * 1000:6.2f} ms  {sql}")
        started = time.perf_counter()
        for n in range(args.requests):
            call(30_000 + n)
        plain = (time.perf_counter() - started) / args.requests * 1000
        print(f"  {plain:.2f} ms per request (not profiled, {args.requests} requests)")
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for n in range(args.requests):
            call(40_000 + n)
        profile.disable()
        elapsed = time.perf_counter() - started
        print(f"  {elapsed / args.requests * 1000:.2f} ms per request (profiled, {args.requests} requests)")
        for sort in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(args.top)
            lines = out.getvalue().splitlines()
            start = next(i for i, line in enumerate(lines) if "ncalls" in line)
            print(f"  --- by {sort}")
            print("\n".join(lines[start : start + args.top + 1]))


if __name__ == "__main__":
    main()
