"""Issue 6: the import's RESOLVE AUTOMATICALLY produces the same result as a manual merge with default choices.

Every test builds the same two existing persons in two realms: P1 (the earliest created, the default survivor)
and P2 (created later, but stored first, so P2 has the lower id: "earliest created" and "lowest id" would pick
different survivors). They differ on most single-valued attributes and custom attributes, and each holds its
own phone, email, tags, company, event, identity and channel profile.

- In realm "Imported" a file whose rows link P1 (by its phone) and P2 (by its email) is imported with RESOLVE
  AUTOMATICALLY.
- In realm "Manual" a staff user does by hand what the issue says the import does: merge P1 and P2 with
  `persons_merge` (default survivor, no choices, everything kept), then apply each file row, in file order, to
  the survivor as a PATCH (`person_update`: non-empty cells set, contacts and tags added).

The surviving persons (and the absorbed alias) are then compared field by field, ids and timestamps aside.
That the file is applied *after* the merge, so a file value beats every database value, is the documented rule
of the import ("file beats database, later row beats earlier row, empty cell never erases"), not a difference
between the two paths; each test also states the expected values outright, so two paths that were wrong in the
same way would still fail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from identities.models import Identity
from people.merging import MERGE_FIELDS, default_survivor, persons_merge
from people.models import ChannelProfile, MergeRecord, Person, PersonEvent
from people.services import person_update
from tests.companies.factories import CompanyFactory
from tests.identities.factories import IdentityFactory, RealmFactory
from tests.imports.helpers import csv_bytes, import_file
from tests.people.factories import (
    ChannelProfileFactory,
    CustomAttributeDefinitionFactory,
    PersonEventFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

P1_PHONE, P2_PHONE = "385991110001", "385991110002"
P1_EMAIL, P2_EMAIL = "ana@old.example", "anna@new.example"

P1 = {
    "external_id": "CRM-1", "first_name": "Ana", "last_name": "Horvat", "gender": "FEMALE", "city": "Zagreb",
    "birth_date": dt.date(1990, 1, 2), "custom_attributes": {"Store": "Zagreb", "Tier": "Silver"},
    "phones": [P1_PHONE], "emails": [P1_EMAIL], "tags": ["VIP", "Newsletter"],
}  # fmt: skip
P2 = {
    "external_id": "CRM-2", "first_name": "Anna", "middle_name": "Marija", "last_name": "Horvat-Kovač",
    "address": "Ilica 1", "city": "Split", "custom_attributes": {"Tier": "Gold", "Points": "7"},
    "phones": [P2_PHONE], "emails": [P2_EMAIL], "tags": ["Lead magnet", "VIP"],
}  # fmt: skip
COMPANIES = {"P1": "Acme d.o.o.", "P2": "Beta d.o.o."}

# (type of P1, type of P2, the more recently modified one, whose value wins a conflict by Infobip's rules)
CASES = [
    pytest.param("CUSTOMER", "LEAD", "P2", "P1", id="earliest-customer-beats-more-recent-lead"),
    pytest.param("LEAD", "CUSTOMER", "P1", "P2", id="earliest-lead-loses-to-older-modified-customer"),
    pytest.param("CUSTOMER", "CUSTOMER", "P2", "P2", id="customers-most-recently-modified-wins-later"),
    pytest.param("CUSTOMER", "CUSTOMER", "P1", "P1", id="customers-most-recently-modified-wins-earliest"),
    pytest.param("LEAD", "LEAD", "P2", "P2", id="leads-most-recently-modified-wins"),
]


def build(realm, type_1: str, type_2: str, recent: str) -> dict[str, Person]:
    """P1 and P2 in `realm`, P2 stored first; created/modified set last so nothing bumps them afterwards."""
    for name in ("Store", "Tier", "Points"):
        CustomAttributeDefinitionFactory(realm=realm, name=name)
    persons = {}
    for role, data, person_type in (("P2", P2, type_2), ("P1", P1, type_1)):
        company = CompanyFactory(realm=realm, name=COMPANIES[role])
        person = PersonFactory(realm=realm, type=person_type, company=company, **data)
        PersonEventFactory(person=person, event_id=f"evt-{role}")
        IdentityFactory(realm=realm, person=person, alias=f"identity-{role}")
        ChannelProfileFactory(person=person, identifier=f"reg-{role}")
        persons[role] = person
    now = timezone.now()
    ages = {"P1": (30, 5), "P2": (10, 5)}  # (created, modified) days ago
    ages[recent] = (ages[recent][0], 1)
    for role, (created, modified) in ages.items():
        Person.objects.filter(pk=persons[role].pk).update(
            created=now - dt.timedelta(days=created), modified=now - dt.timedelta(days=modified)
        )
        persons[role].refresh_from_db()
    assert persons["P2"].pk < persons["P1"].pk  # the survivor rule is "earliest created", not "lowest id"
    return persons


def _plain(value: Any) -> Any:
    if value in ("", None):
        return None
    return value.isoformat() if isinstance(value, dt.date) else value


def outcome(realm, persons: dict[str, Person], *, ignore_tags: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything the realm's persons hold after the merge, by role (P1/P2) instead of ids, timestamps aside."""
    role_of = {p.pk: role for role, p in persons.items()}
    result: dict[str, Any] = {
        "active": sorted(role_of[pk] for pk in Person.objects.active().filter(realm=realm).values_list("pk", flat=True))
    }
    for role, stale in persons.items():
        person = Person.objects.get(pk=stale.pk)
        attributes = {name: _plain(getattr(person, name)) for name in MERGE_FIELDS if name != "company_id"}
        attributes["company"] = person.company.name if person.company_id else None
        result[role] = {
            "attributes": attributes,
            "custom_attributes": person.custom_attributes,
            "merged_into": role_of.get(person.merged_into_id),
            "phones": sorted(person.phones.values_list("number", flat=True)),
            "emails": sorted(a.lower() for a in person.emails.values_list("address", flat=True)),
            "tags": sorted(n for n in person.tags.values_list("name", flat=True) if n not in ignore_tags),
            "events": sorted(PersonEvent.objects.filter(person=person).values_list("event_id", flat=True)),
            "identities": sorted(Identity.objects.filter(person=person).values_list("alias", flat=True)),
            "channel_profiles": sorted(
                ChannelProfile.objects.filter(person=person).values_list("identifier", flat=True)
            ),
        }
    return result


