import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from people.models import Person
from tests.imports.helpers import csv_bytes, zip_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ["Ime", "Prezime", "Mobitel", "Email"],
    ["Ivan", "Jurić", "091 123 4567", "ivan@example.com"],
    ["Ivan", "Jurić", "091 123 4567", "ivan.juric@example.com"],
    ["Bad", "Ro<w", "092 222 2222", ""],
]


def _run(*args):
    import io

    out, err = io.StringIO(), io.StringIO()
    call_command("import_people", *args, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines(), err.getvalue()


def test_the_command_imports_and_ends_with_one_json_line(realm, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(ROWS, encoding="cp1250"))
    lines, log = _run(str(path), "--realm", "Acme", "--duplicates", "resolve", "--tag", "Fair 2026")
    result = json.loads(lines[-1])
    assert {k: result[k] for k in ("rows", "created", "updated", "merged", "discarded", "invalid")} == {
        "rows": 3, "created": 1, "updated": 0, "merged": 1, "discarded": 0, "invalid": 1,
    }  # fmt: skip
    assert "Ime → firstName" in log
    person = Person.objects.get(realm=realm)
    assert person.last_name == "Jurić"
    assert {"Fair 2026", result["tag"]} <= set(person.tags.values_list("name", flat=True))
    report = Path(result["error_report"]).read_text(encoding="utf-8-sig").splitlines()
    assert report[0].startswith("Row,Kind,Column,Value,Reason,Ime,Prezime")
    assert report[1].startswith("4,Invalid,Prezime,Ro<w,contains the forbidden character '<'")


def test_the_command_takes_a_mapping_file_and_a_phone_country(realm, tmp_path):
    path = tmp_path / "people.zip"
    path.write_bytes(zip_bytes({"people.csv": csv_bytes([["Tel", "Name", "Skip"], ["030 1234567", "Max", "x"]])}))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Tel": "phone", "Name": "lastName", "Skip": None}))
    lines, _ = _run(str(path), "--realm", "Acme", "--duplicates", "discard", "--mapping", str(mapping),
                    "--phone-country", "DE")  # fmt: skip
    assert json.loads(lines[-1])["created"] == 1
    assert Person.objects.get(realm=realm).phones.get().number == "49301234567"


def test_a_refused_file_exits_non_zero_with_the_reason(realm, tmp_path):
    path = tmp_path / "two.zip"
    path.write_bytes(zip_bytes({"a.csv": b"x", "b.csv": b"y"}))
    with pytest.raises(CommandError, match="exactly one"):
        _run(str(path), "--realm", "Acme", "--duplicates", "resolve")


def test_an_unknown_realm_is_an_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(ROWS))
    with pytest.raises(CommandError, match="No realm"):
        _run(str(path), "--realm", "Nope", "--duplicates", "resolve")
