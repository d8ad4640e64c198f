"""Realistic demo data in bulk: persons with contacts, tags, custom attributes, companies, identities, events.

Rows go in with PostgreSQL COPY and ids reserved from the tables' sequences up front, so a million persons
take a minute rather than an hour. Phones and emails are derived from the person id, so they are unique and
valid without asking the database. Only for empty-ish realms and benchmarks: it bypasses the services (and the
outbox) on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

from django.db import transaction
from django.utils import timezone

from companies.models import Company
from core.bulk import copy_rows, reserve_ids, statistics_refresh
from identities.ids import new_object_id
from people.duplicates import fold_name
from people.models import CustomAttributeDefinition, DataType, EventDefinition, Origin, Person, SyncStatus, Tag

FIRST_NAMES = [
    "Ana", "Ivan", "Marko", "Petra", "Luka", "Jana", "Tomislav", "Maja", "Josip", "Iva", "John", "Jane", "Emma",
    "Oliver", "Sophia", "Liam", "Mia", "Noah", "Ava", "Lucas", "Lena", "Max", "Hannah", "Paul", "Marie", "Jakob",
    "Sara", "David", "Laura", "Filip", "Nika", "Matej", "Ema", "Karlo", "Lucija", "Ante", "Dora", "Mateo", "Eva",
]  # fmt: skip
LAST_NAMES = [
    "Horvat", "Kovačević", "Babić", "Marić", "Jurić", "Novak", "Kovačić", "Knežević", "Vuković", "Marković",
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Müller",
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Petrović",
    "Pavlović", "Tomić", "Božić", "Grgić", "Perić", "Radić", "Matić", "Šarić", "Lovrić", "Doe", "Anderson",
]  # fmt: skip
CITIES = {
    "Croatia": ["Zagreb", "Split", "Rijeka", "Osijek", "Zadar", "Pula"],
    "Germany": ["Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt"],
    "United States": ["New York", "Chicago", "Austin", "Seattle", "Boston"],
    "United Kingdom": ["London", "Manchester", "Leeds", "Bristol"],
}
TAGS = [
    "VIP Customers", "New Customers", "Newsletter", "Black Friday", "Loyalty Gold", "Loyalty Silver", "Churn Risk",
    "Mobile App", "Webshop", "Store Visitors", "B2B", "Partners", "Beta Testers", "Event 2026", "Survey",
    "Sneakers", "Outdoor", "Kids", "Premium", "Inactive",
]  # fmt: skip
SEED_TABLES = (
    "people_person", "people_personphone", "people_personemail", "people_person_tags", "identities_identity",
    "people_personevent",
)  # fmt: skip
INDUSTRIES = ["IT", "Retail", "Finance", "Telecom", "Travel", "Health", "Education", "Logistics"]

# names="realistic": names generated from syllables, drawn with a Zipf law (weight 1 / (rank + offset)), so the
# commonest last name is ~1 % of the persons (Horvat in Croatia, Smith in the US are 0.5-1 %) and a million
# persons carry tens of thousands of last names: name blocks stay small, as in a real customer base.
REALISTIC_LAST_NAMES = 40_000
REALISTIC_FIRST_NAMES = 1_500
_ONSETS = ["b", "br", "c", "č", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "pr", "r",
           "s", "st", "š", "t", "tr", "v", "z", "ž", "sch", "w", "th", "ch", "bl", "sl", "ml"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ü", "y"]
_MIDDLES = ["b", "d", "g", "k", "l", "m", "n", "r", "s", "t", "v", "z", "nd", "rk", "ll", "rt", "nj", "lj"]
_LAST_ENDINGS = ["ić", "ović", "ević", "ac", "ec", "er", "mann", "son", "ton", "ley", "ski", "ov", "in", "an",
                 "ek", "ak", "ić", "ović", "berg", "ner", ""]  # fmt: skip
_FIRST_ENDINGS = ["a", "o", "an", "en", "ina", "ko", "ija", "el", "ie", "us", "e", "ja", ""]
# Planted duplicates (duplicates=rate): a later person repeats an earlier one of the same run in one of these ways.
PLANTED_KINDS = ("email", "phone", "name_birth")
_OTHER_PREFIXES = ["385", "49", "44", "1", "43", "386"]
_POOL = 50_000  # planted duplicates copy one of the last this-many persons seeded (memory stays bounded)


def _phone(pid: int, country: str) -> str:
    """A valid, unique international number for person id `pid` (numbering plans from libphonenumber)."""
    if country == "Croatia":
        block, rest = divmod(pid, 10_000_000)
        return f"385{[91, 92, 95, 97, 98, 99][block % 6]}{rest:07d}"
    if country == "Germany":
        block, rest = divmod(pid, 100_000_000)
        return f"49{[151, 160, 170, 171, 175][block % 5]}{rest:08d}"
    if country == "United Kingdom":
        block, rest = divmod(pid, 100_000_000)
        return f"447{[4, 5, 7, 8][block % 4]}{rest:08d}"
    area, rest = divmod(pid, 8_000_000)
    return f"1{[201, 312, 415, 512, 617, 646, 206][area % 7]}{2_000_000 + rest:07d}"


def _mailbox(name: str) -> str:
    """'Jurić' → 'juric', 'Müller' → 'muller': names as they appear before an email's @ (no accents)."""
    return fold_name(name).replace(" ", "")


