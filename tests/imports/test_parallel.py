"""The analysis parsed by forked workers finds exactly what the serial analysis finds (same counts, same staged
rows with the same groups, same problems), and a refused file is refused the same way."""

from __future__ import annotations

import pytest

from imports import parallel
from imports.models import ImportIssue, ImportRow, ImportStatus
from tests.imports.helpers import analyze, csv_bytes, run, upload

HEADER = ["First name", "Last name", "Phone", "Email", "Birth date", "Tags"]


def _rows(count: int) -> list[list[str]]:
    rows = [HEADER]
    for i in range(count):
        phone = f"+38591{1_000_000 + i:07d}"
        if i % 10 == 9:
            phone = f"+38591{1_000_000 + i - 7:07d}"  # repeats an earlier row's phone
        if i % 37 == 5:
            phone = "12"  # invalid
        birth = "2999-01-01" if i % 53 == 7 else f"19{50 + i % 50}-0{1 + i % 9}-1{i % 9}"
        rows.append([f"Ana{i}", "Horvat", phone, f"ana{i % 500}@ex.hr", birth, "vip" if i % 3 else ""])
    return rows


def _analysis(realm, content: bytes):
    job = analyze(upload(realm, "people.csv", content))
    staged = list(ImportRow.objects.filter(job=job).order_by("row").values_list("row", "grp", "data"))
    issues = list(ImportIssue.objects.filter(job=job).order_by("row", "id").values_list("row", "column", "reason"))
    return job, {k: v for k, v in job.analysis.items() if k != "seconds"}, staged, issues


@pytest.mark.django_db(transaction=True)
def test_the_parallel_analysis_equals_the_serial_one(realm, monkeypatch):
    content = csv_bytes(_rows(3000))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 10**12)
    _, serial, serial_rows, serial_issues = _analysis(realm, content)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 128)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    forks = []
    real_fork = parallel.os.fork
    monkeypatch.setattr(parallel.os, "fork", lambda: forks.append(1) or real_fork())
    job, parallel_analysis, rows, issues = _analysis(realm, content)

    assert len(forks) == 3
    assert parallel_analysis == serial
    assert serial["invalid"] > 0
    assert serial["duplicate_groups"] > 0
    assert rows == serial_rows
    assert issues == serial_issues
    job = run(job)
    assert job.status == ImportStatus.SUCCEEDED
    assert job.counts()["created"] == serial["resolve"]["created"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_refusing_the_file_refuses_the_analysis(realm, settings, monkeypatch):
    settings.IMPORT_MAX_ROWS = 1000
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 100)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1})
    job = upload(realm, "people.csv", csv_bytes(_rows(1500)))
    with pytest.raises(Exception, match=r"more than 1,?000 rows"):
        analyze(job)
    job.refresh_from_db()
    assert job.status != ImportStatus.ANALYZED
    assert not ImportRow.objects.filter(job=job).exists()
