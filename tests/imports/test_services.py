import datetime as dt

import pytest
from django.utils import timezone

from imports import apply, services
from imports.models import ImportBatch, ImportIssue, ImportJob, ImportRow, ImportStatus
from imports.selectors import applied_rows
from infobip.models import OutboxEntry
from people.models import MergeRecord, Person, PersonPhone, Tag
from tests.imports.helpers import analyze, csv_bytes, import_file, run, upload
from tests.people.factories import CustomAttributeDefinitionFactory, PersonFactory

pytestmark = pytest.mark.django_db

HEADER = ["First name", "Last name", "Phone", "Email", "Birth date", "Tags"]


def persons(realm):
    return list(Person.objects.filter(realm=realm, merged_into__isnull=True).order_by("pk"))


def phones(person):
    return sorted(person.phones.values_list("number", flat=True))


def emails(person):
    return sorted(person.emails.values_list("address", flat=True))


def test_transitive_groups_become_one_person(realm):
    rows = [
        HEADER,
        ["Ana", "A", "0911111111", "a@example.com", "", ""],
        ["Bea", "B", "0911111111", "b@example.com", "", ""],  # shares A's phone
        ["Cid", "C", "0922222222", "b@example.com", "", ""],  # shares B's email
        ["Dan", "D", "0983333333", "d@example.com", "", ""],
    ]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    found = persons(realm)
    assert len(found) == 2
    abc = next(p for p in found if p.last_name == "C")
    assert phones(abc) == ["385911111111", "385922222222"]
    assert emails(abc) == ["a@example.com", "b@example.com"]
    assert abc.first_name == "Cid"  # the most recent (last) row wins
    assert job.analysis["duplicate_groups"] == 1
    assert job.analysis["rows_in_duplicate_groups"] == 3
    assert (job.created_count, job.merged_count) == (2, 2)


def test_discard_imports_the_first_row_of_a_group_and_no_row_matching_a_person(realm):
    existing = PersonFactory(realm=realm, first_name="Old", phones=["385984444444"])
    rows = [
        HEADER,
        ["Ana", "A", "0911111111", "a@example.com", "", ""],
        ["Bea", "B", "0911111111", "b@example.com", "", ""],
        ["Cid", "C", "0922222222", "b@example.com", "", ""],
        ["Eve", "E", "0984444444", "e@example.com", "", ""],  # matches the existing person
        ["Fay", "F", "0955555555", "", "", ""],
    ]
    job = import_file(realm, "people.csv", csv_bytes(rows), strategy="discard")
    assert sorted(p.first_name for p in persons(realm)) == ["Ana", "Fay", "Old"]
    existing.refresh_from_db()
    assert emails(existing) == []  # DISCARD never changes existing persons
    assert (job.created_count, job.discarded_count, job.updated_count) == (2, 3, 0)
    reasons = dict(ImportIssue.objects.filter(job=job).values_list("row", "reason"))
    assert reasons[3] == "duplicate of row 2: shares phone 385911111111 with row 2"
    assert reasons[4] == "duplicate of row 2: shares email b@example.com with row 3"
    assert reasons[5].startswith(f"matches existing person {existing.pk} (phone 385984444444)")
    assert job.analysis["discard"] == {"created": 2, "discarded": 3, "invalid": 0}


def test_invalid_rows_are_reported_and_the_rest_is_imported(realm):
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    rows = [
        HEADER,
        ["Ana", "Horvat", "0911111111", "ana@example.com", "1990-01-02", "VIP"],
        ["Ana<b>", "Horvat", "0912222222", "", "", ""],
        ["Bo", "Ban", "12", "", "", ""],
        ["Cy", "Cro", "0913333333", "not-an-email", "", ""],
        ["Di", "Dal", "0914444444", "", future, ""],
        ["No", "Contact", "", "", "", ""],
    ]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    assert job.status == "succeeded"
    assert [p.first_name for p in persons(realm)] == ["Ana"]
    assert (job.rows_total, job.invalid_count, job.created_count) == (6, 5, 1)
    issues = set(ImportIssue.objects.filter(job=job).values_list("row", "column", "reason"))
    assert (3, "First name", "contains the forbidden character '<'") in issues
    assert (3, "First name", "contains the forbidden character '>'") in issues
    assert (4, "Phone", "'12' is not a valid phone number") in issues
    assert (5, "Email", "'not-an-email' is not a valid email address") in issues
    assert (6, "Birth date", f"{future} is in the future") in issues
    assert (7, "", "the row has no valid phone, email or externalId") in issues
    assert ImportIssue.objects.get(job=job, row=5).values == rows[4]