def _second_phone(pid: int) -> str:
    return f"38598{pid % 10_000_000:07d}" if pid < 10_000_000 else f"4917{pid % 100_000_000:08d}"


def _generated_names(rnd: random.Random, count: int, endings: list[str]) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < count:
        stem = rnd.choice(_ONSETS) + rnd.choice(_VOWELS)
        if rnd.random() < 0.7:
            stem += rnd.choice(_MIDDLES) + rnd.choice(_VOWELS)
        if rnd.random() < 0.25:
            stem += rnd.choice(_MIDDLES) + rnd.choice(_VOWELS)
        names.setdefault((stem + rnd.choice(endings)).capitalize())
    return list(names)


@lru_cache(maxsize=1)
def realistic_names() -> tuple[list[str], list[float], list[str], list[float]]:
    """(last names, their cumulative Zipf weights, first names, theirs): the same lists on every call."""
    rnd = random.Random(2026)
    last = _generated_names(rnd, REALISTIC_LAST_NAMES, _LAST_ENDINGS)
    first = _generated_names(rnd, REALISTIC_FIRST_NAMES, _FIRST_ENDINGS)
    return (
        last,
        list(accumulate(1 / (rank + 10) for rank in range(len(last)))),
        first,
        list(accumulate(1 / (rank + 5) for rank in range(len(first)))),
    )


def _national(number: str) -> str:
    """The national part of one of the seed's numbers (its prefixes are fixed: 385, 49, 44, 1)."""
    for prefix in ("385", "49", "44", "1"):
        if number.startswith(prefix):
            return number[len(prefix) :]
    raise ValueError(number)


@dataclass
class SeedResult:
    persons: int = 0
    identities: int = 0
    companies: int = 0
    tags: int = 0
    events: int = 0
    seconds: float = 0.0
    person_ids: list[int] = field(default_factory=list)
    # (earlier person id, its planted duplicate's id, kind) for duplicates=rate
    planted: list[tuple[int, int, str]] = field(default_factory=list)


def seed_reference_data(realm) -> tuple[list[Tag], dict, list[EventDefinition], list[Company]]:
    tags = []
    for name in TAGS:
        tag, _ = Tag.objects.get_or_create(realm=realm, name=name)
        tags.append(tag)
    definitions = {
        "Contract Expiry": DataType.DATE,
        "Loyalty Points": DataType.INTEGER,
        "Lifetime Value": DataType.DECIMAL,
        "Newsletter Opt-in": DataType.BOOLEAN,
        "Favourite Store": DataType.STRING,
    }
    for name, data_type in definitions.items():
        CustomAttributeDefinition.objects.get_or_create(realm=realm, name=name, defaults={"data_type": data_type})
    CustomAttributeDefinition.objects.get_or_create(
        realm=realm,
        name="ShoppingCartList",
        defaults={
            "data_type": DataType.LIST_OF_OBJECTS,
            "object_schema": {
                "productName": "STRING",
                "productPrice": "DECIMAL",
                "productCategory": "STRING",
                "productImage": "STRING",
            },
        },
    )
    event_definitions = []
    for definition_id, title, fields in [
        ("addToCart", "Add to cart", [{"name": "itemName", "type": "String"}, {"name": "price", "type": "Decimal"}]),
        ("purchase", "Purchase", [{"name": "orderId", "type": "String"}, {"name": "total", "type": "Decimal"}]),
        ("pageView", "Page view", [{"name": "url", "type": "String"}]),
    ]:
        definition, _ = EventDefinition.objects.get_or_create(
            realm=realm, definition_id=definition_id, defaults={"title": title, "fields": fields}
        )
        event_definitions.append(definition)
    return tags, definitions, event_definitions, []


@dataclass
class _Rows:
    persons: list[tuple] = field(default_factory=list)
    phones: list[tuple] = field(default_factory=list)
    emails: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)
    identities: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)


