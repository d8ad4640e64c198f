"""A real django-q2 cluster (``manage.py qcluster`` in a subprocess, ORM broker on the test database) is killed
with SIGKILL in the middle of a drain and started again: nothing is lost, nothing is made twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from infobip.outbox.recording import enqueue_drain, wakeup_clear
from infobip.sandbox.pytest_plugin import SANDBOX_API_KEY
from people import services as people
from people.models import Person, PersonEvent, SyncStatus
from tests.identities.factories import RealmFactory
from tests.infobip.conftest import bulk_person_creates, outbox_rows

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3  # seconds: how long a dead worker's rows stay leased


def database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def start_cluster(claim: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # pytest-django's test database (test_<name>), where the test commits
        "Q_WORKERS": "2",
        "Q_USE_REDIS": "false",
        "INFOBIP_RATE_LIMITS": "off",
        "INFOBIP_OUTBOX_LEASE_SECONDS": str(LEASE),
        "INFOBIP_OUTBOX_CLAIM": str(claim),
        "INFOBIP_OUTBOX_BACKOFF_BASE": "0.2",
        "INFOBIP_OUTBOX_BACKOFF_CAP": "1",
        "INFOBIP_BACKOFF": "0.01",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches the workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def done_count() -> int:
    return OutboxEntry.objects.filter(status=OutboxStatus.DONE).count()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def test_a_cluster_killed_mid_drain_and_restarted_loses_nothing(infobip_sandbox):
    realm = RealmFactory(
        name="Cluster", cdp_enabled=True, infobip_base_url=infobip_sandbox.url, infobip_api_key=SANDBOX_API_KEY
    )
    infobip_sandbox.faults.configure(latency_ms=60)  # slow enough to be killed in the middle
    definition = people.event_definition_create(realm=realm, definition_id="tick", title="Tick")
    persons = bulk_person_creates(realm, 0, 800)
    events = PersonEvent.objects.bulk_create(
        [
            PersonEvent(realm=realm, person=p, definition=definition, event_id=f"c-{n}")
            for n, p in enumerate(persons[:400])
        ]
    )
    OutboxEntry.objects.bulk_create(outbox_rows(realm, OutboxEntity.EVENT, OutboxOp.SEND, [(e.pk, {}) for e in events]))
    total = OutboxEntry.objects.count()
    assert total == 1201

    wakeup_clear()
    first = start_cluster(claim=50)
    try:
        enqueue_drain()
        wait_for(lambda: done_count() >= 150, 60, "the first cluster to deliver some rows")
        kill(first)
    finally:
        kill(first)
    at_kill = done_count()
    assert at_kill < total
    leased = OutboxEntry.objects.filter(status=OutboxStatus.PENDING, locked_until__isnull=False).count()

    infobip_sandbox.faults.configure(latency_ms=0)
    second = start_cluster(claim=500)
    try:
        time.sleep(LEASE + 0.5)  # the dead worker's lease runs out (the minute schedule would come by now)
        enqueue_drain()
        wait_for(lambda: done_count() == total, 120, "the restarted cluster to deliver everything")
    finally:
        kill(second)  # a graceful stop waits for django-q's timeouts; the test has what it needs

    store = infobip_sandbox.store
    effects = infobip_sandbox.stats()["effects"]
    assert effects["persons_created"] == 800  # none twice, though a worker died in the middle
    assert len(store.persons) == 800
    assert effects["events_recorded"] == 400
    for person in Person.objects.filter(realm=realm):
        assert person.sync_status == SyncStatus.SYNCED
        assert store.persons[person.infobip_id]["externalId"] == person.external_id
    for event in PersonEvent.objects.filter(realm=realm).select_related("person"):
        assert [e["eventId"] for e in store.events[event.person.infobip_id]] == [event.event_id]
    print(f"killed with {at_kill}/{total} delivered and {leased} rows leased by the dead worker")
