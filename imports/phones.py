"""A shorter road through phonenumbers for the commonest cell of an export: an international number written
with '+' (or '00') and digits only. It is most of the analysis's CPU, once per distinct number.

``international(digits)`` takes the steps ``phonenumbers.parse("+" + digits)`` takes for such an input, in
its order and with its own functions (country code, national prefix, lengths, Italian leading zeros), then
``is_valid_number`` (the same patterns, the commonest types first), without the generic work a free-form
string needs (extracting the number from text, extensions, RFC 3966, alpha characters, normalising every
digit). It only ever answers for a valid number:
anything else (too short, unknown country code, not valid) is None, and the caller then asks
people.validation.normalize_phone, whose answer and error message stay the reference.
tests/imports/test_phones.py checks both give the same digits over every country's example numbers and
random digit strings.
"""

from __future__ import annotations

import re

from phonenumbers import (
    PhoneMetadata,
    PhoneNumber,
    enable_pattern_cache,
    is_valid_number,
    national_significant_number,
)
from phonenumbers import phonenumberutil as pnu

from people import validation

# phonenumbers compiles a metadata pattern on every use unless told to keep them (the patterns are fixed, so
# the cache is bounded): without it, re.compile's own cache lookup is a good part of a number's cost.
enable_pattern_cache()

SEPARATORS = re.compile(r"[\s\-().\u00a0/]")  # as people.validation.normalize_phone strips them
ASCII_DIGITS = re.compile(r"[0-9]{3,20}")
_SHORT = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)


def international(digits: str) -> str | None:
    """E.164 digits (no '+') of '+<digits>' when phonenumbers finds it a valid number; None otherwise."""
    if len(digits) <= pnu._MIN_LENGTH_FOR_NSN:
        return None
    country_code, national = pnu._extract_country_code(digits)
    if country_code == 0 or len(national) < pnu._MIN_LENGTH_FOR_NSN:
        return None
    country = _COUNTRIES.get(country_code)
    if country is None:
        region = pnu.region_code_for_country_code(country_code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        country = _COUNTRIES[country_code] = (metadata, len(pnu.COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1)
    metadata, one_region = country
    if metadata is None:
        return None
    _, potential, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if potential != national:
        short = _SHORT_LENGTHS.get((country_code, len(potential)))
        if short is None:
            short = _SHORT_LENGTHS[(country_code, len(potential))] = (
                pnu._test_number_length(potential, metadata) in _SHORT
            )  # it looks at the length only
        if not short:
            national = potential
    if not pnu._MIN_LENGTH_FOR_NSN <= len(national) <= pnu._MAX_LENGTH_FOR_NSN:
        return None
    if one_region:
        # The one region is the one is_valid_number would find; and for ASCII digits the national significant
        # number is ``national`` itself (its Italian leading zeros are counted back in front of int(national)).
        return f"{country_code}{national}" if _valid(national, metadata) else None
    number = PhoneNumber(country_code=country_code)
    pnu._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    significant = national_significant_number(number)
    return f"{country_code}{significant}" if is_valid_number(number) else None


_COUNTRIES: dict[int, tuple] = {}  # country code → (its metadata, whether it has one region)
_SHORT_LENGTHS: dict[tuple[int, int], bool] = {}  # (country code, length) → too short once the prefix is gone
_MATCHERS: dict[int, tuple] = {}  # id(PhoneNumberDesc) → (the desc, its possible lengths, pattern.fullmatch)


def _matches(significant: str, desc) -> bool:
    """``pnu._is_number_matching_desc``: no desc or no pattern never matches; a desc naming possible lengths
    rejects any other length; else the pattern must match the whole number (its ``_match`` without prefix
    matching is a ``match`` then a ``fullmatch``: the fullmatch alone decides). The compiled pattern and the
    lengths are kept per desc (metadata objects live as long as the process)."""
    if desc is None:
        return False
    entry = _MATCHERS.get(id(desc))
    if entry is None or entry[0] is not desc:
        pattern = desc.national_number_pattern
        fullmatch = re.compile(pattern).fullmatch if pattern else None
        entry = (desc, frozenset(desc.possible_length), fullmatch)
        _MATCHERS[id(desc)] = entry
    _, lengths, fullmatch = entry
    if lengths and len(significant) not in lengths:
        return False
    return fullmatch is not None and fullmatch(significant) is not None


def _valid(significant: str, metadata) -> bool:
    """``_number_type_helper(...) != UNKNOWN``: the general pattern and any type's; phonenumbers tries the rare
    types first to name the type, validity only needs one match, so the common ones go first."""
    matches = _matches
    if not matches(significant, metadata.general_desc):
        return False
    if matches(significant, metadata.fixed_line):
        return True
    if not metadata.same_mobile_and_fixed_line_pattern and matches(significant, metadata.mobile):
        return True
    return any(
        matches(significant, desc)
        for desc in (
            metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
            metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
        )
    )  # fmt: skip


def normalize(raw: str, default_country: str | None) -> str:
    """people.validation.normalize_phone, through ``international`` when the cell is '+'/'00' and digits."""
    compact = SEPARATORS.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+") and ASCII_DIGITS.fullmatch(compact, 1):
        found = international(compact[1:])
        if found is not None:
            return found
    return validation.normalize_phone(raw, default_country)
