import csv
import io

import pytest
from openpyxl import load_workbook

from imports.reports import import_error_report_write, neutralize
from tests.imports.helpers import csv_bytes, import_file

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+385991234567", "'+385991234567"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Jurić", "Jurić"),
        ("", ""),
    ],
)
def test_cells_that_start_like_a_formula_are_neutralized(value, expected):
    assert neutralize(value) == expected


def test_csv_and_xlsx_reports_list_rows_values_and_reasons_neutralized(realm):
    rows = [
        ["First name", "Phone", "Note"],
        ["=cmd|' /C calc'!A0", "0911234567", "@evil"],
        ["Ana", "0911234567", "+dup"],
        ["Bo", "0911234567", "ok"],
    ]
    job = import_file(realm, "people.csv", csv_bytes(rows), strategy="discard")
    with open(import_error_report_write(job=job, fmt="csv"), encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["Row", "Kind", "Column", "Value", "Reason", "First name", "Phone", "Note"]
    invalid = lines[1]
    assert invalid[:4] == ["2", "Invalid", "First name", "'=cmd|' /C calc'!A0"]
    assert invalid[5:] == ["'=cmd|' /C calc'!A0", "0911234567", "'@evil"]
    discarded = next(line for line in lines if line[1] == "Discarded")
    assert discarded[0] == "4"
    assert discarded[4] == "duplicate of row 3: shares phone 385911234567 with row 3"
    assert discarded[5:] == ["Bo", "0911234567", "ok"]  # original cells read back from the file
    sheet = load_workbook(import_error_report_write(job=job, fmt="xlsx")).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][0] == 2
    assert values[1][3] == "'=cmd|' /C calc'!A0"
    assert all(not str(v).startswith(("=", "+", "-", "@")) for row in values for v in row if v is not None)


def test_a_csv_report_uses_the_uploaded_files_delimiter(realm):
    rows = [["First name", "Last name", "Phone"], ["Ana", "Ro<w", "0911234567"], ["Bo", "Smith", "0917654321"]]
    job = import_file(realm, "ljudi.csv", csv_bytes(rows, delimiter=";"))
    text = import_error_report_write(job=job, fmt="csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "Row;Kind;Column;Value;Reason;First name;Last name;Phone"
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[1][:3] == ["2", "Invalid", "Last name"]
    assert lines[1][5:] == ["Ana", "Ro<w", "0911234567"]

    comma = import_file(realm, "people.csv", csv_bytes(rows))
    assert import_error_report_write(job=comma, fmt="csv").read_text(encoding="utf-8-sig").startswith("Row,Kind,")


def test_a_row_with_two_problems_is_one_line_listing_both(realm):
    rows = [["First name", "Last name", "Email"], ["An<a", "Ro>w", "ana@x.hr"], ["Bo", "Smith", "bo@x.hr"]]
    job = import_file(realm, "people.csv", csv_bytes(rows))
    assert job.issues.count() == 2
    with open(import_error_report_write(job=job, fmt="csv"), encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) == 2
    row, kind, column, value, reason = lines[1][:5]
    assert (row, kind, column, value) == ("2", "Invalid", "First name; Last name", "An<a; Ro>w")
    assert reason == "First name: contains the forbidden character '<'; Last name: contains the forbidden character '>'"
    assert lines[1][5:] == ["An<a", "Ro>w", "ana@x.hr"]
    sheet = load_workbook(import_error_report_write(job=job, fmt="xlsx")).active
    assert [[cell.value for cell in row][:3] for row in sheet.iter_rows()] == [
        ["Row", "Kind", "Column"],
        [2, "Invalid", "First name; Last name"],
    ]