def merge_choices(realm, persons: dict[str, Person]) -> dict[str, Any]:
    """The realm's one merge record: who survived, who was absorbed, whose value each field took (by role)."""
    role_of = {p.pk: role for role, p in persons.items()}
    record = MergeRecord.objects.get(realm=realm)
    return {
        "survivor": role_of[record.survivor_id],
        "absorbed": [role_of[pk] for pk in record.absorbed_ids],
        "fields": {name: role_of[pk] for name, pk in record.choices["fields"].items()},
        "customAttributes": {name: role_of[pk] for name, pk in record.choices["customAttributes"].items()},
        "phones": sorted(record.choices["phones"]),
        "emails": sorted(record.choices["emails"]),
        "tags": sorted(record.choices["tags"]),
    }


def merge_by_hand(persons: dict[str, Person]) -> Person:
    """What staff do on the merge page without touching anything: default survivor, default choices."""
    profiles = [persons["P2"], persons["P1"]]
    survivor = default_survivor(profiles)
    record = persons_merge(survivor=survivor, others=[p for p in profiles if p.pk != survivor.pk], actor="staff")
    return Person.objects.get(pk=record.survivor_id)


def expected_merge(type_1: str, type_2: str, winner: str) -> dict[str, Any]:
    """Infobip's merge rules written out: P1 survives; one-sided values are added; conflicts go to `winner`;
    a Customer anywhere makes a Customer; phones, emails, tags, events, identities, channel profiles combine."""
    win = P1 if winner == "P1" else P2
    return {
        "active": ["P1"],
        "P1": {
            "attributes": {
                "type": "CUSTOMER" if "CUSTOMER" in (type_1, type_2) else "LEAD",
                "external_id": win["external_id"],
                "first_name": win["first_name"],
                "middle_name": "Marija",
                "last_name": win["last_name"],
                "nick_name": None,
                "gender": "FEMALE",
                "birth_date": "1990-01-02",
                "address": "Ilica 1",
                "city": win["city"],
                "country": None,
                "preferred_language": None,
                "profile_picture": None,
                "company": COMPANIES[winner],
            },
            "custom_attributes": {"Store": "Zagreb", "Tier": win["custom_attributes"]["Tier"], "Points": "7"},
            "merged_into": None,
            "phones": [P1_PHONE, P2_PHONE],
            "emails": sorted([P1_EMAIL, P2_EMAIL]),
            "tags": ["Lead magnet", "Newsletter", "VIP"],
            "events": ["evt-P1", "evt-P2"],
            "identities": ["identity-P1", "identity-P2"],
            "channel_profiles": ["reg-P1", "reg-P2"],
        },
        "P2": {
            "attributes": {
                **{name: _plain(P2.get(name)) for name in MERGE_FIELDS if name != "company_id"},
                "type": type_2,
                # The survivor carries the externalId it won; an absorbed person keeps one nobody else has.
                "external_id": None if winner == "P2" else "CRM-2",
                "company": COMPANIES["P2"],
            },
            "custom_attributes": P2["custom_attributes"],
            "merged_into": "P1",
            "phones": [],
            "emails": [],
            "tags": [],
            "events": [],
            "identities": [],
            "channel_profiles": [],
        },
    }


@pytest.fixture
def realms(db):
    return RealmFactory(name="Imported", default_country="HR"), RealmFactory(name="Manual", default_country="HR")


# ----------------------------------------------------------------- B: the file only links the two persons


