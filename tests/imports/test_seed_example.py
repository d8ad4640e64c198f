"""The seed's worked example ("Resolve Duplicates", seed 001), literally.

File rows 1 and 2 share phone 385991234567 but have different names and emails; person 2649 already holds
phone 385911234567. For step 2 of the seed to find 2649, the file must reach it through a shared contact: here
the most recent row (John Doe) also lists 385911234567 as a second phone. RESOLVE AUTOMATICALLY must end with
one person, 2649, named John Doe (the most recent entry), keeping 385911234567 and every phone and email.
"""

import pytest

from people.models import Person
from tests.imports.helpers import csv_bytes, import_file
from tests.people.factories import PersonFactory

pytestmark = pytest.mark.django_db

HEADER = ["First name", "Last name", "Phone", "Phone 2", "Email"]
ROW_1 = ["Jane", "Roe", "385991234567", "", "jane.roe@example.com"]
ROW_2 = ["John", "Doe", "385991234567", "385911234567", "john.doe@example.com"]


def test_two_file_rows_and_person_2649_become_one_person_2649_named_john_doe(realm):
    PersonFactory(id=2649, realm=realm, first_name="Johnny", last_name="D", phones=["385911234567"])

    job = import_file(realm, "people.csv", csv_bytes([HEADER, ROW_1, ROW_2]))

    assert job.status == "succeeded"
    assert Person.objects.filter(realm=realm).count() == 1
    person = Person.objects.get(realm=realm)
    assert person.pk == 2649
    assert (person.first_name, person.last_name) == ("John", "Doe")
    assert sorted(person.phones.values_list("number", flat=True)) == ["385911234567", "385991234567"]
    assert sorted(person.emails.values_list("address", flat=True)) == ["jane.roe@example.com", "john.doe@example.com"]
    assert job.counts() | {"persons_merged": 0} == {
        "rows": 2, "created": 0, "updated": 1, "unchanged": 0, "merged": 1, "discarded": 0, "invalid": 0,
        "persons_merged": 0,
    }  # fmt: skip


def test_the_same_outcome_when_the_file_reaches_2649_through_an_email(realm):
    PersonFactory(
        id=2649, realm=realm, first_name="Jane", last_name="Roe", phones=["385911234567"],
        emails=["jane.roe@example.com"],
    )  # fmt: skip
    rows = [HEADER, ROW_1, [*ROW_2[:3], "", ROW_2[4]]]

    import_file(realm, "people.csv", csv_bytes(rows))

    person = Person.objects.get(realm=realm)
    assert person.pk == 2649
    assert (person.first_name, person.last_name) == ("John", "Doe")
    assert sorted(person.phones.values_list("number", flat=True)) == ["385911234567", "385991234567"]
    assert sorted(person.emails.values_list("address", flat=True)) == ["jane.roe@example.com", "john.doe@example.com"]
