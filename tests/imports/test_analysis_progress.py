"""The Analyze step's live bar: the analysis writes how far it has read on a connection of its own, so the
wizard's poll sees it while the analysis's transaction still holds the job row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from imports import analysis, progress, selectors
from imports.models import AnalysisProgress, ImportJob, ImportStatus
from tests.imports.helpers import analyze, csv_bytes, upload

pytestmark = pytest.mark.django_db

ROWS = 2500


def _file() -> bytes:
    rows = [["First name", "Phone", "Email"]]
    rows += [[f"Name{i}", f"+38591{i:07d}", f"p{i}@example.com"] for i in range(ROWS)]
    return csv_bytes(rows)


def test_the_progress_is_visible_while_the_analysis_runs_and_gone_after(realm, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0)
    written: list[tuple[int, str]] = []
    update = progress.Writer.update

    def recording(self, rows, phase="reading"):
        written.append((rows, phase))
        update(self, rows, phase)

    monkeypatch.setattr(progress.Writer, "update", recording)
    seen = {}
    key_owners = analysis.key_owners

    def looking(*args, **kwargs):  # runs inside the analysis's transaction, after the rows were read
        job = ImportJob.objects.get(original_name="people.csv")
        seen["poll"] = selectors.import_job_progress(job)["analysis"]
        return key_owners(*args, **kwargs)

    monkeypatch.setattr(analysis, "key_owners", looking)
    job = upload(realm, "people.csv", _file())
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.ANALYZING)
    job = analyze(job)

    assert job.status == ImportStatus.ANALYZED
    assert written == [(1000, "reading"), (2000, "reading"), (ROWS, "grouping"), (ROWS, "matching")]
    assert seen["poll"] == {
        "rows_read": ROWS,
        "rows_expected": ROWS,
        "percent": 99.0,
        "phase": "matching",
        "phase_display": progress.PHASES["matching"],
    }
    assert not AnalysisProgress.objects.filter(job_id=job.pk).exists()
    assert selectors.import_job_progress(job)["analysis"] is None


def test_the_poll_and_the_page_show_the_rows_read(realm, admin_client):
    job = upload(realm, "people.csv", _file())
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.ANALYZING)
    AnalysisProgress.objects.create(job_id=job.pk, rows_read=500, rows_expected=ROWS, phase="reading")

    polled = admin_client.get(reverse("admin:imports_importjob_progress", args=[job.pk])).json()
    assert polled["analysis"] == {
        "rows_read": 500,
        "rows_expected": ROWS,
        "percent": 20.0,
        "phase": "reading",
        "phase_display": "Reading and validating rows",
    }
    page = admin_client.get(reverse("admin:imports_importjob_job", args=[job.pk])).content.decode()
    assert 'id="analysis-fill" style="width: 20.0%"' in page
    assert "Reading and validating rows · 500 / ~2500 rows" in page
    assert "imports/job_progress.js" in page
    assert "<script nonce" not in page  # the poll is a static file, under the page's CSP


def test_expected_rows_counts_the_line_breaks_of_a_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(_file())
    assert progress.expected_rows(path, "csv") == ROWS
    assert progress.expected_rows(path, "xlsx") == 0
