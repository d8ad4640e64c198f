import pytest

from core.errors import ValidationError
from imports import services
from imports.mapping import clean_mapping, header_key, mapping_from_file, suggest_mapping
from tests.imports.helpers import csv_bytes, fields, upload
from tests.people.factories import CustomAttributeDefinitionFactory


def test_headers_are_mapped_by_name_similarity_and_values():
    headers = ["Ime", "Surname", "E-mail address", "Mobile 2", "Col A", "Col B", "DOB", "Loyalty points", "Notes"]
    sample = [["Ana", "Horvat", "a@x.hr", "0911234567", "b@y.hr", "+385 99 123 4567", "1990-01-01", "5", "hi"]]
    mapping = suggest_mapping(headers, sample, {"Loyalty Points": object()})
    assert [entry["field"] for entry in mapping] == [
        "firstName", "lastName", "email", "phone", "email", "phone", "birthDate", "customAttributes.Loyalty Points",
        None,
    ]  # fmt: skip


def test_a_single_valued_field_goes_to_the_first_column_only():
    mapping = suggest_mapping(["First name", "Firstname"], [["a", "b"]], {})
    assert [entry["field"] for entry in mapping] == ["firstName", None]


def test_the_header_set_key_ignores_order_and_spelling():
    assert header_key(["First Name", "E-mail"]) == header_key(["email", "first name"])


@pytest.mark.django_db
def test_the_last_saved_mapping_for_the_same_headers_prefills_the_next_file(realm):
    job = upload(realm, "a.csv", csv_bytes([["Col A", "Col B"], ["Ana", "0911234567"]]))
    assert fields(job) == {"Col A": None, "Col B": "phone"}
    services.import_job_map(
        job=job,
        mapping=[{"header": "Col A", "field": "lastName"}, {"header": "Col B", "field": "phone", "country": "hr"}],
    )
    again = upload(realm, "b.csv", csv_bytes([["col b", "col a"], ["0911234567", "Ana"]]))
    assert fields(again) == {"col b": "phone", "col a": "lastName"}
    assert again.mapping[0]["country"] == "HR"


def test_a_mapping_needs_an_identifier_and_known_fields():
    with pytest.raises(ValidationError) as info:
        clean_mapping(
            [{"header": "A", "field": "firstName"}, {"header": "B", "field": "shoeSize"}], ["A", "B"], definitions={}
        )
    assert set(info.value.fields) == {"B", "mapping"}


def test_a_country_prefix_is_checked_and_only_for_phones():
    with pytest.raises(ValidationError) as info:
        clean_mapping(
            [{"header": "A", "field": "phone", "country": "XX"}, {"header": "B", "field": "email", "country": "HR"}],
            ["A", "B"],
            definitions={},
        )
    assert set(info.value.fields) == {"A", "B"}


@pytest.mark.django_db
def test_the_country_prefix_option_reads_national_numbers_of_that_country(realm):
    from tests.imports.helpers import import_file

    CustomAttributeDefinitionFactory(realm=realm, name="Store")
    rows = [["Phone", "Store"], ["030 1234567", "Berlin Mitte"]]
    mapping = [
        {"header": "Phone", "field": "phone", "country": "DE"},
        {"header": "Store", "field": "customAttributes.Store"},
    ]
    job = import_file(realm, "de.csv", csv_bytes(rows), mapping=mapping)
    from people.models import Person

    person = Person.objects.get(realm=realm)
    assert list(person.phones.values_list("number", flat=True)) == ["49301234567"]
    assert person.custom_attributes == {"Store": "Berlin Mitte"}
    assert job.created_count == 1


def test_the_command_mapping_file_names_columns_or_null():
    mapping = mapping_from_file(
        {"Tel": "phone", "Name": "firstName", "Skip": None}, ["Name", "Tel", "Skip", "X"], phone_country="HR"
    )
    assert mapping == [
        {"header": "Name", "field": "firstName", "country": ""},
        {"header": "Tel", "field": "phone", "country": "HR"},
        {"header": "Skip", "field": None, "country": ""},
        {"header": "X", "field": None, "country": ""},
    ]
    with pytest.raises(ValidationError):
        mapping_from_file({"Telephone": "phone"}, ["Tel"])
