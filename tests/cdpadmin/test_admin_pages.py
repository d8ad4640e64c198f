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
