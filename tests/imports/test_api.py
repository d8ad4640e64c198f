"""The people import over REST: POST /v1/imports, GET /v1/imports[/:id], the error report and cancel.

django-q2 runs inline in these tests (tests/imports/conftest.py); the tasks are queued on commit, so a test
runs them by leaving `django_capture_on_commit_callbacks(execute=True)`."""

import csv
import io
import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext

from imports.mapping import MSG_NO_IDENTIFIER
from imports.models import ImportJob, ImportStatus, SavedMapping
from people.models import Person
from tests.api_support import api_client
from tests.imports.helpers import csv_bytes, upload, zip_bytes
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

HEADER = ["First name", "Last name", "Phone", "Email"]
ROWS = [
    HEADER,
    ["Ana", "A", "0911111111", "a@example.com"],
    ["Bea", "B", "0911111111", "b@example.com"],  # shares Ana's phone
    ["Cid", "C", "0922222222", "c@example.com"],
]


def post_import(client, content=None, name="people.csv", duplicates="resolve", **fields):
    """POST /v1/imports of `content` (ROWS by default); `fields` are form fields, or headers (HTTP_...)."""
    headers = {key: fields.pop(key) for key in list(fields) if key.startswith("HTTP_")}
    data = {"file": SimpleUploadedFile(name, csv_bytes(ROWS) if content is None else content), **fields}
    if duplicates is not None:
        data["duplicates"] = duplicates
    return client.post("/v1/imports", data, format="multipart", **headers)


def submit(client, capture, content=None, **fields):
    """POST the import and run what it queued (analysis, then the import); the job as GET answers it."""
    with capture(execute=True):
        response = post_import(client, content, **fields)
    assert response.status_code == 202, response.json()
    return response, client.get(response.headers["Location"]).json()


def stored_files(settings) -> list[str]:
    return [name for _, _, files in os.walk(settings.MEDIA_ROOT) for name in files]


def persons(realm):
    return list(Person.objects.filter(realm=realm, merged_into__isnull=True).order_by("first_name"))