def test_values_from_the_file_win_but_an_empty_cell_never_erases(realm):
    CustomAttributeDefinitionFactory(realm=realm, name="Loyalty Points", data_type="INTEGER")
    person = PersonFactory(
        realm=realm, first_name="Ana", last_name="Old", city="Split", birth_date=dt.date(1980, 1, 1),
        phones=["385911111111"], tags=["Existing"],
    )  # fmt: skip
    Person.objects.filter(pk=person.pk).update(custom_attributes={"Loyalty Points": 5})
    rows = [
        ["Phone", "Last name", "City", "Birth date", "Loyalty Points", "Tags"],
        ["0911111111", "New", "", "1990-05-06", "", "VIP; Newsletter"],
        ["0911111111", "", "", "", "42", ""],
    ]
    job = import_file(realm, "people.csv", csv_bytes(rows), tags=["Campaign"])
    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.city) == ("Ana", "New", "Split")
    assert person.birth_date == dt.date(1990, 5, 6)
    assert person.custom_attributes == {"Loyalty Points": 42}
    assert sorted(person.tags.values_list("name", flat=True)) == sorted(
        ["Existing", "VIP", "Newsletter", "Campaign", job.import_tag]
    )
    assert person.modified_from == "IMPORT"


def test_several_existing_persons_matching_one_group_are_merged_with_the_merge_service(realm):
    old = PersonFactory(realm=realm, first_name="Old", phones=["385911111111"])
    new = PersonFactory(realm=realm, first_name="New", emails=["x@example.com"])
    Person.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=30))
    rows = [HEADER, ["File", "Row", "0911111111", "x@example.com", "", ""]]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    survivor = Person.objects.get(pk=old.pk)
    assert Person.objects.get(pk=new.pk).merged_into_id == old.pk  # default_survivor: the earliest created
    assert survivor.first_name == "File"
    assert phones(survivor) == ["385911111111"]
    assert emails(survivor) == ["x@example.com"]
    record = MergeRecord.objects.get(survivor=survivor)
    assert (record.source, record.actor) == ("import", f"import #{job.pk}")
    assert (job.updated_count, job.persons_merged) == (1, 1)


def test_reimporting_the_same_file_with_resolve_changes_nothing(cdp_realm):
    rows = [
        HEADER,
        ["Ana", "A", "0911111111", "a@example.com", "1990-01-02", "VIP"],
        ["Bea", "B", "0911111111", "b@example.com", "", "Newsletter"],
        ["Cid", "C", "0922222222", "", "", ""],
    ]
    first = import_file(cdp_realm, "people.csv", csv_bytes(rows))
    assert first.created_count == 2

    def state():
        return [
            (p.pk, p.first_name, p.modified, phones(p), emails(p), sorted(p.tags.values_list("name", flat=True)))
            for p in persons(cdp_realm)
        ]

    before, outbox, tags = state(), OutboxEntry.objects.count(), Tag.objects.count()
    second = import_file(cdp_realm, "people.csv", csv_bytes(rows))
    assert second.status == "succeeded"
    assert state() == before
    assert OutboxEntry.objects.count() == outbox
    assert Tag.objects.count() == tags  # not even the second import's tag
    assert (second.created_count, second.updated_count, second.unchanged_count, second.merged_count) == (0, 0, 2, 1)


def test_outbox_rows_only_for_realms_that_push_and_one_per_changed_person(realm, cdp_realm):
    rows = [HEADER, ["Ana", "A", "0911111111", "", "", ""], ["Bea", "B", "0922222222", "", "", ""]]
    import_file(realm, "people.csv", csv_bytes(rows))
    assert not OutboxEntry.objects.filter(realm=realm).exists()
    PersonFactory(realm=cdp_realm, first_name="Old", phones=["385922222222"])
    import_file(cdp_realm, "people.csv", csv_bytes(rows))
    entries = OutboxEntry.objects.filter(realm=cdp_realm, entity="person")
    assert sorted(entries.values_list("op", flat=True)) == ["create", "update"]
    update = entries.get(op="update")
    assert update.payload["fields"] == ["first_name", "last_name"]
    assert all(p.sync_status == "pending" for p in persons(cdp_realm))


def test_realms_are_isolated(realm, other_realm):
    theirs = PersonFactory(realm=other_realm, first_name="Theirs", phones=["385911111111"])
    rows = [HEADER, ["Ours", "A", "0911111111", "", "", ""]]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    assert job.created_count == 1
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert PersonPhone.objects.filter(number="385911111111").count() == 2
    assert Person.objects.get(realm=realm).first_name == "Ours"


def _many_rows(count, start=0):
    return [HEADER] + [[f"P{i}", "X", f"0911{i:06d}", "", "", ""] for i in range(start, start + count)]


