import datetime as dt

import pytest

from core.errors import ErrorCollector, ValidationError
from people import validation
from people.models import CustomAttributeDefinition

FORBIDDEN = ["&", "<", ">", '"', "/", "\\", ":", "(", ")", "{", "}", "=", ";", "#", "\n", "\r"]


@pytest.mark.parametrize("field", ["first_name", "middle_name", "last_name"])
@pytest.mark.parametrize("char", FORBIDDEN)
def test_every_forbidden_character_is_rejected_in_every_name_field(field, char):
    errors = ErrorCollector()
    validation.clean_person_attributes({field: f"Ja{char}ne"}, errors)
    api = {"first_name": "firstName", "middle_name": "middleName", "last_name": "lastName"}[field]
    assert list(errors.fields) == [api]
    (reason,) = errors.fields[api]
    assert reason.startswith("contains the forbidden character")
    assert (repr(char) if char not in "\n\r" else "\\n" if char == "\n" else "\\r") in reason


def test_names_with_accents_apostrophes_and_hyphens_are_fine():
    errors = ErrorCollector()
    cleaned = validation.clean_person_attributes({"first_name": "Ana-Marija", "last_name": "O'Brien Jurić"}, errors)
    assert not errors
    assert cleaned == {"first_name": "Ana-Marija", "last_name": "O'Brien Jurić"}


def test_several_problems_are_reported_together():
    errors = ErrorCollector()
    validation.clean_person_attributes(
        {"first_name": "A&B", "gender": "X", "birth_date": "2999-01-01", "preferred_language": "english"}, errors
    )
    assert set(errors.fields) == {"firstName", "gender", "birthDate", "preferredLanguage"}


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+385 99 123 4567", None, "385991234567"),
        ("00385991234567", None, "385991234567"),
        ("099 123 4567", "HR", "385991234567"),
        ("385991234567", "HR", "385991234567"),  # already international, written without '+'
        ("385991234567", None, "385991234567"),
        ("(123) 456-7890", "US", None),  # no US area code starts with 1
        ("(201) 234-5678", "US", "12012345678"),
        ("+1 201 234 5678", "HR", "12012345678"),
        ("0151 23456789", "DE", "4915123456789"),
        ("+49 151 23456789", "US", "4915123456789"),
        ("07400 123456", "GB", "447400123456"),
        ("41793026727", "US", "41793026727"),  # the seed's Swiss number, given without '+'
        ("06 12 34 56 78", "FR", "33612345678"),
        ("+33 6 12 34 56 78", None, "33612345678"),
    ],
)
def test_phone_normalization_across_countries(raw, country, expected):
    if expected is None:
        with pytest.raises(ValidationError):
            validation.normalize_phone(raw, country)
    else:
        assert validation.normalize_phone(raw, country) == expected


@pytest.mark.parametrize("raw", ["abc", "12", "+385 99", "", "   ", "385-99-ABC"])
def test_invalid_phone_error_shows_the_input(raw):
    with pytest.raises(ValidationError) as info:
        validation.normalize_phone(raw, "HR")
    message = info.value.fields["phone"][0]
    if raw.strip():
        assert repr(raw.strip()) in message
    else:
        assert "empty" in message


def test_email_is_validated_and_domain_lowercased():
    assert validation.normalize_email("  Jane.Smith@Example.COM ") == "Jane.Smith@example.com"
    with pytest.raises(ValidationError) as info:
        validation.normalize_email("not-an-email")
    assert "'not-an-email' is not a valid email address" in info.value.fields["email"][0]


def test_birth_date_format_and_future():
    assert validation.parse_birth_date("1966-01-15") == dt.date(1966, 1, 15)
    assert validation.parse_birth_date("") is None
    for bad in ["15.01.1966", "1966-13-01", "1966-1-5"]:
        with pytest.raises(ValidationError, match="YYYY-MM-DD"):
            validation.parse_birth_date(bad)
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    with pytest.raises(ValidationError, match="in the future"):
        validation.parse_birth_date(tomorrow.isoformat())


@pytest.mark.parametrize(
    ("value", "ok"), [("en", True), ("en-GB", True), ("en-gb", True), ("eng", False), ("EN", False)]
)
def test_preferred_language(value, ok):
    errors = ErrorCollector()
    validation.clean_person_attributes({"preferred_language": value}, errors)
    assert (not errors) is ok


def _definitions(**types):
    return {
        name: CustomAttributeDefinition(
            name=name, data_type=kind, object_schema={"productName": "STRING", "productPrice": "DECIMAL"}
        )
        for name, kind in types.items()
    }


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("STRING", "Acme", 5),
        ("DECIMAL", 25.33, "25.33"),
        ("INTEGER", 7, 7.5),
        ("BOOLEAN", True, "true"),
        ("DATE", "2018-06-01", "01.06.2018"),
        ("DATE_TIME", "2019-09-30T16:35:52+03:00", "yesterday"),
        ("LIST_OF_OBJECTS", [{"productName": "T-Shirt", "productPrice": 9.99}], [{"productName": 5}]),
    ],
)
def test_custom_attribute_typing(kind, good, bad):
    definitions = _definitions(attr=kind)
    errors = ErrorCollector()
    assert validation.clean_custom_attributes({"attr": good}, definitions, errors) == {"attr": good}
    assert not errors
    validation.clean_custom_attributes({"attr": bad}, definitions, errors)
    assert list(errors.fields) == ["customAttributes.attr"]


def test_custom_attribute_unknown_name_and_long_value():
    definitions = _definitions(Company="STRING")
    errors = ErrorCollector()
    validation.clean_custom_attributes({"Unknown": 1, "Company": "x" * 4097}, definitions, errors)
    assert errors.fields["customAttributes.Unknown"] == [validation.MSG_UNKNOWN_ATTRIBUTE]
    assert errors.fields["customAttributes.Company"] == [validation.MSG_VALUE_TOO_LONG]


def test_custom_attribute_values_from_text_are_converted():
    definitions = _definitions(n="INTEGER", d="DECIMAL", b="BOOLEAN")
    errors = ErrorCollector()
    cleaned = validation.clean_custom_attributes(
        {"n": "42", "d": "3,5", "b": "yes"}, definitions, errors, from_text=True
    )
    assert cleaned == {"n": 42, "d": 3.5, "b": True}


@pytest.mark.parametrize("name", ["a{b", "a}b", "[x]", ""])
def test_custom_attribute_names_reject_braces_and_brackets(name):
    with pytest.raises(ValidationError):
        validation.check_custom_attribute_name(name)