def report_lines(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


# ------------------------------------------------------------------------------------------ POST, then GET


def test_resolve_creates_the_persons_and_get_shows_the_finished_job(
    api, api_key, realm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(api, tags=["Fair 2026, VIP", "Spring"])

    assert response.status_code == 202
    queued = response.json()
    assert response.headers["Location"] == f"/v1/imports/{queued['id']}"
    assert (queued["status"], queued["strategy"], queued["fileName"]) == ("analyzing", "resolve", "people.csv")
    assert queued["tags"] == ["Fair 2026", "VIP", "Spring"]

    job = api.get(response.headers["Location"]).json()
    assert (job["status"], job["finished"], job["error"]) == ("succeeded", True, None)
    assert job["counts"] == {
        "rows": 3, "created": 2, "updated": 0, "unchanged": 0, "merged": 1, "discarded": 0, "invalid": 0,
        "personsMerged": 0,
    }  # fmt: skip
    assert {k: job["progress"][k] for k in ("rowsDone", "rowsTotal", "percent")} == {
        "rowsDone": 3,
        "rowsTotal": 3,
        "percent": 100.0,
    }
    assert job["tag"] == f"Import {job['createdAt'][:10]} #{job['id']}"
    assert job["errorsUrl"] is None
    assert None not in (job["analyzedAt"], job["startedAt"], job["finishedAt"], job["seconds"])

    ana_bea, cid = persons(realm)
    assert (ana_bea.first_name, ana_bea.last_name) == ("Bea", "B")  # the later row wins
    assert sorted(ana_bea.phones.values_list("number", flat=True)) == ["385911111111"]
    assert sorted(ana_bea.emails.values_list("address", flat=True)) == ["a@example.com", "b@example.com"]
    assert cid.phones.get().number == "385922222222"
    assert set(cid.tags.values_list("name", flat=True)) == {"Fair 2026", "VIP", "Spring", job["tag"]}
    stored = ImportJob.objects.get(pk=job["id"])
    assert (stored.realm, stored.created_by) == (realm, None)
    assert stored.started_by == f"API {api_key.owner} (key {api_key.prefix})"


def test_the_seeds_worked_example_through_the_api(api, realm, django_capture_on_commit_callbacks):
    PersonFactory(id=2649, realm=realm, first_name="Johnny", last_name="D", phones=["385911234567"])
    rows = [
        ["First name", "Last name", "Phone", "Phone 2", "Email"],
        ["Jane", "Roe", "385991234567", "", "jane.roe@example.com"],
        ["John", "Doe", "385991234567", "385911234567", "john.doe@example.com"],
    ]

    _, job = submit(api, django_capture_on_commit_callbacks, csv_bytes(rows))

    assert job["status"] == "succeeded"
    assert job["counts"] == {
        "rows": 2, "created": 0, "updated": 1, "unchanged": 0, "merged": 1, "discarded": 0, "invalid": 0,
        "personsMerged": 0,
    }  # fmt: skip
    person = Person.objects.get(realm=realm)
    assert (person.pk, person.first_name, person.last_name) == (2649, "John", "Doe")
    assert sorted(person.phones.values_list("number", flat=True)) == ["385911234567", "385991234567"]
    assert sorted(person.emails.values_list("address", flat=True)) == ["jane.roe@example.com", "john.doe@example.com"]


def test_discard_keeps_first_rows_only_and_reports_the_others(api, realm, django_capture_on_commit_callbacks):
    existing = PersonFactory(realm=realm, first_name="Old", phones=["385984444444"])
    rows = [*ROWS, ["Eve", "E", "0984444444", "e@example.com"]]

    _, job = submit(api, django_capture_on_commit_callbacks, csv_bytes(rows), duplicates="discard")

    assert (job["status"], job["strategy"]) == ("succeeded", "discard")
    assert {k: job["counts"][k] for k in ("rows", "created", "merged", "discarded", "invalid")} == {
        "rows": 4, "created": 2, "merged": 0, "discarded": 2, "invalid": 0,
    }  # fmt: skip
    assert [p.first_name for p in persons(realm)] == ["Ana", "Cid", "Old"]
    existing.refresh_from_db()
    assert existing.first_name == "Old"
    assert job["errorsUrl"] == f"/v1/imports/{job['id']}/errors.csv"
    lines = report_lines(api.get(job["errorsUrl"]))
    assert [line[:2] for line in lines[1:]] == [["3", "Discarded"], ["5", "Discarded"]]
    assert lines[1][4] == "duplicate of row 2: shares phone 385911111111 with row 2"
    assert lines[2][4] == (
        f"matches existing person {existing.pk} (phone 385984444444); DISCARD does not change existing persons"
    )


def test_a_mapping_and_a_phone_country_are_used_as_the_command_uses_them(
    api, realm, django_capture_on_commit_callbacks
):
    content = zip_bytes({"people.csv": csv_bytes([["Tel", "Name", "Skip"], ["030 1234567", "Max", "x"]])})
    mapping = json.dumps({"Tel": "phone", "Name": "lastName", "Skip": None})

    _, job = submit(
        api, django_capture_on_commit_callbacks, content, name="people.zip", mapping=mapping, phoneCountry="de"
    )

    assert (job["status"], job["fileName"], job["counts"]["created"]) == ("succeeded", "people.zip", 1)
    person = Person.objects.get(realm=realm)
    assert (person.last_name, person.first_name) == ("Max", "")
    assert person.phones.get().number == "49301234567"
    assert ImportJob.objects.get(pk=job["id"]).mapping == [
        {"header": "Tel", "field": "phone", "country": "DE"},
        {"header": "Name", "field": "lastName", "country": ""},
        {"header": "Skip", "field": None, "country": ""},
    ]


def test_the_default_type_is_the_type_of_rows_without_one(api, realm, django_capture_on_commit_callbacks):
    customer = PersonFactory(realm=realm, type="CUSTOMER", first_name="Known", emails=["known@example.com"])
    rows = [
        ["First name", "Email", "Type"],
        ["Ana", "ana@example.com", ""],
        ["Bea", "bea@example.com", "CUSTOMER"],
        ["Known", "known@example.com", ""],
    ]
    mapping = json.dumps({"First name": "firstName", "Email": "email", "Type": "type"})

    response, job = submit(
        api, django_capture_on_commit_callbacks, csv_bytes(rows), mapping=mapping, defaultType="LEAD"
    )

    assert (response.json()["defaultType"], job["defaultType"], job["status"]) == ("LEAD", "LEAD", "succeeded")
    assert ImportJob.objects.get(pk=job["id"]).default_type == "LEAD"
    assert [(p.first_name, p.type) for p in persons(realm)] == [
        ("Ana", "LEAD"),  # no type in its row: the import's
        ("Bea", "CUSTOMER"),  # its row's own
        ("Known", "CUSTOMER"),  # an existing Customer stays one
    ]
    assert persons(realm)[2].pk == customer.pk


def test_without_a_default_type_new_persons_are_customers(api, realm, django_capture_on_commit_callbacks):
    _, job = submit(api, django_capture_on_commit_callbacks)

    assert job["defaultType"] is None
    assert {p.type for p in persons(realm)} == {"CUSTOMER"}


def test_encoding_and_delimiter_override_what_was_detected(api, realm, django_capture_on_commit_callbacks):
    content = csv_bytes([["Ime", "Prezime", "Mobitel"], ["Ivan", "Jurić", "091 123 4567"]], encoding="cp1250")

    _, job = submit(api, django_capture_on_commit_callbacks, content, encoding="cp1252", delimiter=",")

    assert job["status"] == "succeeded"
    assert Person.objects.get(realm=realm).last_name == "Juriæ"  # the byte of ć, read as cp1252 says
    assert ImportJob.objects.get(pk=job["id"]).encoding == "cp1252"


def test_an_analysis_that_refuses_the_file_fails_the_job_with_the_reason(
    api, realm, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_MAX_ROWS = 6  # the upload previews 5 rows; the analysis reads all 7
    rows = [HEADER, *([f"P{n}", "X", f"09100000{n:02d}", ""] for n in range(7))]

    _, job = submit(api, django_capture_on_commit_callbacks, csv_bytes(rows))

    assert (job["status"], job["finished"], job["error"]) == ("failed", True, "The file has more than 6 rows.")
    assert not Person.objects.exists()


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("name", "content", "type_", "reason"),
    [
        ("people.csv", b"", "empty", "The file is empty."),
        ("people.csv", b"First name,Phone\r\n", "header_only", "The file has a header row but no data rows."),
        ("people.zip", zip_bytes({"a.csv": csv_bytes(ROWS), "b.csv": csv_bytes(ROWS)}), "zip_count",
         "A zip must hold exactly one .csv, .txt, .xls or .xlsx file; this one holds 2: a.csv, b.csv."),
        ("people.csv", csv_bytes(ROWS * 20), "too_big", "The file is larger than 0.000488281 MB (0.0 MB)."),
        ("people.pdf", b"%PDF", "extension", "Only .csv, .txt, .xls, .xlsx or .zip files can be imported "
         "(got 'people.pdf')."),
    ],
)  # fmt: skip
def test_a_refused_file_is_400_with_the_reason_and_leaves_nothing(api, settings, name, content, type_, reason):
    settings.IMPORT_MAX_FILE_BYTES = 512

    response = post_import(api, content, name=name)

    assert response.status_code == 400
    body = response.json()
    assert (body["name"], body["type"], body["message"]) == ("FileRefused", type_, reason)
    assert not ImportJob.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"mapping": json.dumps({"First name": "firstName", "Phone": None, "Email": None})},
         {"mapping": [MSG_NO_IDENTIFIER]}),
        ({"mapping": json.dumps({"Mobile": "phone"})},
         {"mapping": ["the file has no column 'Mobile' (columns: First name, Last name, Phone, Email)"]}),
        ({"mapping": json.dumps({"Phone": "mobile"})},
         {"mapping.Phone": ["'mobile' is not a field a column can be imported into"], "mapping": [MSG_NO_IDENTIFIER]}),
        ({"mapping": '{"Phone": "phone"'},
         {"mapping": ["is not valid JSON (Expecting ',' delimiter: line 1 column 18 (char 17))"]}),
        ({"mapping": '["Phone"]'},
         {"mapping": ['must be a JSON object: column header → field name or null, e.g. {"Mobile": "phone"}']}),
    ],
)  # fmt: skip
def test_a_bad_mapping_is_400_with_the_reason_and_leaves_nothing(api, settings, fields, errors):
    response = post_import(api, **fields)

    assert response.status_code == 400
    assert response.json()["data"]["fields"] == errors
    assert not ImportJob.objects.exists()
    assert not SavedMapping.objects.exists()
    assert stored_files(settings) == []