def test_cancel_stops_after_the_current_batch_and_says_which_rows_were_applied(realm, settings, monkeypatch):
    settings.IMPORT_BATCH_ROWS = 3
    job = analyze(upload(realm, "people.csv", csv_bytes(_many_rows(10))))
    job = services.import_job_start(job=job, strategy="resolve", enqueue=False)
    real = apply.apply_batch
    calls = []

    def cancel_after_first(context, staged):
        calls.append(1)
        if len(calls) == 1:
            ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return real(context, staged)

    monkeypatch.setattr(apply, "apply_batch", cancel_after_first)
    job = services.import_job_run(job=job)
    assert job.status == ImportStatus.CANCELLED
    assert len(persons(realm)) == 3
    assert applied_rows(job) == (3, "2–4")
    assert job.rows_done == 3


def test_a_crash_mid_import_leaves_whole_batches_and_the_run_resumes(realm, settings, monkeypatch):
    settings.IMPORT_BATCH_ROWS = 2
    a = PersonFactory(realm=realm, first_name="A", phones=["385990000001"])
    b = PersonFactory(realm=realm, first_name="B", emails=["b@example.com"])
    rows = [
        HEADER,
        ["P1", "X", "0911000001", "", "", ""],
        ["P2", "X", "0911000002", "", "", ""],
        ["Merge", "Me", "0990000001", "b@example.com", "", ""],  # batch 2: merges A and B, then fails
        ["P4", "X", "0911000004", "", "", ""],
    ]
    job = analyze(upload(realm, "people.csv", csv_bytes(rows)))
    job = services.import_job_start(job=job, strategy="resolve", enqueue=False)
    real = apply.write
    calls = []

    def crash_in_second_batch(context, targets, outcome):
        calls.append(1)
        real(context, targets, outcome)
        if len(calls) == 2:
            raise RuntimeError("worker lost")

    monkeypatch.setattr(apply, "write", crash_in_second_batch)
    job = services.import_job_run(job=job)
    assert job.status == ImportStatus.FAILED
    assert "worker lost" in job.error
    assert applied_rows(job) == (2, "2–3")
    # Nothing of batch 2 stayed: not the merge of A and B, not the file's values.
    assert Person.objects.get(pk=b.pk).merged_into_id is None
    assert not MergeRecord.objects.exists()
    assert Person.objects.get(pk=a.pk).first_name == "A"
    assert sorted(p.first_name for p in persons(realm)) == ["A", "B", "P1", "P2"]

    monkeypatch.setattr(apply, "write", real)
    job = services.import_job_run(job=job)
    assert job.status == ImportStatus.SUCCEEDED
    assert ImportBatch.objects.filter(job=job).count() == 2
    assert applied_rows(job) == (4, "2–5")
    assert Person.objects.get(pk=b.pk).merged_into_id == a.pk
    assert (job.created_count, job.updated_count, job.persons_merged) == (3, 1, 1)


def test_the_job_cannot_start_before_analysis_or_with_a_changed_mapping(realm):
    from core.errors import Conflict

    job = upload(realm, "people.csv", csv_bytes(_many_rows(2)))
    with pytest.raises(Conflict):
        services.import_job_start(job=job, strategy="resolve")
    job = analyze(job)
    job = services.import_job_map(
        job=job, mapping=[{**e, "field": None} if e["field"] == "lastName" else e for e in job.mapping]
    )
    with pytest.raises(Conflict):
        services.import_job_start(job=job, strategy="resolve")


def test_a_tag_column_and_company_column(realm):
    rows = [
        ["Phone", "Tags", "Company"],
        ["0911111111", "VIP, Gold", "Acme d.o.o."],
        ["0922222222", "vip", "ACME D.O.O."],
    ]
    import_file(realm, "people.csv", csv_bytes(rows))
    found = persons(realm)
    assert {p.company.name for p in found} == {"Acme d.o.o."}
    assert {"Gold", "VIP"} <= set(found[0].tags.values_list("name", flat=True))
    assert "VIP" in found[1].tags.values_list("name", flat=True)


def test_analysis_counts_what_each_strategy_would_do(realm):
    PersonFactory(realm=realm, phones=["385983333333"])
    rows = [
        HEADER,
        ["A", "A", "0911111111", "", "", ""],
        ["B", "B", "0911111111", "", "", ""],
        ["C", "C", "0983333333", "", "", ""],
        ["D", "D", "bad", "", "", ""],
    ]
    job = analyze(upload(realm, "people.csv", csv_bytes(rows)))
    assert job.status == ImportStatus.ANALYZED
    analysis = job.analysis
    assert (analysis["rows"], analysis["valid"], analysis["invalid"]) == (4, 3, 1)
    assert analysis["matching_rows"] == 1
    assert analysis["resolve"] == {"created": 1, "updated": 1, "merged": 1, "persons_merged": 0, "invalid": 1}
    assert analysis["discard"] == {"created": 1, "discarded": 2, "invalid": 1}
    assert analysis["sample"][0] == {
        "row": 2, "cells": [["firstName", "A"], ["lastName", "A"], ["phone", "385911111111"]],
    }  # fmt: skip
    job = run(job, "discard")
    assert (job.created_count, job.discarded_count, job.invalid_count) == (1, 2, 1)


