"""Tracking ingestion: events stored per second through POST /v1/track/events, beside a bare endpoint.

    .venv/bin/python bench/track.py --batches 200 --size 50

All endpoints go through the same Django stack (test client, middleware) in the same run and write the same
rows (one visitor's batch of TrackEvent rows). Two bare baselines, without the site key, CORS, limits,
validation and duplicate check: "bare ORM" parses JSON, reads the visitor and bulk-inserts with the ORM (the
plain Django way); "bare SQL" parses JSON and runs the very statement ours runs (visitor and session upserted,
events inserted from one JSON parameter), so ours/bare SQL is what the checks cost. Prints events/s of each and
the ratios. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--database", default="cdpadmin_bench_track")
    return parser.parse_args()


def bare_view(request):
    from django.http import JsonResponse
    from django.utils.dateparse import parse_datetime

    from tracking.models import TrackEvent, Visitor

    body = json.loads(request.body)
    visitor = Visitor.objects.get(anonymous_id=body["visitorId"])
    rows = [
        TrackEvent(visitor=visitor, event_id=e["id"], kind=e["type"], name=e["name"], url=e["url"],
                   properties=e["properties"], occurred_at=parse_datetime(e["timestamp"]))
        for e in body["events"]
    ]  # fmt: skip
    TrackEvent.objects.bulk_create(rows)
    return JsonResponse({"stored": len(rows)})


BENCH_SITE: list = []


def bare_sql_view(request):
    from django.db import connection
    from django.http import JsonResponse

    from tracking.services import _INGEST_SQL

    body = json.loads(request.body)
    site = BENCH_SITE[0]  # known beforehand: no key lookup at all
    events = body["events"]
    times = [e["timestamp"] for e in events]
    rows = [{"i": e["id"], "k": e["type"], "n": e["name"], "u": e["url"], "p": e["properties"], "t": e["timestamp"]}
            for e in events]  # fmt: skip
    params = {
        "site": site.pk, "realm": site.realm_id, "visitor": body["visitorId"], "session": body["sessionId"],
        "now": times[0], "first": min(times), "last": max(times), "events": json.dumps(rows),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_INGEST_SQL, params)
        stored = cursor.fetchone()[0]
    return JsonResponse({"stored": stored})


def main() -> None:
    args = parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cdpadmin").rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdpadmin.settings")
    os.environ.setdefault("DEVELOPMENT", "true")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.urls import path
    from django.utils import timezone
    from django.views.decorators.csrf import csrf_exempt

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)
    from identities.models import Realm
    from tracking.models import Site, TrackEvent, Visitor
    from tracking.urls import urlpatterns as tracking_urls

    realm, _ = Realm.objects.get_or_create(name="Bench tracking")
    origin = "https://bench.example.com"
    site, _ = Site.objects.get_or_create(realm=realm, name="Bench", defaults={"allowed_origins": [origin]})
    TrackEvent.objects.filter(visitor__site=site).delete()
    BENCH_SITE.append(site)
    module = type(sys)("bench_track_urls")
    module.urlpatterns = [
        *tracking_urls,
        path("v1/_bench/track", csrf_exempt(bare_view)),
        path("v1/_bench/track-sql", csrf_exempt(bare_sql_view)),
    ]
    client = Client(HTTP_ORIGIN=origin, HTTP_X_SITE_KEY=site.key)

    def bodies(prefix: str) -> list[bytes]:
        now = timezone.now().isoformat()
        out = []
        for b in range(args.batches):
            visitor = f"{prefix}-{b % 20:04d}-visitor"
            events = [
                {"id": uuid.uuid4().hex, "type": "action", "name": "viewed_item", "url": f"{origin}/item/{i}",
                 "properties": {"sku": f"S-{i}", "price": 9.5}, "timestamp": now}
                for i in range(args.size)
            ]  # fmt: skip
            out.append(json.dumps({"visitorId": visitor, "sessionId": f"{prefix}-session-1", "events": events}))
        return out

    def run(url: str, payloads: list) -> float:
        started = time.perf_counter()
        for body in payloads:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 200, response.content[:300]
        return time.perf_counter() - started

    endpoints = {"ours": "/v1/track/events", "bare": "/v1/_bench/track", "sql": "/v1/_bench/track-sql"}
    with override_settings(ROOT_URLCONF=module, TRACKING_RATE_PER_VISITOR=10**9, TRACKING_RATE_PER_KEY=10**9):
        for b in range(20):
            Visitor.objects.get_or_create(site=site, anonymous_id=f"bare-{b:04d}-visitor", defaults={"realm": realm})
        for name, url in endpoints.items():
            run(url, bodies(name)[:5])
        payloads = {name: bodies(name) for name in endpoints}
        seconds = dict.fromkeys(endpoints, 0.0)
        rounds = 4  # interleaved, so a load spike on the shared machine hits all three alike
        step = max(1, args.batches // rounds)
        for start in range(0, args.batches, step):
            for name, url in endpoints.items():
                seconds[name] += run(url, payloads[name][start : start + step])
    ours, bare, bare_sql = (args.batches * args.size / seconds[name] for name in endpoints)
    print(f"batches of {args.size}, {args.batches} calls each")
    print(f"POST /v1/track/events : {ours:,.0f} events/s")
    print(f"bare ORM endpoint     : {bare:,.0f} events/s   ratio {ours / bare:.0%}")
    print(f"bare SQL endpoint     : {bare_sql:,.0f} events/s   ratio {ours / bare_sql:.0%}")


if __name__ == "__main__":
    main()
