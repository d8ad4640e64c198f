"""The Import people wizard in the admin, driven with the test client (django-q2 runs tasks inline here)."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.models import ImportJob, ImportStatus
from people.models import Person
from tests.identities.factories import RealmMemberFactory, StaffUserFactory
from tests.imports.helpers import csv_bytes, import_file, upload

pytestmark = pytest.mark.django_db

ROWS = [
    ["First name", "Last name", "Phone", "Email"],
    ["Ivan", "Jurić", "0911234567", "ivan@example.com"],
    ["Ivan", "Jurić", "0911234567", "ivan.juric@example.com"],
    ["<script>alert(1)</script>", "X", "0921234567", ""],
]


def _post_mapping(client, job, overrides=None):
    data = {}
    for index, entry in enumerate(job.mapping):
        data[f"field_{index}"] = (overrides or {}).get(entry["header"], entry["field"] or "")
        data[f"country_{index}"] = ""
    return client.post(reverse("admin:imports_importjob_map", args=[job.pk]), data)


def test_the_wizard_goes_from_upload_to_result(admin_client, realm, django_capture_on_commit_callbacks):
    response = admin_client.get(reverse("admin:imports_importjob_upload"))
    assert response.status_code == 200
    assert "Import people" in response.content.decode()

    response = admin_client.post(
        reverse("admin:imports_importjob_upload"),
        {"realm": realm.pk, "file": SimpleUploadedFile("people.csv", csv_bytes(ROWS, encoding="cp1250"))},
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:imports_importjob_map", args=[job.pk])
    page = admin_client.get(response.url).content.decode()
    assert "cp1250" in page
    assert "Jurić" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_mapping(admin_client, job)
    assert response.url == reverse("admin:imports_importjob_job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportStatus.ANALYZED
    page = admin_client.get(response.url).content.decode()
    assert 'id="strategies"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the problem list shows the value, escaped
    assert "<script>alert(1)</script>" not in page

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(response.url, {"strategy": "resolve", "tags": "Fair, VIP"})
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED
    response = admin_client.get(reverse("admin:imports_importjob_job", args=[job.pk]))
    page = response.content.decode()
    assert "<svg" in page
    assert 'id="persons-link"' in page
    assert [m.message for m in response.context["messages"]] == [
        f"Import #{job.pk} (people.csv) done: 1 created, 0 updated, 0 unchanged, 1 merged, 0 discarded, 1 invalid."
    ]
    person = Person.objects.get(realm=realm)
    assert sorted(person.tags.values_list("name", flat=True)) == sorted(["Fair", "VIP", job.import_tag])

    report = admin_client.get(reverse("admin:imports_importjob_report", args=[job.pk, "csv"]))
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert lines[1][:3] == ["4", "Invalid", "First name"]
    progress = admin_client.get(reverse("admin:imports_importjob_progress", args=[job.pk])).json()
    assert (progress["status"], progress["rows_done"], progress["rows_total"]) == ("succeeded", 2, 2)

    history = admin_client.get(reverse("admin:imports_importjob_changelist")).content.decode()
    assert "people.csv" in history


def test_a_refused_file_is_explained_on_the_upload_page(admin_client, realm):
    response = admin_client.post(
        reverse("admin:imports_importjob_upload"), {"realm": realm.pk, "file": SimpleUploadedFile("x.csv", b"a,b\r\n")}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "a header row but no data rows" in page
    assert page.index('id="id_file"') < page.index("a header row but no data rows")  # under the file field
    assert not ImportJob.objects.exists()


def test_the_country_prefix_is_offered_on_phone_columns_only(admin_client, realm, django_capture_on_commit_callbacks):
    import re

    job = upload(realm, "people.csv", csv_bytes(ROWS))
    page = admin_client.get(reverse("admin:imports_importjob_map", args=[job.pk])).content.decode()
    labels = re.findall(r'<label class="imp-country" data-shown-for="phone"( hidden)?>', page)
    assert [bool(hidden) for hidden in labels] == [True, True, False, True]  # First, Last, Phone, Email

    data = {f"field_{i}": entry["field"] or "" for i, entry in enumerate(job.mapping)}
    data |= {"country_0": "", "country_1": "", "country_2": "si", "country_3": "HR"}  # Email's is a leftover
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:imports_importjob_map", args=[job.pk]), data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert [entry.get("country", "") for entry in job.mapping] == ["", "", "SI", ""]


def test_mapping_without_an_identifier_is_refused_on_the_page(admin_client, realm):
    job = upload(realm, "people.csv", csv_bytes(ROWS))
    response = _post_mapping(admin_client, job, {"Phone": "", "Email": ""})
    assert response.status_code == 200
    assert "Map at least one column to a phone, an email or the externalId" in response.content.decode()


def test_staff_need_the_import_permission(client, realm):
    user = StaffUserFactory(permissions=["imports.view_importjob"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    assert client.get(reverse("admin:imports_importjob_upload")).status_code == 403
    user = StaffUserFactory(username="importer", permissions=["imports.add_importjob"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    assert client.get(reverse("admin:imports_importjob_upload")).status_code == 200


def test_jobs_of_other_realms_are_not_found(client, realm, other_realm):
    job = import_file(other_realm, "people.csv", csv_bytes(ROWS))
    user = StaffUserFactory(permissions=["imports.add_importjob", "imports.view_importjob"])
    RealmMemberFactory(realm=realm, user=user)
    client.force_login(user)
    for name in ("job", "progress", "map"):
        assert client.get(reverse(f"admin:imports_importjob_{name}", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:imports_importjob_report", args=[job.pk, "csv"])).status_code == 404
    form = client.get(reverse("admin:imports_importjob_upload")).context["form"]
    assert list(form.fields["realm"].queryset) == [realm]


def test_cancel_a_queued_import(admin_client, realm):
    from imports import services
    from tests.imports.helpers import analyze

    job = analyze(upload(realm, "people.csv", csv_bytes(ROWS)))
    services.import_job_start(job=job, strategy="resolve", enqueue=False)
    response = admin_client.post(reverse("admin:imports_importjob_cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    assert not Person.objects.exists()


def test_the_person_list_links_to_the_import_page(admin_client):
    page = admin_client.get(reverse("admin:people_person_changelist")).content.decode()
    assert reverse("admin:imports_importjob_upload") in page
