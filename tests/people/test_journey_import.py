"""The import's per-job default type (journey rule): rows without a type get the job's; a Type cell wins for new
persons; an existing Customer stays one whatever the default says."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.errors import ValidationError
from imports import services
from imports.models import ImportJob
from people.models import Person
from tests.imports.helpers import analyze, csv_bytes, run, upload
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db
ROWS = [
    ["Email", "Type"],
    ["new@example.com", ""],
    ["typed@example.com", "CUSTOMER"],
    ["cust@example.com", ""],
    ["lead@example.com", ""],
]


def _types() -> dict[str, str]:
    return dict(Person.objects.values_list("emails__address", "type"))


def test_a_lead_default_applies_to_rows_without_a_type_and_never_demotes(realm):
    PersonFactory(realm=realm, type="CUSTOMER", emails=["cust@example.com"])
    PersonFactory(realm=realm, type="LEAD", emails=["lead@example.com"])
    job = upload(realm, "people.csv", csv_bytes(ROWS))
    job = services.import_job_map(job=job, mapping=job.mapping, default_type="LEAD")
    run(services.import_job_analyze(job=job))
    assert _types() == {
        "new@example.com": "LEAD", "typed@example.com": "CUSTOMER", "cust@example.com": "CUSTOMER",
        "lead@example.com": "LEAD",
    }  # fmt: skip


def test_without_a_default_new_rows_are_customers(realm):
    run(analyze(upload(realm, "people.csv", csv_bytes(ROWS[:2]))))
    assert _types() == {"new@example.com": "CUSTOMER"}


def test_a_customer_default_converts_existing_leads(realm):
    PersonFactory(realm=realm, type="LEAD", emails=["lead@example.com"])
    job = upload(realm, "people.csv", csv_bytes([["Email"], ["lead@example.com"]]))
    run(services.import_job_analyze(job=services.import_job_map(job=job, mapping=job.mapping, default_type="CUSTOMER")))
    assert _types() == {"lead@example.com": "CUSTOMER"}


def test_the_command_takes_the_default_type(realm, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([["Email"], ["a@example.com"]]))
    out = io.StringIO()
    call_command(
        "import_people", str(path), "--realm", realm.name, "--duplicates", "resolve", "--type", "LEAD",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert json.loads(out.getvalue().strip().splitlines()[-1])["created"] == 1
    assert _types() == {"a@example.com": "LEAD"}
    assert ImportJob.objects.get().default_type == "LEAD"


def test_the_admin_mapping_step_offers_the_default_type(admin_client, realm):
    job = upload(realm, "people.csv", csv_bytes([["Email"], ["a@example.com"]]))
    url = reverse("admin:imports_importjob_map", args=[job.pk])
    assert 'name="default_type"' in admin_client.get(url).content.decode()
    data = {"field_0": "email", "country_0": "", "default_type": "LEAD"}
    assert admin_client.post(url, data).status_code == 302
    job.refresh_from_db()
    assert job.default_type == "LEAD"
    with pytest.raises(ValidationError, match="CUSTOMER or LEAD"):
        services.import_job_map(job=job, mapping=job.mapping, default_type="VISITOR")
