"""The analysis stages rows with COPY's text format written by hand: every character of a value survives."""

import json

import pytest

from imports.models import ImportRow
from people.models import Person
from tests.imports.helpers import analyze, csv_bytes, run, upload

pytestmark = pytest.mark.django_db

TRICKY = ["back\\slash", 'quote " and \\" both', "tab\there", "new\nline", "\\N", "\\.", "Šibenik ☃ \u2028 end"]


def test_values_with_backslashes_tabs_and_newlines_are_staged_and_imported_unchanged(realm):
    rows = [["City", "Last name", "Phone"]]
    rows += [[value, "Horvat", f"091{1_000_000 + i}"] for i, value in enumerate(TRICKY)]
    job = upload(realm, "people.csv", csv_bytes(rows))
    job = analyze(job, job.mapping)
    assert job.rows_valid == len(TRICKY)
    data = [json.loads(text) for text in ImportRow.objects.filter(job=job).values_list("data", flat=True)]
    staged = {row["p"][0]: row["a"]["city"] for row in data}
    assert sorted(staged.values()) == sorted(value.strip() for value in TRICKY)
    run(job)
    names = set(Person.objects.filter(realm=realm).values_list("city", flat=True))
    assert names == {value.strip() for value in TRICKY}
