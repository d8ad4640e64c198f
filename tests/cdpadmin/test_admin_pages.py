"""Admin pages as staff read them: charts, summaries and words (rendered by the test client)."""

import re

import pytest
from django.urls import reverse

from imports.admin import COUNT_COLORS
from imports.models import ImportJob, ImportStatus

pytestmark = pytest.mark.django_db


def test_the_import_result_chart_has_one_colour_per_bar_and_every_count(admin_client, realm):
    job = ImportJob.objects.create(
        realm=realm,
        original_name="people.csv",
        status=ImportStatus.SUCCEEDED,
        rows_total=21,
        created_count=1,
        updated_count=2,
        merged_count=3,
        discarded_count=4,
        invalid_count=5,
    )
    page = admin_client.get(reverse("admin:imports_importjob_job", args=[job.pk])).content.decode()
    svg = re.search(r'<svg class="chart".*?</svg>', page, re.S).group(0)
    fills = re.findall(r'<rect [^>]*fill="([^"]+)"', svg)
    assert fills == list(COUNT_COLORS.values())  # the legend's colours, in its order
    counts = job.counts()
    assert re.findall(r'class="bar-value"[^>]*>([^<]+)<', svg) == [str(counts[name]) for name in COUNT_COLORS]
    assert re.findall(r'class="bar-name"[^>]*>([^<]+)<', svg) == [name.capitalize() for name in COUNT_COLORS]


def test_person_filters_name_origins_as_infobip_and_all_once(admin_client, realm):
    from people.models import Origin, Person
    from tests.people.factories import PersonFactory

    PersonFactory(realm=realm)
    web = PersonFactory(realm=realm)
    Person.objects.filter(pk=web.pk).update(origin=Origin.WEB_SDK)
    response = admin_client.get(reverse("admin:people_person_changelist"))
    specs = {spec.title: spec for spec in response.context["cl"].filter_specs}
    origin = [choice["display"] for choice in specs["origin"].choices(response.context["cl"])]
    assert origin == ["All", "API", "WEB_SDK"]  # Infobip's names, only those that occur
    profile = [choice["display"] for choice in specs["profile"].choices(response.context["cl"])]
    assert profile == ["Active (not merged)", "Merged into another (aliases)", "All"]
    assert len(profile) == len(set(profile)) == 3
    assert (
        admin_client.get(reverse("admin:people_person_changelist"), {"origin__exact": "WEB_SDK"})
        .context["cl"]
        .result_count
        == 1
    )
