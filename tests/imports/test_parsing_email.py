"""The analysis's short road for emails accepts only what Django's EmailValidator accepts, and every email gets
exactly people.validation.normalize_email's answer (the address, or its error message)."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator

from core.errors import ValidationError
from imports.parsing import FAST_EMAIL, RowParser
from people import validation

A63, B64 = "a" * 63, "b" * 64
# Django's own cases (tests/validators/tests.py, EmailValidator) and the commonest shapes of an export.
VALID = [
    "email@here.com", "weirder-email@here.and.there.com", "email@[127.0.0.1]", "email@[2001:dB8::1]",
    "email@[2001:dB8:0:0:0:0:0:1]", "email@[::fffF:127.0.0.1]", "example@valid-----hyphens.com",
    "example@valid-with-hyphens.com", "test@domain.with.idn.tld.उदाहरण.परीक्षा", "email@localhost",
    '"test@test"@example.com', f"example@atm.{A63}", f"example@{A63}.atm",
    f"example@{A63}.bbbbbbbbbb.atm", '"\\\011"@here.com', f"a@{A63}.us",
    "ana.horvat12@ex.hr", "Ana.Horvat@Example.COM", "x+tag@sub.example.co.uk", "o'brien@example.ie",
    "{}|~`!#$%&'*+/=?^_-@example.com", "user@xn--80ak6aa92e.com", "user@example.xn--p1ai", "a@b.cd",
    "user@123.example.com", "Ivan@Šibenik.hr", "ıvan@example.com", "ſ@example.com",
]  # fmt: skip
INVALID = [
    "", None, "abc", "abc@", "abc@bar", "a @x.cz", "abc@.com", "something@@somewhere.com", "email@127.0.0.1",
    "email@[127.0.0.256]", "email@[2001:db8::12345]", "email@[2001:db8:0:0:0:0:1]", "email@[::ffff:127.0.0.256]",
    "email@[2001:dg8::1]", "email@[2001:dG8:0:0:0:0:0:1]", "email@[::fTzF:127.0.0.1]", "example@invalid-.com",
    "example@-invalid.com", "example@invalid.com-", "example@inv-.alid-.com", "example@inv-.-alid.com",
    'test@example.com\n\n<script src="x.js">', '"\\\012"@here.com', "trailingdot@shouldfail.com.",
    f"example@atm.{A63}a", f"example@{B64}.atm.{A63}", "a@b.c", "a@b.1com",
    "a..b@example.com", ".a@example.com", "a.@example.com", "a@example..com", f"a@{A63}a.com",
    "a@-example.com", "a@example.-com", "a@example.c-", "a@exam_ple.com",
    "a b@example.com", "a@example.com ", " a@example.com", "a\n@example.com", "a@example.com\n", "a@@b.com",
]  # fmt: skip
TOO_LONG = [f"{A63 * 4}@example.com"]  # Django takes up to 320 characters, a person's email 255
ALPHABET = "aZ09.-_+@@@..-\"' ()[]:\\,;<>ıſKšé\n\x00\x7f%!#~"


def reference(value) -> tuple[str | None, str | None]:
    try:
        return validation.normalize_email(value), None
    except ValidationError as exc:
        return None, "; ".join(exc.fields["email"])


def django_accepts(value: str) -> bool:
    try:
        EmailValidator()(value)
    except DjangoValidationError:
        return False
    return True


def random_addresses(count: int) -> list[str]:
    rnd = random.Random(11)
    out = []
    for _ in range(count):
        alphabet = ALPHABET if rnd.random() < 0.5 else "abXY09.-_+'"  # half of them nearly plausible
        local = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 8)))
        host = "".join(rnd.choice(alphabet.replace("@", "")) for _ in range(rnd.randrange(0, 8)))
        tld = rnd.choice(["com", "hr", "c", "c-m", "-co", "co-", "xn--p1ai", "c0m", "", "com.", "MUSEUM"])
        out.append(f"{local}@{host}.{tld}" if rnd.random() < 0.9 else local + host)
    return out


def test_the_cases_are_what_django_says_they_are():
    assert all(django_accepts(value) for value in VALID)
    assert not any(django_accepts(value) for value in INVALID if value)


@pytest.mark.parametrize("value", [*VALID, *INVALID, *TOO_LONG])
def test_the_parser_answers_as_normalize_email(value):
    parser = RowParser([], {}, default_country="HR")
    if value is None:
        pytest.skip("a cell is never None")
    assert parser.email(value) == reference(value)
    assert parser.email(value) == reference(value)  # cached or not, the same


def test_the_short_road_accepts_only_what_the_validator_accepts_and_is_taken_by_common_addresses():
    addresses = random_addresses(40_000) + VALID + TOO_LONG + [v for v in INVALID if v]
    parser = RowParser([], {}, default_country="HR")
    fast = 0
    for value in addresses:
        if FAST_EMAIL.fullmatch(value) and len(value) <= 255:
            fast += 1
            assert django_accepts(value), value
        assert parser.email(value) == reference(value), value
    assert fast > 500  # the random strings reach the short road, not only the fallback
    assert FAST_EMAIL.fullmatch("ana.horvat12@ex.hr")
    assert not FAST_EMAIL.fullmatch("email@localhost")  # accepted, by the fallback