@dataclass
class _Seen:
    """What every seeded person of a run draws from."""

    tags: list
    company_ids: list[int]
    event_definitions: list
    identities: str
    events_per_person: float
    sync_status: str
    names: str = "demo"
    duplicates: float = 0.0
    # Recent originals a planted duplicate may copy: (pid, first, last, birth, phone, email); each copied once.
    pool: list[tuple] = field(default_factory=list)
    planted: list[tuple[int, int, str]] = field(default_factory=list)


def _seed_one(rnd: random.Random, realm, pid: int, now, seen: _Seen, out: _Rows) -> None:
    """The rows of demo person ``pid``: the person, its phones, email, tags, identity and events."""
    tags, company_ids, event_definitions = seen.tags, seen.company_ids, seen.event_definitions
    identities, events_per_person, sync_status = seen.identities, seen.events_per_person, seen.sync_status
    country = rnd.choice(list(CITIES))
    if seen.names == "demo":
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    else:
        last_names, last_weights, first_names, first_weights = realistic_names()
        last = rnd.choices(last_names, cum_weights=last_weights)[0]
        first = rnd.choices(first_names, cum_weights=first_weights)[0]
    created = now - dt.timedelta(days=rnd.random() ** 2 * 365, seconds=rnd.randrange(86400))
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(20000))
    phone = _phone(pid, country)
    email = f"{_mailbox(first)}.{_mailbox(last)}.{pid}@example.com"
    if seen.duplicates and seen.pool and rnd.random() < seen.duplicates:
        first, last, birth, phone, email = _planted(rnd, pid, seen, phone, email)
    elif seen.duplicates:
        entry = (pid, first, last, birth, phone, email)
        if len(seen.pool) < _POOL:
            seen.pool.append(entry)
        else:
            seen.pool[rnd.randrange(_POOL)] = entry
    custom = {"Loyalty Points": rnd.randrange(5000), "Newsletter Opt-in": rnd.random() < 0.6}
    if rnd.random() < 0.3:
        custom["Contract Expiry"] = (dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(900))).isoformat()
    if rnd.random() < 0.2:
        custom["Lifetime Value"] = round(rnd.random() * 5000, 2)
    out.persons.append(
        (pid, realm.pk, "LEAD" if rnd.random() < 0.2 else "CUSTOMER", f"ext-{pid}", first, "", last,
         rnd.choice(["MALE", "FEMALE", ""]), birth, f"{rnd.randrange(1, 200)} Main Street",
         rnd.choice(CITIES[country]), country, rnd.choice(["en", "hr", "de", "en-GB", ""]), "",
         Origin.API, Origin.API, json.dumps(custom),
         company_ids[rnd.randrange(len(company_ids))] if company_ids and rnd.random() < 0.3 else None,
         sync_status, "", created, created)
    )  # fmt: skip
    out.phones.append((realm.pk, pid, phone, created))
    if rnd.random() < 0.15:
        out.phones.append((realm.pk, pid, _second_phone(pid), created))
    out.emails.append((realm.pk, pid, email, created))
    for tag in rnd.sample(tags, rnd.choice([0, 1, 1, 2, 3])):
        out.tags.append((pid, tag.pk))
    if identities == "all" or (identities == "half" and pid % 2 == 0):
        out.identities.append(
            (new_object_id(), realm.pk, "0" * 24, "person", realm.default_country, realm.default_currency,
             "", "{}", pid, None, created, created)
        )  # fmt: skip
    n_events = int(events_per_person) + (1 if rnd.random() < events_per_person % 1 else 0)
    for _ in range(n_events):
        definition = rnd.choice(event_definitions)
        out.events.append(
            (realm.pk, pid, definition.pk, new_object_id(), created + dt.timedelta(hours=rnd.randrange(2000)),
             json.dumps({}), "API", created)
        )  # fmt: skip


def _planted(rnd: random.Random, pid: int, seen: _Seen, phone: str, email: str) -> tuple:
    """(first, last, birth, phone, email) of person ``pid`` as a duplicate of an earlier one, which leaves the
    pool: the same name and birth date and an email variant (no dots, a +suffix), or the same national phone
    number under another country prefix, or contacts of its own. Birth dates stay known, as for every seeded
    person: one without would be suggested with each of its namesakes, a number growing with the square of the
    population until the name blocks pass the cap."""
    index = rnd.randrange(len(seen.pool))
    original = seen.pool[index]
    seen.pool[index] = seen.pool[-1]
    seen.pool.pop()
    original_pid, first, last, birth, original_phone, original_email = original
    kind = rnd.choice(PLANTED_KINDS)
    seen.planted.append((original_pid, pid, kind))
    if kind == "email":
        local, _, domain = original_email.partition("@")
        return first, last, birth, phone, f"{local.replace('.', '')}+web@{domain}"
    if kind == "phone":
        prefix = rnd.choice([p for p in _OTHER_PREFIXES if not original_phone.startswith(p)])
        return first, last, birth, prefix + _national(original_phone), email
    return first, last, birth, phone, email


