"""Bulk actions on more than BACKGROUND_MIN persons run as a job in a django-q2 task, with a progress page;
a job run again resumes after its last committed chunk."""

import pytest
from django.urls import reverse

from infobip.models import OutboxEntry
from people import bulk_jobs
from people.models import BulkJob, BulkJobStatus, PersonActivity
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:people_person_changelist")


@pytest.fixture
def background(settings, monkeypatch):
    monkeypatch.setattr(bulk_jobs, "BACKGROUND_MIN", 2)
    monkeypatch.setattr(bulk_jobs, "CHUNK", 2)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


def test_a_large_selection_runs_as_a_job_with_a_progress_page(
    admin_client, admin_user, cdp_realm, background, django_capture_on_commit_callbacks
):
    crowd = [PersonFactory(realm=cdp_realm) for _ in range(5)]
    data = {"action": "bulk_add_tag", "_selected_action": [p.pk for p in crowd]}
    confirm = admin_client.post(CHANGELIST, data)
    assert 'id="bulk-background"' in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, {**data, "apply": "yes", "tag": "VIP"})

    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:people_bulkjob_change", args=[job.pk])
    assert (job.status, job.done, job.total, job.params) == (BulkJobStatus.SUCCEEDED, 5, 5, {"tag": "VIP"})
    assert all(p.tags.filter(name="VIP").exists() for p in crowd)
    assert OutboxEntry.objects.filter(entity="person", op="update").count() == 5
    labels = set(PersonActivity.objects.filter(action="updated").values_list("actor_kind", "actor_label"))
    assert labels == {("admin", f"{admin_user.username} (bulk job #{job.pk})")}
    page = admin_client.get(response["Location"]).content.decode()
    assert 'id="bulk-job-progress" data-status="succeeded"' in page
    assert '<progress max="5" value="5"' in page


def test_a_small_selection_still_runs_in_the_request(admin_client, cdp_realm, background):
    crowd = [PersonFactory(realm=cdp_realm) for _ in range(2)]
    data = {"action": "bulk_set_type", "_selected_action": [p.pk for p in crowd], "apply": "yes", "type": "CUSTOMER"}
    assert admin_client.post(CHANGELIST, data)["Location"].endswith(CHANGELIST)
    assert not BulkJob.objects.exists()


def test_a_job_run_again_resumes_after_its_last_chunk(cdp_realm, background):
    crowd = [PersonFactory(realm=cdp_realm) for _ in range(5)]
    job = BulkJob.objects.create(
        action="bulk_push_again", person_ids=[p.pk for p in crowd], total=5, done=2, status=BulkJobStatus.RUNNING
    )
    bulk_jobs.bulk_job_run(job=job)
    pushed = set(OutboxEntry.objects.filter(entity="person").values_list("entity_id", flat=True))
    assert pushed == {str(p.pk) for p in crowd[2:]}
    assert BulkJob.objects.get().status == BulkJobStatus.SUCCEEDED
    bulk_jobs.bulk_job_run(job=job)  # finished: nothing more
    assert OutboxEntry.objects.filter(entity="person").count() == 3


def test_staff_see_only_their_own_jobs(client, cdp_realm, admin_user):
    user = StaffUserFactory(permissions=["people.view_person"])
    RealmMemberFactory(realm=cdp_realm, user=user)
    theirs = BulkJob.objects.create(action="bulk_push_again", started_by_id=str(admin_user.pk))
    mine = BulkJob.objects.create(action="bulk_push_again", started_by_id=str(user.pk))
    client.force_login(user)
    assert client.get(reverse("admin:people_bulkjob_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:people_bulkjob_change", args=[theirs.pk])).status_code == 302