@pytest.mark.parametrize(("type_1", "type_2", "recent", "winner"), CASES)
def test_resolve_merges_like_a_manual_merge_with_default_choices(realms, type_1, type_2, recent, winner):
    """The file brings nothing but the keys linking P1 and P2: the import's result is the merge's alone."""
    imported, manual = realms
    persons_i = build(imported, type_1, type_2, recent)
    persons_m = build(manual, type_1, type_2, recent)

    job = import_file(imported, "people.csv", csv_bytes([["Phone", "Email"], [P1_PHONE, P2_EMAIL]]))
    merge_by_hand(persons_m)

    assert job.status == "succeeded"
    assert job.persons_merged == 1
    result = outcome(imported, persons_i, ignore_tags=(job.import_tag,))
    assert result == outcome(manual, persons_m)
    assert result == expected_merge(type_1, type_2, winner)
    # The same survivor and the same per-field choices, as the merge records tell.
    assert merge_choices(imported, persons_i) == merge_choices(manual, persons_m)
    assert merge_choices(imported, persons_i)["survivor"] == "P1"
    assert MergeRecord.objects.get(realm=imported).source == "import"
    # The merge is the import's change: the survivor counts as updated (as the analysis predicted) and carries
    # the import's tag, so "persons of this import" finds it.
    assert job.counts()["updated"] == 1
    assert job.counts()["unchanged"] == 0
    assert job.import_tag in Person.objects.get(pk=persons_i["P1"].pk).tags.values_list("name", flat=True)


# --------------------------------------------------------- A: the file also brings values of its own

HEADER = ["Phone", "Email", "First name", "Last name", "City", "Tags", "Tier", "Store"]
MAPPING = [
    {"header": "Phone", "field": "phone", "country": ""},
    {"header": "Email", "field": "email", "country": ""},
    {"header": "First name", "field": "firstName", "country": ""},
    {"header": "Last name", "field": "lastName", "country": ""},
    {"header": "City", "field": "city", "country": ""},
    {"header": "Tags", "field": "tags", "country": ""},
    {"header": "Tier", "field": "customAttributes.Tier", "country": ""},
    {"header": "Store", "field": "customAttributes.Store", "country": ""},
]
ROWS = [
    # Row 1 links the persons: P1's phone, P2's email.
    [P1_PHONE, P2_EMAIL, "Ivana", "", "Rijeka", "Imported", "Platinum", ""],
    # Row 2 shares row 1's phone (one file group); later row beats earlier row, empty cells erase nothing.
    [P1_PHONE, "ivana@file.example", "Iva", "", "", "VIP", "", ""],
]


def apply_row_by_hand(person: Person, cells: list[str]) -> None:
    """One file row as a staff user's PATCH of the survivor: the non-empty cells, contacts and tags added."""
    row = dict(zip(HEADER, cells, strict=True))
    names = {"First name": "first_name", "Last name": "last_name", "City": "city"}
    person_update(
        person=person,
        attributes={field: row[header] for header, field in names.items() if row[header]},
        custom_attributes={name: row[name] for name in ("Tier", "Store") if row[name]},
        phones=[row["Phone"]],
        emails=[row["Email"]],
        tags=[row["Tags"]] if row["Tags"] else [],
    )


@pytest.mark.parametrize(("type_1", "type_2", "recent", "winner"), CASES)
def test_resolve_with_file_values_equals_manual_merge_then_the_rows_as_updates(realms, type_1, type_2, recent, winner):
    imported, manual = realms
    persons_i = build(imported, type_1, type_2, recent)
    persons_m = build(manual, type_1, type_2, recent)

    job = import_file(imported, "people.csv", csv_bytes([HEADER, *ROWS]), mapping=MAPPING)
    survivor = merge_by_hand(persons_m)
    for cells in ROWS:
        apply_row_by_hand(survivor, cells)

    assert job.status == "succeeded", job.error
    assert job.counts()["persons_merged"] == 1
    result = outcome(imported, persons_i, ignore_tags=(job.import_tag,))
    assert result == outcome(manual, persons_m)
    assert merge_choices(imported, persons_i) == merge_choices(manual, persons_m)

    expected = expected_merge(type_1, type_2, winner)
    survivor_expected = expected["P1"]
    # File beats database (the file is applied after the merge), the later row beats the earlier one...
    survivor_expected["attributes"] |= {"first_name": "Iva", "city": "Rijeka"}
    survivor_expected["custom_attributes"]["Tier"] = "Platinum"
    # ...an empty cell erases nothing (lastName, Store keep the merge's values), contacts and tags are added.
    survivor_expected["emails"] = sorted([*survivor_expected["emails"], "ivana@file.example"])
    survivor_expected["tags"] = sorted([*survivor_expected["tags"], "Imported"])
    assert result == expected
    # The import marks the person it changed with its own tag.
    assert job.import_tag in Person.objects.get(pk=persons_i["P1"].pk).tags.values_list("name", flat=True)
