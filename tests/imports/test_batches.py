"""imports/batches.py: batches applied at once on two connections give what one worker gives, in file order
for a person two batches match, and resume after batches that committed out of order.

These tests commit (the workers are threads with their own connections, which a test's transaction would hide
its rows from); each uses realms of its own.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

import psycopg
import pytest
from django.db import connection, connections
from django.urls import reverse

from companies.models import Company
from imports import apply, batches, selectors
from imports.models import ImportBatch, ImportIssue, ImportJob, ImportStatus
from people.models import Person, Tag
from people.services import person_create
from tests.identities.factories import RealmFactory
from tests.imports.helpers import analyze, csv_bytes, run, upload

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = ["First name", "Last name", "Phone", "Email", "Company", "Tags"]
BATCH = 40


def _rows(count: int = 400) -> list[list[str]]:
    rows = [HEADER]
    for i in range(count):
        j = i - 3 if i % 10 == 9 else i  # every tenth row repeats an earlier row's phone and email
        rows.append([f"Name{i}", "Doe", f"+38591{j:07d}", f"p{j}@example.com", f"Company {i % 3}", f"T{i % 4}, Shared"])
    return rows


def _existing(realm, count: int = 30) -> None:
    """Persons the file matches: person k holds row k*13's phone and row k*13+7's email, so two groups of
    different batches match each one (the gate's case); every fifth one is matched by a third batch too."""
    for k in range(count):
        a, b = k * 13, k * 13 + 7
        person_create(
            realm=realm,
            attributes={"first_name": f"Old{k}"},
            phones=[f"38591{a:07d}"],
            emails=[f"p{b}@example.com"],
        )


def _import(realm, rows, workers: int, settings, strategy="resolve", tags=("Campaign",)) -> ImportJob:
    settings.IMPORT_BATCH_ROWS = BATCH
    settings.IMPORT_APPLY_WORKERS = workers
    job = analyze(upload(realm, "people.csv", csv_bytes(rows)))
    return run(job, strategy, tags=list(tags))


def _snapshot(realm) -> list[tuple]:
    persons = Person.objects.filter(realm=realm, merged_into__isnull=True).prefetch_related("phones", "emails", "tags")
    return sorted(
        (
            p.first_name,
            p.last_name,
            p.company.name if p.company_id else "",
            tuple(sorted(x.number for x in p.phones.all())),
            tuple(sorted(x.address for x in p.emails.all())),
            tuple(sorted(t.name for t in p.tags.all() if not t.name.startswith("Import "))),
        )
        for p in persons.select_related("company")
    )


COUNTS = ("created_count", "updated_count", "unchanged_count", "merged_count", "discarded_count", "persons_merged")


@pytest.mark.parametrize("strategy", ["resolve", "discard"])
def test_two_workers_give_what_one_gives(settings, strategy):
    one, two = RealmFactory(name="One"), RealmFactory(name="Two")
    _existing(one), _existing(two)
    first = _import(one, _rows(), 1, settings, strategy)
    second = _import(two, _rows(), 2, settings, strategy)
    assert first.status == second.status == ImportStatus.SUCCEEDED, (first.error, second.error)
    assert second.created_count > 0
    assert [getattr(first, c) for c in COUNTS] == [getattr(second, c) for c in COUNTS]
    assert _snapshot(one) == _snapshot(two)
    issues = [
        list(ImportIssue.objects.filter(job=job).order_by("row").values_list("row", "kind")) for job in (first, second)
    ]
    assert issues[0] == issues[1]
    # Each new name was created once, though both workers met it in their first batch.
    for realm in (one, two):
        assert Company.objects.filter(realm=realm).count() == 3
        assert Tag.objects.filter(realm=realm, name="Shared").count() == 1


def test_a_person_two_running_batches_match_gets_their_rows_in_file_order(settings, monkeypatch):
    """Row 1 (batch 1) holds the existing person's phone, row 75 (batch 2, another group) its email. Batch 1 is
    held up before it looks its keys up: without the gate, batch 2 would write the person first and batch 1's
    older row would win."""
    realm = RealmFactory(name="Ordered")
    person_create(
        realm=realm,
        attributes={"first_name": "Old"},
        phones=["385910000000"],
        emails=["late@example.com"],
    )
    rows = [HEADER]
    for i in range(2 * BATCH):
        rows.append([f"Name{i}", "Doe", f"+38591{i + 1000:07d}", f"q{i}@example.com", "", ""])
    rows[1] = ["Early", "Doe", "+385910000000", "early@example.com", "", ""]
    rows[2 * BATCH - 5] = ["Late", "Doe", "+385917777777", "late@example.com", "", ""]
    real_key_owners = apply.key_owners
    first_batch_keys = {"p:385910000000"}

    def slow_first(realm_id, keys):
        keys = set(keys)
        if keys & first_batch_keys:
            time.sleep(1.0)  # batch 2 is on its way meanwhile
        return real_key_owners(realm_id, keys)

    monkeypatch.setattr(apply, "key_owners", slow_first)
    job = _import(realm, rows, 2, settings)
    assert job.status == ImportStatus.SUCCEEDED, job.error
    assert ImportBatch.objects.filter(job=job).count() == 2
    person = Person.objects.get(realm=realm, merged_into__isnull=True, phones__number="385910000000")
    assert person.first_name == "Late"  # the file's later row, as one worker applies it
    assert sorted(person.emails.values_list("address", flat=True)) == ["early@example.com", "late@example.com"]


def test_two_running_batches_meeting_a_new_company_name_create_it_once(settings, monkeypatch):
    """Batch 1 creates "NewCo" and is slow to commit; batch 2 meets the name meanwhile: it waits for batch 1's
    commit (``COMPANY_LOCK``) and links the same company instead of creating a second one. No tags: a tag both
    batches create would make batch 2 wait for batch 1's commit before it reaches the companies."""
    realm = RealmFactory(name="Companies")
    rows = [HEADER] + [
        [f"Name{i}", "Doe", f"+38591{i:07d}", f"c{i}@example.com", "NewCo", ""] for i in range(2 * BATCH)
    ]
    real_create = apply.company_create
    created = []

    def slow_create(**kwargs):
        company = real_create(**kwargs)
        created.append(company.pk)
        if len(created) == 1:
            time.sleep(1.0)  # batch 2 reads the names meanwhile
        return company

    monkeypatch.setattr(apply, "company_create", slow_create)
    job = _import(realm, rows, 2, settings, tags=())
    assert job.status == ImportStatus.SUCCEEDED, job.error
    assert ImportBatch.objects.filter(job=job).count() == 2
    assert len(created) == 1
    company = Company.objects.get(realm=realm)
    assert Person.objects.filter(realm=realm, company=company).count() == 2 * BATCH


def test_a_run_resumes_after_batches_that_committed_out_of_order(settings, monkeypatch):
    realm = RealmFactory(name="Resumed")
    real = batches.run_batch
    failing = {"left": 1}

    def first_batch_fails_once(job, context, batch, **kwargs):
        if batch.number == 1 and failing["left"]:
            failing["left"] -= 1
            time.sleep(0.3)  # batch 2 commits first
            raise RuntimeError("the database went away")
        return real(job, context, batch, **kwargs)

    monkeypatch.setattr(batches, "run_batch", first_batch_fails_once)
    job = _import(realm, _rows(200), 2, settings)
    assert job.status == ImportStatus.FAILED
    assert "the database went away" in job.error
    committed = sorted(ImportBatch.objects.filter(job=job).values_list("number", flat=True))
    assert 1 not in committed
    assert 2 in committed
    job = batches.run_job(ImportJob.objects.get(pk=job.pk))  # the admin's Resume runs the job again
    assert job.status == ImportStatus.SUCCEEDED, job.error
    assert job.rows_done == 200
    assert Person.objects.filter(realm=realm).count() == 180  # every row once: 20 repeat an earlier one
    spans = sorted(ImportBatch.objects.filter(job=job).values_list("grp_from", "grp_to"))
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))  # no group applied twice