def test_a_file_whose_columns_map_to_no_identifier_is_400(api, settings):
    response = post_import(api, csv_bytes([["Name", "Notes"], ["Ana", "likes tea"]]))

    assert response.status_code == 400
    assert response.json()["data"]["fields"] == {"mapping": [MSG_NO_IDENTIFIER]}
    assert not ImportJob.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"duplicates": None}, {"duplicates": ["is required: discard or resolve"]}),
        ({"duplicates": "merge"}, {"duplicates": ["must be discard or resolve, got 'merge'"]}),
        ({"phoneCountry": "Croatia"}, {"phoneCountry": ["'Croatia' is not a country code like HR or DE"]}),
        ({"encoding": "ebcdic"}, {"encoding": ["'ebcdic' is not an encoding this import can read."]}),
        ({"colour": "red"}, {"colour": ["is not a field of an import (fields: file, duplicates, mapping, "
                                        "phoneCountry, tags, encoding, delimiter, defaultType)"]}),
        ({"defaultType": "PROSPECT"}, {"defaultType": ["must be LEAD or CUSTOMER, got 'PROSPECT'"]}),
        ({"defaultType": "lead"}, {"defaultType": ["must be LEAD or CUSTOMER, got 'lead'"]}),
        ({"defaultType": ["LEAD", "CUSTOMER"]}, {"defaultType": ["give it once"]}),
    ],
)  # fmt: skip
def test_bad_choices_are_400_naming_the_field(api, settings, fields, errors):
    response = post_import(api, **fields)

    assert response.status_code == 400
    assert response.json()["data"]["fields"] == errors
    assert not ImportJob.objects.exists()
    assert stored_files(settings) == []


