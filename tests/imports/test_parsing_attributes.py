"""The analysis's short road for birth dates and names gives exactly the reference rule's answer
(people.validation.clean_person_attributes, as RowParser stages it: ISO dates, problems by field)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from core.errors import ErrorCollector
from imports.parsing import FAST_DATE, MISSING, PLAIN_NAME, RowParser
from people import validation

NAMES = ["first_name", "middle_name", "last_name", "nick_name"]
ALPHABET = "aZ09 .-'&<>\"/\\:(){}=;#\n\r\t\x00\x1f\x7f\x80\x9f\xa0ıšé\ud800\udfff日"


def reference(field_name: str, value: str) -> tuple[object, list[tuple[str, str]]]:
    errors = ErrorCollector()
    cleaned = validation.clean_person_attributes({field_name: value}, errors)
    problems = [(name, reason) for name, reasons in errors.fields.items() for reason in reasons]
    result = cleaned.get(field_name, MISSING)
    if result in ("", None):
        result = MISSING
    elif isinstance(result, dt.date):
        result = result.isoformat()
    return result, problems


def random_dates(rnd: random.Random, count: int) -> list[str]:
    today = timezone.localdate()
    out = []
    for _ in range(count):
        shape = rnd.random()
        if shape < 0.6:  # real dates around today, some in the future
            out.append((today + dt.timedelta(days=rnd.randrange(-40_000, 400))).isoformat())
        elif shape < 0.9:  # digits in the right places, not all real dates
            out.append(f"{rnd.randrange(0, 10_000):04d}-{rnd.randrange(0, 14):02d}-{rnd.randrange(0, 33):02d}")
        else:
            out.append("".join(rnd.choice("0123456789-/ .٣T") for _ in range(rnd.randrange(1, 12))))
    return [*out, "٢٠٢٠-٠١-٠١", "2020-02-29", "2021-02-29", "0000-01-01", "2020-1-01", today.isoformat()]


def random_names(rnd: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        alphabet = ALPHABET if rnd.random() < 0.5 else "abcXYZ -'ščć"
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 12))))
    return [*out, "a" * 255, "a" * 256, "a" * 300, "Ana-Marija", "O'Brien"]


def test_the_short_road_answers_as_the_reference_rule():
    rnd = random.Random(11)
    parser = RowParser([], {}, default_country="HR")
    fast = {"date": 0, "name": 0}
    for value in random_dates(rnd, 20_000):
        value = value.strip()
        if not value:
            continue
        if FAST_DATE.fullmatch(value):
            fast["date"] += 1
        assert parser._attribute("birth_date", value) == reference("birth_date", value), value
    for value in random_names(rnd, 20_000):
        value = value.strip()
        if not value:
            continue
        field_name = rnd.choice(NAMES)
        if PLAIN_NAME.fullmatch(value):
            fast["name"] += 1
        assert parser._attribute(field_name, value) == reference(field_name, value), (field_name, value)
        assert parser._attribute(field_name, value) == reference(field_name, value)  # cached or not
    assert fast["date"] > 5_000
    assert fast["name"] > 5_000


@pytest.mark.parametrize("value", ["2999-01-01", "2020-13-01", "2020-02-30", "20-01-01", "٢٠٢٠-٠١-٠١"])
def test_dates_the_short_road_refuses_still_get_the_reference_problem(value):
    parser = RowParser([], {}, default_country="HR")
    cleaned, problems = parser._attribute("birth_date", value)
    assert cleaned is MISSING
    assert problems == reference("birth_date", value)[1]
    assert problems