def test_a_resumed_plan_never_spans_a_committed_batch(settings):
    realm = RealmFactory(name="Planned")
    settings.IMPORT_BATCH_ROWS = 30
    job = analyze(upload(realm, "people.csv", csv_bytes(_rows(100))))
    groups = sorted({b.grp_from for b in batches.plan_batches(job)})
    ImportBatch.objects.create(job=job, number=2, grp_from=groups[1], grp_to=groups[2] - 1, rows=[], row_count=0)
    plan = batches.plan_batches(job)
    assert [b.number for b in plan] == list(range(3, 3 + len(plan)))
    for b in plan:
        assert b.grp_to < groups[1] or b.grp_from >= groups[2]


def test_an_import_waits_for_another_of_its_realm_says_so_and_can_be_cancelled_meanwhile(settings, admin_client):
    realm = RealmFactory(name="Busy")
    settings.IMPORT_BATCH_ROWS = BATCH
    job = analyze(upload(realm, "people.csv", csv_bytes(_rows(50))))
    first = analyze(upload(realm, "first.csv", csv_bytes(_rows(10))))
    ImportJob.objects.filter(pk=first.pk).update(status=ImportStatus.RUNNING)  # the import that holds the realm
    dsn = connection.get_connection_params()
    with psycopg.connect(
        host=dsn.get("host"), port=dsn.get("port"), user=dsn.get("user"), dbname=dsn["dbname"], autocommit=True
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [batches.REALM_LOCK, realm.pk])  # …its run's lock
        started = threading.Event()
        result = {}

        def start():
            started.set()
            try:
                result["job"] = run(job, "resolve")
            finally:
                connections.close_all()

        thread = threading.Thread(target=start)
        thread.start()
        started.wait()
        time.sleep(0.5)
        assert not Person.objects.filter(realm=realm).exists()  # it waits
        waiting = ImportJob.objects.get(pk=job.pk)
        progress = selectors.import_job_progress(waiting)
        assert (waiting.status, progress["waiting"], progress["waiting_for"]) == (ImportStatus.RUNNING, True, first.pk)
        page = admin_client.get(reverse("admin:imports_importjob_job", args=[job.pk])).content.decode()
        assert f"Waiting for import #{first.pk} of this realm to finish" in page
        assert selectors.import_job_progress(ImportJob.objects.get(pk=first.pk))["waiting_for"] is None
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        thread.join(timeout=10)
    assert result["job"].status == ImportStatus.CANCELLED
    assert not result["job"].waiting
    assert not Person.objects.filter(realm=realm).exists()


def test_a_run_clears_the_waiting_flag_a_dead_run_left(settings):
    realm = RealmFactory(name="Stale")
    settings.IMPORT_BATCH_ROWS = BATCH
    job = analyze(upload(realm, "people.csv", csv_bytes(_rows(20))))
    ImportJob.objects.filter(pk=job.pk).update(waiting=True)  # its worker died while it waited
    job = run(job, "resolve")
    assert job.status == ImportStatus.SUCCEEDED, job.error
    assert not job.waiting


def test_workers_are_bounded_by_the_setting_the_cores_and_the_batches(settings):
    settings.IMPORT_APPLY_WORKERS = 8
    plan = [batches.Batch(n, n, n, 1) for n in range(1, 4)]
    assert batches.apply_workers(plan) == min(3, len(os.sched_getaffinity(0)))
    settings.IMPORT_APPLY_WORKERS = 1
    assert batches.apply_workers(plan) == 1