def test_the_file_is_required_and_must_be_a_file(api):
    missing = api.post("/v1/imports", {"duplicates": "resolve"}, format="multipart")
    text = api.post("/v1/imports", {"duplicates": "resolve", "file": "First name,Phone"}, format="multipart")
    as_json = api.post("/v1/imports", {"duplicates": "resolve"}, format="json")

    assert missing.json()["data"]["fields"] == {
        "file": ["is required: the table to import, sent as a multipart/form-data file part"]
    }
    assert text.json()["data"]["fields"] == {"file": ["must be a file part (with a filename), not a text field"]}
    assert (as_json.status_code, as_json.json()["type"]) == (415, "unsupported_media_type")
    assert not ImportJob.objects.exists()


def test_no_key_or_a_wrong_key_is_401(anon, realm):
    for client in (anon, api_client("not-a-key")):
        for response in (post_import(client), client.get("/v1/imports")):
            assert response.status_code == 401
            assert response.json()["name"] == "Unauthorized"
    assert not ImportJob.objects.exists()


def test_another_realms_job_is_404_everywhere(api, other_api, realm, other_realm):
    mine = upload(realm, "people.csv", csv_bytes(ROWS))
    theirs = upload(other_realm, "people.csv", csv_bytes(ROWS))

    for path in (f"/v1/imports/{theirs.pk}", f"/v1/imports/{theirs.pk}/errors.csv",
                 f"/v1/imports/{theirs.pk}/errors.xlsx"):  # fmt: skip
        response = api.get(path)
        assert (response.status_code, response.json()["message"]) == (404, f"import {theirs.pk} does not exist")
    cancel = api.post(f"/v1/imports/{theirs.pk}/cancel")
    assert cancel.status_code == 404
    assert [job["id"] for job in api.get("/v1/imports").json()["imports"]] == [mine.pk]
    assert [job["id"] for job in other_api.get("/v1/imports").json()["imports"]] == [theirs.pk]
    assert api.get(f"/v1/imports/{mine.pk}").json()["status"] == "uploaded"


# ------------------------------------------------------------------------------------------ error report


