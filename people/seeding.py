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


@dataclass
class SeedResult:
    persons: int = 0
    identities: int = 0
    companies: int = 0
    tags: int = 0
    events: int = 0
    seconds: float = 0.0
    person_ids: list[int] = field(default_factory=list)


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


def _seed_one(rnd: random.Random, realm, pid: int, now, seen: _Seen, out: _Rows) -> None:
    """The rows of demo person ``pid``: the person, its phones, email, tags, identity and events."""
    tags, company_ids, event_definitions = seen.tags, seen.company_ids, seen.event_definitions
    identities, events_per_person, sync_status = seen.identities, seen.events_per_person, seen.sync_status
    country = rnd.choice(list(CITIES))
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    created = now - dt.timedelta(days=rnd.random() ** 2 * 365, seconds=rnd.randrange(86400))
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(20000))
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
    out.phones.append((realm.pk, pid, _phone(pid, country), created))
    if rnd.random() < 0.15:
        out.phones.append((realm.pk, pid, _second_phone(pid), created))
    out.emails.append((realm.pk, pid, f"{_mailbox(first)}.{_mailbox(last)}.{pid}@example.com", created))
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
) -> SeedResult:
    """Insert `persons` demo persons into `realm` (and identities, companies, events) with COPY."""
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

    seen = _Seen(tags, company_ids, event_definitions, identities, events_per_person, sync_status)
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
    statistics_refresh([*SEED_TABLES, "companies_company"])
    result.seconds = time.monotonic() - started
    return result