def test_deleting_a_job_deletes_its_staged_rows_issues_and_batches(realm):
    from imports.models import ImportRow

    job = analyze(upload(realm, "people.csv", csv_bytes([*_many_rows(3), ["Bad", "Row", "x", "", "", ""]])))
    assert ImportRow.objects.filter(job=job).count() == 3
    assert ImportIssue.objects.filter(job=job).count() == 1
    job.delete()
    assert not ImportRow.objects.exists()
    assert not ImportIssue.objects.exists()


# ------------------------------------------------------------------------ unattended: analyze, then start


def test_an_unattended_job_analyzes_and_starts_itself_with_the_choices_given(realm, django_capture_on_commit_callbacks):
    job = upload(realm, "people.csv", csv_bytes([*_many_rows(2), ["Dup", "X", "0911000000", "", "", ""]]))
    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_job_request_unattended(job=job, strategy="discard", tags=["Fair", "fair", " VIP "])
        assert (job.status, job.strategy, job.tags) == (ImportStatus.ANALYZING, "discard", ["Fair", "VIP"])

    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED
    assert (job.rows_total, job.created_count, job.discarded_count) == (3, 2, 1)
    assert job.analyzed_at is not None
    assert job.analysis["discard"]["discarded"] == 1
    assert {t for p in persons(realm) for t in p.tags.values_list("name", flat=True)} == {"Fair", "VIP", job.import_tag}


def test_unattended_analysis_and_start_commit_together(realm, monkeypatch, django_capture_on_commit_callbacks):
    from imports import tasks

    job = upload(realm, "people.csv", csv_bytes(_many_rows(2)))
    with django_capture_on_commit_callbacks() as queued:
        services.import_job_request_unattended(job=job, strategy="resolve")
    # django-q2 runs a task again when its worker was lost: a second run finds the job started and does nothing.
    with django_capture_on_commit_callbacks(execute=True):
        for task in [*queued, *queued]:
            task()
    job.refresh_from_db()
    assert (job.status, job.created_count, job.attempts) == (ImportStatus.SUCCEEDED, 2, 1)
    assert tasks.analyze_and_start_import(job.pk) == "skipped"

    def broken(**kwargs):
        raise RuntimeError("disk full")

    other = upload(realm, "people.csv", csv_bytes(_many_rows(2, start=10)))
    services.import_job_request_unattended(job=other, strategy="resolve")
    monkeypatch.setattr(services, "import_job_start", broken)
    with pytest.raises(RuntimeError):
        services.import_job_analyze_and_start(job=other)
    other.refresh_from_db()
    # The analysis went with the failed start: nothing staged, no issues, never analyzed; the job says why.
    assert (other.status, other.error, other.analyzed_at) == (ImportStatus.FAILED, "RuntimeError: disk full", None)
    assert (other.rows_total, other.analysis) == (0, {})
    assert not ImportIssue.objects.filter(job=other).exists()
    assert not ImportRow.objects.filter(job=other).exists()


def test_an_unattended_job_whose_analysis_is_refused_fails_and_cannot_be_resumed(
    realm, settings, django_capture_on_commit_callbacks
):
    from core.errors import Conflict

    settings.IMPORT_MAX_ROWS = 6
    job = upload(realm, "people.csv", csv_bytes(_many_rows(7)))
    with django_capture_on_commit_callbacks(execute=True):
        services.import_job_request_unattended(job=job, strategy="resolve")

    job.refresh_from_db()
    assert (job.status, job.error) == (ImportStatus.FAILED, "The file has more than 6 rows.")
    assert job.finished_at is not None
    with pytest.raises(Conflict, match="failed before its rows were analyzed"):
        services.import_job_resume(job=job)


def test_an_unattended_request_checks_its_choices_before_changing_anything(realm):
    from core.errors import ValidationError

    job = upload(realm, "people.csv", csv_bytes(_many_rows(2)))
    with pytest.raises(ValidationError) as strategy:
        services.import_job_request_unattended(job=job, strategy="merge")
    with pytest.raises(ValidationError) as tags:
        services.import_job_request_unattended(job=job, strategy="resolve", tags=["x" * 300])
    assert list(strategy.value.fields) == ["strategy"]
    assert list(tags.value.fields) == ["tags"]
    job.refresh_from_db()
    assert (job.status, job.strategy, job.tags) == (ImportStatus.UPLOADED, "", [])