def test_the_error_report_neutralizes_formulas_and_lists_the_problem_rows(
    api, realm, django_capture_on_commit_callbacks
):
    rows = [
        HEADER,
        ["=cmd()", "Doe", "0911111111", ""],
        ["Ana", "A", "+1 555", "@ana"],
        ["Bea", "B", "0922222222", "bea@example.com"],
    ]
    _, job = submit(api, django_capture_on_commit_callbacks, csv_bytes(rows))
    assert {k: job["counts"][k] for k in ("rows", "created", "invalid")} == {"rows": 3, "created": 1, "invalid": 2}

    response = api.get(job["errorsUrl"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="import-{job["id"]}-errors.csv"'
    lines = report_lines(response)
    assert lines[0] == ["Row", "Kind", "Column", "Value", "Reason", *HEADER]
    assert lines[1] == ["2", "Invalid", "First name", "'=cmd()",
                        "contains the forbidden character '='; contains the forbidden character '('; "
                        "contains the forbidden character ')'",
                        "'=cmd()", "Doe", "0911111111", ""]  # fmt: skip
    assert [line[0] for line in lines[1:]] == ["2", "3"]  # Ana's two problems are one line
    ana = lines[2]
    assert ana[1:4] == ["Invalid", "Phone; Email", "'+1 555; @ana"]
    assert ana[4].startswith("Phone: ")
    assert "; Email: " in ana[4]
    assert ana[5:] == ["Ana", "A", "'+1 555", "'@ana"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)


def test_the_error_report_as_xlsx(api, realm, django_capture_on_commit_callbacks):
    from openpyxl import load_workbook

    _, job = submit(api, django_capture_on_commit_callbacks, csv_bytes([HEADER, ["=1+1", "Doe", "0911111111", ""]]))

    response = api.get(f"/v1/imports/{job['id']}/errors.xlsx")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{job["id"]}-errors.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][:4] == [2, "Invalid", "First name", "'=1+1"]
    assert sheet.cell(row=2, column=6).data_type == "s"


# ------------------------------------------------------------------------------------------ idempotency


def test_a_repeated_post_with_the_same_idempotency_key_creates_one_job(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_import(api, HTTP_IDEMPOTENCY_KEY="upload-1")
        again = post_import(api, HTTP_IDEMPOTENCY_KEY="upload-1")
        # The same upload from another client: another multipart boundary, the same fields and file.
        other_boundary = api.post(
            "/v1/imports",
            encode_multipart("AnotherBoundary", {"duplicates": "resolve", "file": SimpleUploadedFile(
                "people.csv", csv_bytes(ROWS))}),
            content_type="multipart/form-data; boundary=AnotherBoundary",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )  # fmt: skip
        changed = post_import(api, csv_bytes(ROWS[:2]), HTTP_IDEMPOTENCY_KEY="upload-1")

    assert first.status_code == 202
    for replay in (again, other_boundary):
        assert (replay.status_code, replay.json()) == (202, first.json())
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.headers["Location"] == first.headers["Location"]
    assert (changed.status_code, changed.json()["type"]) == (422, "idempotency_key_mismatch")
    assert list(ImportJob.objects.values_list("pk", "status")) == [(first.json()["id"], ImportStatus.SUCCEEDED)]
    assert Person.objects.count() == 2


# ------------------------------------------------------------------------------------------ cancel


def test_cancel_of_a_finished_job_is_409_and_changes_nothing(api, django_capture_on_commit_callbacks):
    _, job = submit(api, django_capture_on_commit_callbacks)

    response = api.post(f"/v1/imports/{job['id']}/cancel")

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Import #{job['id']} is done: only a queued or running import can be cancelled."
    )
    assert api.get(f"/v1/imports/{job['id']}").json()["status"] == "succeeded"


def test_cancel_before_the_analysis_ran_stops_the_job(api, realm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = post_import(api)
    job_id = response.json()["id"]

    cancelled = api.post(f"/v1/imports/{job_id}/cancel")
    for task in queued:  # the worker picks the chain up after the cancel
        task()

    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["finished"]) == ("cancelled", True)
    assert api.get(f"/v1/imports/{job_id}").json()["status"] == "cancelled"
    assert not Person.objects.exists()


def test_cancel_of_a_queued_job(api, realm):
    from imports import services
    from tests.imports.helpers import analyze

    job = services.import_job_start(job=analyze(upload(realm, "people.csv", csv_bytes(ROWS))), strategy="discard")

    response = api.post(f"/v1/imports/{job.pk}/cancel")

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (ImportStatus.CANCELLED, True)


# ------------------------------------------------------------------------------------------ list


def test_the_list_is_newest_first_and_pages(api, realm, other_realm):
    jobs = [upload(realm, f"people-{n}.csv", csv_bytes(ROWS)) for n in range(3)]
    upload(other_realm, "theirs.csv", csv_bytes(ROWS))

    first = api.get("/v1/imports").json()
    second = api.get("/v1/imports?limit=2&page=2&includeTotalCount=true").json()
    oldest_first = api.get("/v1/imports?orderBy=id:asc").json()

    assert [job["fileName"] for job in first["imports"]] == ["people-2.csv", "people-1.csv", "people-0.csv"]
    assert (first["limit"], first["page"], first["orderBy"]) == (20, 1, "createdAt:desc")
    assert [job["id"] for job in second["imports"]] == [jobs[0].pk]
    assert second["totalCount"] == 3
    assert [job["id"] for job in oldest_first["imports"]] == [job.pk for job in jobs]
    assert api.get("/v1/imports?orderBy=fileName:asc").status_code == 400


def test_the_list_costs_the_same_queries_for_one_job_or_many(api, realm):
    upload(realm, "people.csv", csv_bytes(ROWS))
    api.get("/v1/imports")  # the key is now cached, as it is on a warm server
    with CaptureQueriesContext(connection) as one:
        api.get("/v1/imports?includeTotalCount=true")
    for n in range(4):
        upload(realm, f"more-{n}.csv", csv_bytes(ROWS))
    with CaptureQueriesContext(connection) as five:
        body = api.get("/v1/imports?includeTotalCount=true").json()

    assert body["totalCount"] == 5
    assert len(five.captured_queries) == len(one.captured_queries) == 2  # the page, and its total
