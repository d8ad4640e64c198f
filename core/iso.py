"""ISO 3166-1 alpha-2 countries and ISO 4217 currencies, for validating identities and realms."""

from functools import cache

import pycountry


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def is_country(code: object) -> bool:
    return isinstance(code, str) and code in country_codes()


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in currency_codes()