def _copy_batch(out: _Rows) -> tuple[int, int]:
    """COPY one batch's rows, in one transaction; returns (identities, events) written."""
    with transaction.atomic():
        copy_rows(
            Person._meta.db_table,
            ["id", "realm_id", "type", "external_id", "first_name", "middle_name", "last_name", "gender",
             "birth_date", "address", "city", "country", "preferred_language", "profile_picture", "origin",
             "modified_from", "custom_attributes", "company_id", "sync_status", "sync_error", "created",
             "modified"],
            iter(out.persons),
        )  # fmt: skip
        copy_rows("people_personphone", ["realm_id", "person_id", "number", "created"], iter(out.phones))
        copy_rows("people_personemail", ["realm_id", "person_id", "address", "created"], iter(out.emails))
        copy_rows("people_person_tags", ["person_id", "tag_id"], iter(out.tags))
        identities = copy_rows(
            "identities_identity",
            ["id", "realm_id", "owner", "type", "country", "currency", "alias", "data", "person_id",
             "company_id", "created", "modified"],
            iter(out.identities),
        )  # fmt: skip
        events = copy_rows(
            "people_personevent",
            ["realm_id", "person_id", "definition_id", "event_id", "occurred_time", "properties", "source",
             "created"],
            iter(out.events),
        )  # fmt: skip
    return identities, events


def seed_persons(
    *,
    realm,
    persons: int,
    identities: str = "all",
    events_per_person: float = 0.3,
    companies: int | None = None,
    seed: int = 42,
    batch: int = 100_000,
    progress: Callable[[int], None] | None = None,
    names: str = "demo",
    duplicates: float = 0.0,
) -> SeedResult:
    """Insert `persons` demo persons into `realm` (and identities, companies, events) with COPY.

    ``names="demo"``: first and last names from the short lists above (a few hundred combinations: at scale
    name blocks are huge); ``"realistic"``: tens of thousands of generated last names and 1,500 first names
    under a Zipf law (see ``realistic_names``). ``duplicates``: the share of persons planted as a duplicate of
    an earlier one (``PLANTED_KINDS``, listed in ``SeedResult.planted``)."""
    if names not in ("demo", "realistic"):
        raise ValueError(f"names must be 'demo' or 'realistic', not {names!r}")
    started = time.monotonic()
    rnd = random.Random(seed)
    result = SeedResult()
    tags, _, event_definitions, _ = seed_reference_data(realm)
    result.tags = len(tags)

    companies = companies if companies is not None else max(10, persons // 1000)
    company_ids = reserve_ids(Company._meta.db_table, companies)
    now = timezone.now()
    # Nothing here reaches Infobip, and only an observed Infobip answer may say "in sync": seeded rows are local.
    sync_status = SyncStatus.LOCAL
    with transaction.atomic():
        result.companies = copy_rows(
            Company._meta.db_table,
            ["id", "realm_id", "name", "notes", "country", "region", "account_manager", "customer_stage", "industry",
             "segment", "vat_number", "domains", "custom_attributes", "origin", "modified_from", "sync_status",
             "sync_error", "created", "modified"],
            (
                (cid, realm.pk, f"Company {cid}", "", rnd.choice(list(CITIES)), "Europe", "Agent Smith",
                 rnd.choice(["Active", "Prospect", "Inactive"]), rnd.choice(INDUSTRIES), "", f"HR{cid:09d}",
                 [f"company{cid}.example"], "{}", Origin.API, Origin.API, sync_status, "", now, now)
                for cid in company_ids
            ),
        )  # fmt: skip

    seen = _Seen(tags, company_ids, event_definitions, identities, events_per_person, sync_status, names, duplicates)
    done = 0
    while done < persons:
        size = min(batch, persons - done)
        ids = reserve_ids(Person._meta.db_table, size)
        out = _Rows()
        for pid in ids:
            _seed_one(rnd, realm, pid, now, seen, out)
        identities_written, events_written = _copy_batch(out)
        result.identities += identities_written
        result.events += events_written
        done += size
        statistics_refresh(SEED_TABLES)  # after the first batch and whenever the tables doubled since
        if persons <= 200_000:
            result.person_ids.extend(ids)
        if progress:
            progress(done)
    result.persons = done
    result.planted = seen.planted
    statistics_refresh([*SEED_TABLES, "companies_company"])
    result.seconds = time.monotonic() - started
    return result
