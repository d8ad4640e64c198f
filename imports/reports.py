"""The error report of an import: one line per refused row (its row number, what was wrong with it, and the
row's original cells), as CSV or XLSX. A row with several problems is one line listing each ("; " between them):
its kinds, the columns concerned with their values, and the reasons (each prefixed with its column when
there are several columns). A CSV report is written with the uploaded file's
delimiter, so it opens the way the user's own file did. Cells a spreadsheet would run as a formula are
neutralized."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

from django.conf import settings

from imports import readers
from imports.models import FileFormat, ImportIssue, ImportJob, IssueKind
from imports.services import table_info

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = ["Row", "Kind", "Column", "Value", "Reason"]
FORMATS = ("csv", "xlsx")
SEPARATOR = "; "  # between a row's problems inside one cell


def neutralize(value) -> str:
    """A cell that starts like a formula (= + - @, or tab/CR before one) is prefixed with ' and stays text."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _original_cells(job: ImportJob, wanted: set[int]) -> dict[int, list[str]]:
    """The file's cells of the rows in `wanted` (rows whose problem was found after the analysis)."""
    if not wanted or not job.data_file:
        return {}
    info = table_info(job)
    found: dict[int, list[str]] = {}
    try:
        _, rows = readers.table_rows(Path(job.data_file.path), info)
        for number, cells in rows:
            if number in wanted:
                found[number] = cells
                if len(found) == len(wanted):
                    break
    except (OSError, readers.FileRefused):
        return found
    return found


def report_rows(job: ImportJob) -> Iterator[list[str]]:
    """The report's lines, header first, one per refused row, every cell neutralized."""
    yield [*REPORT_COLUMNS, *(neutralize(h) for h in job.headers)]
    issues = ImportIssue.objects.filter(job=job).order_by("row", "id")
    missing = set(issues.filter(values=[]).values_list("row", flat=True))
    originals = _original_cells(job, missing)
    for row, group in groupby(issues.iterator(chunk_size=2000), key=lambda issue: issue.row):
        problems = list(group)
        kinds = dict.fromkeys(IssueKind(issue.kind).label for issue in problems)
        by_column: dict[str, str] = {}
        for issue in problems:
            by_column.setdefault(issue.column, issue.value)
        named = [column for column in by_column if column]
        if len(by_column) > 1:  # the reasons say which column each is about
            reasons = [f"{issue.column}: {issue.reason}" if issue.column else issue.reason for issue in problems]
        else:
            reasons = [issue.reason for issue in problems]
        cells = next((issue.values for issue in problems if issue.values), None) or originals.get(row, [])
        yield [
            str(row),
            neutralize(SEPARATOR.join(kinds)),
            neutralize(SEPARATOR.join(named)),
            neutralize(SEPARATOR.join(by_column[column] for column in named)),
            neutralize(SEPARATOR.join(dict.fromkeys(reasons))),
            *(neutralize(cell) for cell in cells),
        ]


def report_delimiter(job: ImportJob) -> str:
    """The uploaded file's delimiter for a CSV report of a text file (`;` in, `;` out); a comma otherwise."""
    if job.file_format == FileFormat.CSV and job.effective_delimiter:
        return job.effective_delimiter
    return ","


def report_path(job: ImportJob, fmt: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / "reports" / f"import-{job.pk}-errors.{fmt}"


def import_error_report_write(*, job: ImportJob, fmt: str = "csv") -> Path:
    """Write the report file (CSV or XLSX) and return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    path = report_path(job, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        # UTF-8 with BOM: Excel then opens names like Jurić correctly.
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=report_delimiter(job))
            for line in report_rows(job):
                writer.writerow(line)
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Errors")
        for number, line in enumerate(report_rows(job)):
            sheet.append([int(line[0]), *line[1:]] if number else line)
        workbook.save(path)
    return path
