"""The analysis's short road for international numbers gives exactly people.validation.normalize_phone's digits."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from core.errors import ValidationError
from imports import phones
from people import validation


def reference(text: str) -> str | None:
    try:
        return validation.normalize_phone(text, "HR")
    except ValidationError:
        return None


def example_numbers() -> list[str]:
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):  # every PhoneNumberType with examples
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                out.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return out


def test_every_example_number_takes_the_short_road_to_the_same_digits():
    numbers = example_numbers()
    assert len(numbers) > 1000
    for text in numbers:
        expected = reference(text)
        assert expected is not None, text
        assert phones.international(text[1:]) == expected, text


def test_random_digit_strings_agree_with_the_reference():
    rnd = random.Random(11)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    valid = 0
    for _ in range(20_000):
        digits = str(rnd.choice(codes)) + "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(1, 15)))
        short = phones.international(digits)
        assert short == reference("+" + digits), digits  # the same digits, or both find it invalid
        valid += short is not None
    assert valid > 500  # the sample holds plenty of valid numbers


@pytest.mark.parametrize(
    "raw",
    ["+385 91 234 5678", "00385912345678", "+385 (91) 234-5678", "091 234 5678", "912345678", "+1 abc",
     "+0385912345678", "+38591", "++385912345678", "+٣٨٥٩١٢٣٤٥٦٧٨", "41793026727", "+999123456789",
     " 00 385 91 234 5678 "],
)  # fmt: skip
def test_normalize_answers_as_the_reference_or_raises_its_error(raw):
    def answer(normalize) -> tuple[str, object]:
        try:
            return "digits", normalize(raw, "HR")
        except ValidationError as exc:
            return "refused", exc.fields

    assert answer(phones.normalize) == answer(validation.normalize_phone)
