"""Building import files in tests and running a job through every step, as the admin or the command would."""

from __future__ import annotations

import csv
import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

from imports import services
from imports.models import ImportJob


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], *, extra_sheets: dict[str, list[list]] | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "People"
    for row in rows:
        sheet.append(row)
    for name, extra in (extra_sheets or {}).items():
        other = workbook.create_sheet(name)
        for row in extra:
            other.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xls_bytes(rows: list[list]) -> bytes:
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("People")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(realm, name: str, content: bytes, **kwargs) -> ImportJob:
    return services.import_job_create(realm=realm, uploaded_file=SimpleUploadedFile(name, content), **kwargs)


def analyze(job: ImportJob, mapping: list[dict] | None = None) -> ImportJob:
    if mapping is not None:
        job = services.import_job_map(job=job, mapping=mapping)
    return services.import_job_analyze(job=job)


def run(job: ImportJob, strategy: str = "resolve", tags=()) -> ImportJob:
    job = services.import_job_start(job=job, strategy=strategy, tags=tags, enqueue=False)
    return services.import_job_run(job=job)


def import_file(realm, name: str, content: bytes, strategy: str = "resolve", mapping=None, tags=()) -> ImportJob:
    """Upload → map (as suggested, or `mapping`) → analyze → import, in one go."""
    job = upload(realm, name, content)
    job = analyze(job, mapping if mapping is not None else job.mapping)
    return run(job, strategy, tags)


def fields(job: ImportJob) -> dict[str, str | None]:
    return {entry["header"]: entry["field"] for entry in job.mapping}
