"""The Infobip admin screens: outbox overview and chart, dead letters with permission-checked retry and discard,
a person's push log, Sync now per realm, sync runs with live progress, resume and cancel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from infobip.models import OutboxAttempt, OutboxEntry, OutboxStatus, SyncRun, SyncRunStatus
from people import services as people
from tests.identities.factories import RealmFactory, RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

OUTBOX = reverse("admin:infobip_outboxentry_changelist")
RUNS = reverse("admin:infobip_syncrun_changelist")
START = reverse("admin:infobip_syncrun_start")


def staff(client, realm, *perms):
    user = StaffUserFactory(permissions=list(perms))
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    return user


@pytest.fixture
def dead(cdp_realm):
    person = people.person_create(realm=cdp_realm, attributes={"first_name": "Jane", "external_id": "x1"})
    entry = OutboxEntry.objects.get()
    entry.status, entry.attempts, entry.last_error = OutboxStatus.DEAD, 10, "503 SERVICE_UNAVAILABLE (gave up)"
    entry.save()
    OutboxAttempt.objects.create(entry=entry, request="POST /people/2/persons", status_code=503, error="503")
    return person, entry


def test_the_outbox_shows_backlog_failures_and_a_throughput_chart(admin_client, dead, cdp_realm):
    people.person_create(realm=cdp_realm, attributes={"first_name": "Waiting"})
    response = admin_client.get(OUTBOX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="outbox-backlog"' in html
    assert "<svg" in html
    assert "503 SERVICE_UNAVAILABLE" in html
    overview = next(r for r in response.context["outbox_overview"] if r["realm"] == cdp_realm)
    assert (overview["pending"], overview["dead"], overview["due"]) == (1, 1, 1)
    assert response.context["failed_24h"] == 1
    assert admin_client.get(OUTBOX, {"status__exact": "dead"}).status_code == 200
    assert admin_client.get(reverse("admin:infobip_outboxentry_change", args=[dead[1].pk])).status_code == 200


def test_retry_needs_the_retry_permission(client, dead, cdp_realm):
    _, entry = dead
    staff(client, cdp_realm, "infobip.view_outboxentry")
    response = client.post(OUTBOX, {"action": "retry_selected", "_selected_action": [entry.pk]})
    assert response.status_code == 200  # the action is not offered: nothing happens
    assert OutboxEntry.objects.get(pk=entry.pk).status == OutboxStatus.DEAD
    assert "retry_selected" not in client.get(OUTBOX).content.decode()


def test_retry_puts_dead_letters_back_and_logs_it(client, dead, cdp_realm):
    person, entry = dead
    person.sync_status = "failed"
    person.save()
    staff(client, cdp_realm, "infobip.view_outboxentry", "infobip.retry_outboxentry")
    response = client.post(OUTBOX, {"action": "retry_selected", "_selected_action": [entry.pk]}, follow=True)
    assert "1 change will be pushed again" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 0)
    person.refresh_from_db()
    assert person.sync_status == "pending"


def test_discard_skips_a_dead_letter(client, dead, cdp_realm):
    _, entry = dead
    staff(client, cdp_realm, "infobip.view_outboxentry", "infobip.retry_outboxentry")
    client.post(OUTBOX, {"action": "discard_selected", "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert entry.status == OutboxStatus.SKIPPED
    assert entry.last_error.startswith("Discarded by")


def test_staff_see_only_their_realms_outbox(client, dead, realm):
    staff(client, realm, "infobip.view_outboxentry")
    response = client.get(OUTBOX)
    assert "503 SERVICE_UNAVAILABLE" not in response.content.decode()
    assert [r["realm"] for r in response.context["outbox_overview"]] == [realm]


def test_a_persons_page_shows_its_sync_state_and_latest_pushes(admin_client, dead):
    person, _ = dead
    html = admin_client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert "Pushes to Infobip" in html
    assert "POST /people/2/persons" in html
    assert "503 SERVICE_UNAVAILABLE (gave up)" in html


# ------------------------------------------------------------------------------------------------ sync


def test_sync_now_needs_the_start_permission(client, cdp_realm):
    staff(client, cdp_realm, "infobip.view_syncrun")
    assert client.get(START).status_code == 403
    assert client.post(START, {"realm": cdp_realm.pk}).status_code == 403
    assert "Sync now" not in client.get(RUNS).content.decode()
    assert not SyncRun.objects.exists()


def test_sync_now_queues_a_run_for_the_realm(client, cdp_realm, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    user = staff(client, cdp_realm, "infobip.view_syncrun", "infobip.start_syncrun")
    assert "Sync now" in client.get(RUNS).content.decode()
    page = client.get(START, {"realm": cdp_realm.pk})
    assert page.status_code == 200
    assert page.context["form"].initial["realm"] == cdp_realm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(START, {"realm": cdp_realm.pk, "country": "de", "limit": "100", "page": "2"})
    run = SyncRun.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:infobip_syncrun_change", args=[run.pk])
    assert (run.realm, run.started_by, run.params) == (
        cdp_realm,
        user.username,
        {"country": "DE", "limit": 100, "page": 2},
    )
    assert queued == [("infobip.tasks.sync_run_execute", (run.pk,))]


def test_sync_now_offers_only_the_users_realms_with_the_extension(client, cdp_realm, realm):
    other = RealmFactory(name="Elsewhere", cdp_enabled=True)
    staff(client, cdp_realm, "infobip.view_syncrun", "infobip.start_syncrun")
    response = client.post(START, {"realm": other.pk})
    assert response.status_code == 200
    assert "realm" in response.context["form"].errors
    assert list(response.context["form"].fields["realm"].queryset) == [cdp_realm]
    assert not SyncRun.objects.exists()


def test_a_runs_page_polls_its_live_progress(admin_client, cdp_realm):
    run = SyncRun.objects.create(
        realm=cdp_realm,
        status=SyncRunStatus.RUNNING,
        progress={"total": 200, "persons_seen": 50, "pages_done": 1, "phase": "page 1 done"},
        counts={"step1": {"linked": 3}},
    )
    page = admin_client.get(reverse("admin:infobip_syncrun_change", args=[run.pk])).content.decode()
    progress_url = reverse("admin:infobip_syncrun_progress", args=[run.pk])
    assert f'data-url="{progress_url}"' in page
    data = admin_client.get(progress_url).json()
    assert (data["status"], data["percent"], data["counts"], data["finished"]) == (
        "running",
        25,
        {"step1": {"linked": 3}},
        False,
    )
    listing = admin_client.get(RUNS).content.decode()
    assert "25%" in listing


def test_progress_of_another_realms_run_is_not_found(client, cdp_realm, realm):
    run = SyncRun.objects.create(realm=cdp_realm)
    staff(client, realm, "infobip.view_syncrun")
    assert client.get(reverse("admin:infobip_syncrun_progress", args=[run.pk])).status_code == 404


def test_resume_and_cancel_need_the_start_permission(
    client, cdp_realm, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    failed = SyncRun.objects.create(realm=cdp_realm, status=SyncRunStatus.FAILED)
    queued_run = SyncRun.objects.create(realm=cdp_realm, status=SyncRunStatus.QUEUED)
    staff(client, cdp_realm, "infobip.view_syncrun")
    client.post(RUNS, {"action": "cancel_selected", "_selected_action": [queued_run.pk]})
    assert SyncRun.objects.get(pk=queued_run.pk).status == SyncRunStatus.QUEUED
    client.logout()
    staff(client, cdp_realm, "infobip.view_syncrun", "infobip.start_syncrun")
    client.post(RUNS, {"action": "cancel_selected", "_selected_action": [queued_run.pk]})
    assert SyncRun.objects.get(pk=queued_run.pk).status == SyncRunStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RUNS, {"action": "resume_selected", "_selected_action": [failed.pk]})
    assert queued == [("infobip.tasks.sync_run_resume", (failed.pk,))]


def test_the_realm_page_links_to_sync_now(admin_client, cdp_realm, realm):
    html = admin_client.get(reverse("admin:identities_realm_change", args=[cdp_realm.pk])).content.decode()
    assert f"{START}?realm={cdp_realm.pk}" in html
    html = admin_client.get(reverse("admin:identities_realm_change", args=[realm.pk])).content.decode()
    assert "Enable the CDP extension to sync" in html


def test_local_persons_show_their_state(admin_client, realm):
    person = PersonFactory(realm=realm)
    html = admin_client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert "Nothing was pushed for this person" in html
