"""Workbooks that took a process down (exit 134) or ended in a 500: each is a refusal naming the problem, through
the services, `manage.py import_people` and POST /v1/imports. The reader runs in a child process with memory
and CPU limits (imports/workbook_child.py); the checks before it are bounded scans of the zip."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from imports import readers, services, workbooks
from imports.models import ImportJob
from imports.readers import FileRefused
from tests.imports import hostile_files as hostile
from tests.imports.helpers import upload

pytestmark = pytest.mark.django_db

CASES = [
    ("huge-dimension.xlsx", hostile.huge_dimension, "dimension", "A1:XFD1048576"),
    ("far-cell.xlsx", hostile.far_cell, "reader_crash", "memory"),
    ("broken-strings.xlsx", hostile.broken_shared_strings, "not_excel", "Cell string index not found"),
    ("entity-bomb.xlsx", hostile.entity_bomb, "xml_entities", "xl/sharedStrings.xml"),
    ("zip-bomb.xlsx", hostile.zip_bomb, "zip_bomb", "xl/media/image1.bin"),
    ("many-parts.xlsx", hostile.many_parts, "zip_bomb", "2506 parts"),
    ("ole-garbage.xls", lambda: hostile.OLE2_GARBAGE, "not_excel", "CalamineError"),
    ("text.xls", lambda: b"First name,Phone\r\nAna,0911234567\r\n", "not_excel", "text.xls"),
]


def _refusal(realm, name, content) -> FileRefused:
    with pytest.raises(FileRefused) as info:
        upload(realm, name, content)
    return info.value


@pytest.mark.parametrize(("name", "build", "code", "named"), CASES, ids=[case[0] for case in CASES])
def test_a_hostile_workbook_is_refused_naming_the_problem(realm, name, build, code, named):
    refusal = _refusal(realm, name, build())
    assert (refusal.code, named in refusal.message) == (code, True), refusal.message
    assert not ImportJob.objects.exists()


def test_the_same_workbook_unharmed_imports(realm):
    job = upload(realm, "people.xlsx", hostile.workbook())
    assert (job.file_format, job.sheet_name, job.headers) == ("xlsx", "People", ["First name", "Phone"])
    assert list(readers.table_rows(Path(job.data_file.path), services.table_info(job))[1]) == [
        (2, ["Ana", "0911234567"])
    ]


@pytest.mark.parametrize(("name", "build", "code", "named"), CASES, ids=[case[0] for case in CASES])
def test_the_api_answers_400_with_the_reason(api, name, build, code, named):
    response = api.post(
        "/v1/imports", {"file": SimpleUploadedFile(name, build()), "duplicates": "resolve"}, format="multipart"
    )
    body = response.json()
    assert (response.status_code, body["type"], named in body["message"]) == (400, code, True), body


@pytest.mark.parametrize("build", [hostile.far_cell, hostile.broken_shared_strings, hostile.entity_bomb])
def test_the_command_exits_with_the_reason(realm, tmp_path, build):
    path = tmp_path / "people.xlsx"
    path.write_bytes(build())
    with pytest.raises(CommandError, match=r"workbook|memory"):
        call_command("import_people", str(path), "--realm", "Acme", "--duplicates", "resolve", stdout=io.StringIO())


def test_a_reader_that_runs_too_long_is_stopped(realm, settings):
    settings.IMPORT_WORKBOOK_SECONDS = 0  # the child cannot have parsed anything yet
    refusal = _refusal(realm, "people.xlsx", hostile.workbook())
    assert (refusal.code, "took longer than 0 seconds" in refusal.message) == ("reader_timeout", True)


def test_a_reader_out_of_memory_is_refused_not_fatal(realm, settings):
    settings.IMPORT_WORKBOOK_MEMORY_BYTES = 1024 * 1024  # too little even to load the reader
    refusal = _refusal(realm, "people.xlsx", hostile.workbook())
    assert refusal.code in ("reader_crash", "not_excel"), refusal.message


def test_the_total_unpacked_size_is_bounded(realm, monkeypatch):
    monkeypatch.setattr(workbooks, "XLSX_MAX_UNCOMPRESSED", 1000)
    assert _refusal(realm, "people.xlsx", hostile.workbook()).code == "zip_bomb"


def test_a_truncated_workbook_is_refused(realm):
    data = hostile.workbook()
    assert "is not a readable Excel workbook" in _refusal(realm, "people.xlsx", data[: len(data) // 2]).message


def test_an_early_stop_kills_the_child(realm, tmp_path):
    """A preview reads five rows of a long sheet and stops: the child must not linger."""
    rows = b"".join(
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (index, index) for index in range(1, 5000)
    )
    data = hostile.build({hostile.SHEET: lambda body: body.replace(b"</sheetData>", rows + b"</sheetData>")})
    path = tmp_path / "long.xlsx"
    path.write_bytes(data)
    assert zipfile.is_zipfile(path)
    lines = workbooks._child_lines("rows", path, "long.xlsx")
    assert next(lines).startswith(b"[")
    lines.close()  # kills and reaps the child; a leak would show as a ResourceWarning/zombie, not a hang


def test_an_upload_declaring_more_than_the_limits_is_a_413_before_it_is_read(api, settings):
    settings.IMPORT_MAX_FILE_BYTES, settings.API_MAX_BODY_BYTES = 1000, 1000
    response = api.post(
        "/v1/imports", {"file": SimpleUploadedFile("big.csv", b"a,b\n" + b"1,2\n" * 1000), "duplicates": "resolve"},
        format="multipart",
    )  # fmt: skip
    body = response.json()
    assert (response.status_code, body["type"], "2,000 bytes" in body["message"]) == (413, "payload_too_large", True)
    assert not ImportJob.objects.exists()
