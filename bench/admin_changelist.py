"""The person changelist at scale: queries per page and median server time, beside a bare SELECT of the page.

    .venv/bin/python bench/admin_changelist.py --persons 1000000

Seeds a dedicated database (kept between runs with --keep, so a second run skips the seeding), then requests
each page through Django's test client (the whole admin stack: middleware, session, filters, paginator,
template) and times the same page as one hand-written SQL statement on the same connection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--database", default="cdpadmin_bench_admin")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database for the next run")
    return parser.parse_args()


def setup_django(args) -> None:
    """Points Django at the bench database, creating and migrating it if needed."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin").rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)


def seeded_realm(persons: int):
    """The Bench realm, seeded up to ``persons`` persons; returns (realm, persons it holds)."""
    from identities.models import Realm
    from identities.services import realm_create
    from people.models import Person
    from people.seeding import seed_persons

    realm = Realm.objects.filter(name="Bench").first() or realm_create(
        name="Bench", default_country="HR", default_currency="EUR"
    )
    have = Person.objects.filter(realm=realm).count()
    if have < persons:
        print(f"seeding {persons - have:,} persons ...", flush=True)
        started = time.monotonic()
        seed_persons(realm=realm, persons=persons - have, identities="none", events_per_person=0.1)
        print(f"seeded in {time.monotonic() - started:.0f}s", flush=True)
    return realm, Person.objects.filter(realm=realm).count()


def logged_in_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench", "", "bench-pass-123")
    client = Client()
    client.force_login(user)
    return client


def cases(realm) -> list[tuple[str, dict, str, list]]:
    """(name, changelist query, the same page as one SQL statement, its parameters) of each case."""
    from people.models import PersonEmail, Tag

    email = PersonEmail.objects.filter(realm=realm).order_by("-id").values_list("address", flat=True)[5000]
    tag = Tag.objects.get(realm=realm, name="Churn Risk")
    return [
        (
            "plain",
            {},
            "SELECT p.* FROM people_person p WHERE p.merged_into_id IS NULL ORDER BY p.id DESC LIMIT 100",
            [],
        ),
        (
            "search by email",
            {"q": email},
            "SELECT p.* FROM people_person p WHERE p.merged_into_id IS NULL AND p.id IN "
            "(SELECT person_id FROM people_personemail WHERE lower(address) LIKE %s) ORDER BY p.id DESC LIMIT 100",
            [email.lower() + "%"],
        ),
        (
            "search by last name",
            {"q": "Jurić"},
            "SELECT p.* FROM people_person p WHERE p.merged_into_id IS NULL AND (cdp_fold(p.last_name) LIKE %s "
            "OR cdp_fold(p.first_name) LIKE %s) ORDER BY p.id DESC LIMIT 100",
            ["juric%", "juric%"],
        ),
        (
            "search unaccented",
            {"q": "juric"},
            "SELECT p.* FROM people_person p WHERE p.merged_into_id IS NULL AND (cdp_fold(p.last_name) LIKE %s "
            "OR cdp_fold(p.first_name) LIKE %s) ORDER BY p.id DESC LIMIT 100",
            ["juric%", "juric%"],
        ),
        (
            "filter by tag",
            {"tag": str(tag.pk)},
            "SELECT p.* FROM people_person p JOIN people_person_tags t ON t.person_id = p.id "
            "WHERE p.merged_into_id IS NULL AND t.tag_id = %s ORDER BY p.id DESC LIMIT 100",
            [tag.pk],
        ),
    ]


def measure(client, url: str, case: tuple[str, dict, str, list], repeat: int) -> None:
    """Times one case through the admin and as a bare SELECT (two warm-up runs each) and prints its row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    name, params, sql, sql_params = case
    for _ in range(2):
        client.get(url, params)
    timings, query_counts = [], []
    response = None
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - started) * 1000)
        query_counts.append(len(captured.captured_queries))
        assert response.status_code == 200, response.status_code
    rows = response.content.decode().count('class="action-select"')
    bare = []
    with connection.cursor() as cursor:
        for _ in range(2 + repeat):
            started = time.perf_counter()
            cursor.execute(sql, sql_params)
            cursor.fetchall()
            bare.append((time.perf_counter() - started) * 1000)
    ours, floor = statistics.median(timings), statistics.median(bare[2:])
    print(f"{name:<22}{max(query_counts):>8}{ours:>10.1f}{floor:>16.2f}{ours / floor:>8.1f}{rows:>6}")


def drop_database(name: str) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> None:
    args = parse_args()
    setup_django(args)
    from django.db import connection

    realm, total = seeded_realm(args.persons)
    client = logged_in_client()
    page_cases = cases(realm)
    url = "/admin/people/person/"
    print(f"\nperson changelist, {total:,} persons, median of {args.repeat} requests\n")
    header = f"{'case':<22}{'queries':>8}{'ours ms':>10}{'bare SELECT ms':>16}{'ratio':>8}{'rows':>6}"
    print(header)
    print("-" * len(header))
    for case in page_cases:
        measure(client, url, case, args.repeat)

    connection.close()
    if not args.keep:
        drop_database(args.database)


if __name__ == "__main__":
    main()
