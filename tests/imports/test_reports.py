import csv

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
    assert invalid[:4] == ["2", "invalid", "First name", "'=cmd|' /C calc'!A0"]
    assert invalid[5:] == ["'=cmd|' /C calc'!A0", "0911234567", "'@evil"]
    discarded = next(line for line in lines if line[1] == "discarded")
    assert discarded[0] == "4"
    assert discarded[4] == "duplicate of row 3: shares phone 385911234567 with row 3"
    assert discarded[5:] == ["Bo", "0911234567", "ok"]  # original cells read back from the file
    sheet = load_workbook(import_error_report_write(job=job, fmt="xlsx")).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][0] == 2
    assert values[1][3] == "'=cmd|' /C calc'!A0"
    assert all(not str(v).startswith(("=", "+", "-", "@")) for row in values for v in row if v is not None)
