import pytest
from django.conf import settings

from core.api import examples as ex
from infobip.models import SyncRun
from infobip.tasks import sync_run_execute


def test_sync_answers_exactly_the_seed_envelope(api, api_key, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args, kw["cluster"]))
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/identities/persons/sync", ex.SYNC_REQUEST, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    assert response.status_code == 200
    assert response.json() == {**ex.SYNC_RESPONSE, "data": {**ex.SYNC_RESPONSE["data"], "owner": api_key.owner}}
    run = SyncRun.objects.get()
    assert response.headers["Location"] == f"/v1/identities/persons/sync/{run.pk}"
    assert (run.owner, run.params, run.status) == (api_key.owner, ex.SYNC_REQUEST, "queued")
    assert run.started_by == f"api-key:{api_key.prefix}"
    assert queued == [("infobip.tasks.sync_run_execute", (run.pk,), settings.Q_INTERACTIVE_CLUSTER)]


def test_the_run_is_enqueued_only_after_commit(api, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.post("/v1/identities/persons/sync", {}, format="json")
    assert queued == []
    assert len(callbacks) == 1


def test_the_task_runs_the_sync_and_progress_is_readable(api, realm, push_settings, infobip_sandbox):
    realm.cdp_enabled = True
    realm.save()
    infobip_sandbox.load_persons([{"firstName": "Jane", "contactInformation": {"email": [{"address": "j@x.hr"}]}}])
    response = api.post("/v1/identities/persons/sync", {"country": "HR"}, format="json")
    run_path = response.headers["Location"]
    body = api.get(run_path).json()
    assert (body["name"], body["type"], body["code"]) == ("SyncRun", "persons.sync.queued", 200)
    assert body["data"]["params"] == {"country": "HR"}
    run = SyncRun.objects.get()
    sync_run_execute(run.pk)
    sync_run_execute(run.pk)  # safe to run twice: a finished run is left alone
    sync_run_execute(run.pk + 1000)  # a vanished run is only logged
    body = api.get(run_path).json()
    assert (body["type"], body["data"]["status"]) == ("persons.sync.done", "succeeded")
    assert body["data"]["counts"]["step3"]["identities_created"] == 1
    assert body["data"]["progress"]["pages_done"] == 1
    assert api.get("/v1/identities/persons/sync/999999").status_code == 404


@pytest.mark.parametrize(
    ("body", "fields"),
    [({"country": "Croatia"}, {"country"}), ({"currency": "XXXX", "limit": "0"}, {"currency", "limit"}),
     ({"page": 0, "limit": True}, {"page", "limit"}), ({"filter": "{bad"}, {"filter"}), ({"colour": 1}, {"colour"})],
)  # fmt: skip
def test_sync_parameter_errors(api, body, fields):
    response = api.post("/v1/identities/persons/sync", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["data"]["fields"]) == fields
    assert not SyncRun.objects.exists()
