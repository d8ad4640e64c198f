"""The activity history names who or what made each change: the import job, the sync run, a merge (the API
key and the staff user are in tests/people/test_erasure_admin.py); it holds field names, never values."""

import pytest

from infobip import sync
from infobip.models import SyncRun
from people import merging, services
from people.models import Person, PersonActivity
from tests.imports.helpers import csv_bytes, import_file
from tests.infobip.conftest import push_settings as push_settings  # a fixture

pytestmark = pytest.mark.django_db


def history(person_id):
    return [
        (a.action, a.actor_kind, a.actor_label, a.fields, a.detail)
        for a in PersonActivity.objects.filter(person_id=person_id).order_by("id")
    ]


def test_an_import_records_its_job(realm, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    known = services.person_create(realm=realm, attributes={"first_name": "Ana"}, emails=["ana@example.com"])
    content = csv_bytes([["Email", "City"], ["ana@example.com", "Split"], ["new@example.com", "Zadar"]])
    job = import_file(realm, "people.csv", content)
    label = f"Import #{job.pk}"
    assert history(known.pk)[1:] == [("updated", "import", label, ["city", "tags"], {"importJob": job.pk})]
    created = Person.objects.get(emails__address="new@example.com")
    assert history(created.pk) == [("created", "import", label, [], {"importJob": job.pk})]


def test_a_sync_run_records_itself(cdp_realm, push_settings, infobip_sandbox):
    (remote_id,) = infobip_sandbox.load_persons(
        [{"externalId": "e-9", "firstName": "Remote", "contactInformation": {"email": [{"address": "r@x.hr"}]}}]
    )
    run = SyncRun.objects.create(realm=cdp_realm, owner="abcdefabcdefabcdefabcdef", started_by="test")
    sync.execute_run(run.pk)
    mirrored = Person.objects.get(infobip_id=remote_id)
    assert history(mirrored.pk)[0][:3] == ("created", "sync", f"Sync run #{run.pk}")


def test_a_merge_and_its_undo(realm):
    survivor = services.person_create(realm=realm, attributes={"first_name": "A"}, emails=["a@example.com"])
    other = services.person_create(realm=realm, attributes={"first_name": "B"}, emails=["b@example.com"])
    record = merging.persons_merge(survivor=survivor, others=[other], actor="staff")
    merging.merge_undo(record=record, actor="staff")
    assert [h[0] for h in history(survivor.pk)] == ["created", "merged", "unmerged"]
    assert history(survivor.pk)[1][4] == {"mergeRecord": record.pk, "absorbed": [other.pk]}
    assert [h[0] for h in history(other.pk)] == ["created", "absorbed", "unmerged"]
