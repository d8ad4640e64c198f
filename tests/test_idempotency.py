import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from identities.idempotency import IN_FLIGHT_TIMEOUT, idempotency_purge
from identities.models import IdempotencyRecord, Identity, Realm
from identities.tasks import idempotency_purge as purge_task
from people.models import Person
from tests.identities.factories import ApiKeyFactory, RealmFactory

BODY = {"country": "US", "currency": "USD", "type": "neutral", "data": {"n": 1}}


def post(api, body=BODY, key="k-1", path="/v1/identities"):
    return api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_the_stored_response_and_does_nothing_twice(api):
    first = post(api)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    again = api.post("/v1/identities", '{"type":"neutral", "data":{"n":1},"currency":"USD","country":"US"}',
                     content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Identity.objects.count() == 1


def test_errors_are_replayed_too(api):
    first = post(api, {"country": "XX"})
    assert first.status_code == 400
    again = post(api, {"country": "XX"})
    assert (again.status_code, again.json()) == (400, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_delete_replay_and_sync_location_are_kept(api, realm):
    identity = Identity.objects.create(realm=realm, owner="0" * 24, country="HR", currency="EUR")
    first = api.delete(f"/v1/identities/{identity.pk}", HTTP_IDEMPOTENCY_KEY="del")
    again = api.delete(f"/v1/identities/{identity.pk}", HTTP_IDEMPOTENCY_KEY="del")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    sync = post(api, {"country": "HR"}, key="sync", path="/v1/identities/persons/sync")
    replay = post(api, {"country": "HR"}, key="sync", path="/v1/identities/persons/sync")
    assert replay.headers["Location"] == sync.headers["Location"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("post", "/v1/identities", {**BODY, "alias": "other"}), ("post", "/v1/identities/company", BODY),
     ("patch", "/v1/identities", BODY)],
)  # fmt: skip
def test_same_key_with_another_request_is_422(api, method, path, body):
    assert post(api).status_code == 201
    response = getattr(api, method)(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 422 or (method == "patch" and response.status_code == 405)
    if response.status_code == 422:
        assert response.json()["type"] == "idempotency_key_mismatch"
        assert "k-1" in response.json()["message"]
    assert Identity.objects.count() == 1


def test_the_alias_spelling_is_the_same_request(api):
    first = post(api, path="/v1/identities")
    again = post(api, path="/v1/identitites")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_a_repeat_while_in_flight_is_409(api, realm, api_key):
    IdempotencyRecord.objects.create(
        realm=realm, api_key=api_key, key="busy", fingerprint="x" * 64, method="POST", path="/v1/identities"
    )
    response = post(api, key="busy")
    assert response.status_code in (409, 422)
    # same fingerprint: compute it by a first real request under another key, then mark it in flight
    first = post(api, key="fresh")
    IdempotencyRecord.objects.filter(key="fresh").update(status="in_progress")
    response = post(api, key="fresh")
    assert response.status_code == 409
    assert response.json()["type"] == "idempotency_key_in_use"
    assert first.status_code == 201


def test_a_key_whose_request_died_is_taken_over(api):
    post(api, key="dead")
    Identity.objects.all().delete()  # its transaction "rolled back"
    IdempotencyRecord.objects.filter(key="dead").update(
        status="in_progress", locked_at=timezone.now() - IN_FLIGHT_TIMEOUT - dt.timedelta(seconds=1)
    )
    response = post(api, key="dead")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert Identity.objects.count() == 1


def test_keys_expire_after_24_hours_and_are_purged(api, realm):
    post(api, key="old")
    IdempotencyRecord.objects.filter(key="old").update(created=timezone.now() - dt.timedelta(hours=25))
    again = post(api, key="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert Identity.objects.count() == 2
    IdempotencyRecord.objects.filter(key="old").update(created=timezone.now() - dt.timedelta(hours=25))
    post(api, key="recent")
    assert purge_task() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert idempotency_purge() == 0


def test_the_purge_is_scheduled_hourly(db):
    """Migration identities.0004 registers the schedule (a transactional test's flush may have removed the row
    that migrate wrote, so the migration's function is run again here: it is idempotent)."""
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    migration = importlib.import_module("identities.migrations.0004_idempotency_purge_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    schedule = Schedule.objects.get(name="identities.idempotency_purge")
    assert (schedule.func, schedule.schedule_type) == ("identities.tasks.idempotency_purge", "H")


def test_keys_are_per_realm(api, other_api):
    assert post(api, key="shared").status_code == 201
    other = post(other_api, key="shared")
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert Identity.objects.count() == 2


def test_an_unexpected_failure_releases_the_key(api, api_key, monkeypatch):
    from rest_framework.test import APIClient

    from identities import services

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "identity_create", explode)
    unchecked = APIClient(HTTP_X_API_KEY=api_key.plain)  # a 500 is not in the schema: that is the point
    response = post(unchecked, key="boom")
    assert response.status_code == 500
    assert response.json()["type"] == "internal_error"
    assert not IdempotencyRecord.objects.filter(key="boom").exists()
    monkeypatch.undo()
    assert post(api, key="boom").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
def test_malformed_keys_are_400(api, key):
    response = post(api, key=key)
    assert response.status_code == 400
    assert "idempotency-key" in response.json()["data"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_identical_requests_create_one_object():
    realm = RealmFactory(name="Concurrent")
    key = ApiKeyFactory(realm=realm)
    body = {"alias": "race", "person": {"firstName": "Ana", "contactInformation": {"email": [{"address": "a@x.hr"}]}}}
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    lock = threading.Lock()

    def hit():
        client = Client(HTTP_X_API_KEY=key.plain, HTTP_IDEMPOTENCY_KEY="race-1")
        try:
            barrier.wait(timeout=30)
            response = client.post("/v1/identities/person", body, content_type="application/json")
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 50
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert Identity.objects.filter(realm=realm).count() == 1
    assert Person.objects.filter(realm=realm).count() == 1
    assert IdempotencyRecord.objects.get(realm=realm).status == "completed"
    assert Realm.objects.filter(pk=realm.pk).exists()


def test_keys_are_per_api_key_so_two_integrators_of_a_realm_never_collide(api, realm):
    from tests.api_support import api_client

    second = api_client(ApiKeyFactory(realm=realm).plain)
    assert post(api, key="order-1").status_code == 201
    other = post(second, key="order-1", body={**BODY, "alias": "another request"})
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert Identity.objects.filter(realm=realm).count() == 2
    assert (
        post(second, key="order-1", body={**BODY, "alias": "another request"}).headers["Idempotent-Replayed"] == "true"
    )
    assert IdempotencyRecord.objects.filter(key="order-1").values("api_key").distinct().count() == 2
