"""Cleaning and checking a person's phones, emails and channel profiles (shared by the person services)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Value
from django.db.models.functions import Lower

from core.errors import ErrorCollector, ValidationError
from people import validation
from people.models import (
    CONTACTS_PER_PERSON_MAX,
    Channel,
    ChannelProfile,
    Person,
    PersonEmail,
    PersonPhone,
    Tag,
)

MSG_PHONE_TAKEN = "{number} already belongs to another person (id {person_id})"
MSG_EMAIL_TAKEN = "{address} already belongs to another person (id {person_id})"
MSG_EXTERNAL_ID_TAKEN = "{value!r} is already the externalId of another person (id {person_id})"
MSG_TOO_MANY_CONTACTS = "a person can have at most {limit} {kind}; this would make {count}"


def _empty(value: Any) -> bool:
    """An empty contact value ("address": "", as the source document's own example sends) says "none": skipped,
    not refused. Any other value, even one of only spaces between characters, is validated."""
    return isinstance(value, str) and not value.strip()


def _clean_phones(
    raw: Iterable[Any], default_country: str | None, errors: ErrorCollector, field: str = "contactInformation.phone"
) -> list[str]:
    numbers: list[str] = []
    for index, value in enumerate(raw):
        if isinstance(value, dict):
            value = value.get("number")
        if _empty(value):
            continue
        try:
            number = validation.normalize_phone(value, default_country)
        except ValidationError as exc:
            for reason in exc.fields.get("phone", []):
                errors.add(f"{field}[{index}]", reason)
            continue
        if number not in numbers:
            numbers.append(number)
    return numbers


def _clean_emails(raw: Iterable[Any], errors: ErrorCollector, field: str = "contactInformation.email") -> list[str]:
    addresses: list[str] = []
    seen: set[str] = set()
    for index, value in enumerate(raw):
        if isinstance(value, dict):
            value = value.get("address")
        if _empty(value):
            continue
        try:
            address = validation.normalize_email(value)
        except ValidationError as exc:
            for reason in exc.fields.get("email", []):
                errors.add(f"{field}[{index}]", reason)
            continue
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


def _check_unique_values_free(
    realm,
    person_id: int | None,
    external_id: str | None,
    phones: list[str],
    emails: list[str],
    errors: ErrorCollector,
    *,
    find_tags: Iterable[str] = (),
) -> dict[str, Tag]:
    """Is any of these unique-per-realm values another person's? One query for all three kinds (UNION ALL);
    errors in the order externalId, phones, emails, each in the order given.

    The same query finds the realm's tags named in `find_tags` (lower-cased names): {lower name: Tag}.
    """
    parts = []
    find_tags = list(find_tags)
    if find_tags:
        parts.append(
            Tag.objects.annotate(lname=Lower("name"))
            .filter(realm=realm, lname__in=find_tags)
            .values_list(Value(3), "name", "id")
        )
    if external_id:
        parts.append(
            Person.objects.filter(realm=realm, external_id=external_id).values_list(Value(0), "external_id", "id")
        )
    if phones:
        parts.append(
            PersonPhone.objects.filter(realm=realm, number__in=phones).values_list(Value(1), "number", "person_id")
        )
    if emails:
        parts.append(
            PersonEmail.objects.annotate(laddress=Lower("address"))
            .filter(realm=realm, laddress__in=[e.lower() for e in emails])
            .values_list(Value(2), "address", "person_id")
        )
    if not parts:
        return {}
    if person_id:
        parts = [
            part if part.model is Tag else part.exclude(**{"pk" if part.model is Person else "person_id": person_id})
            for part in parts
        ]
    parts = [part.order_by() for part in parts]
    rows = list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
    given = {(1, number): i for i, number in enumerate(phones)}
    given |= {(2, address.lower()): i for i, address in enumerate(emails)}
    rows.sort(key=lambda row: (row[0], given.get((row[0], row[1].lower() if row[0] == 2 else row[1]), 0)))
    tags: dict[str, Tag] = {}
    for kind, value, owner in rows:
        if kind == 0:
            errors.add("externalId", MSG_EXTERNAL_ID_TAKEN.format(value=value, person_id=owner))
        elif kind == 1:
            errors.add("contactInformation.phone", MSG_PHONE_TAKEN.format(number=value, person_id=owner))
        elif kind == 2:
            errors.add("contactInformation.email", MSG_EMAIL_TAKEN.format(address=value, person_id=owner))
        else:
            tags[value.lower()] = Tag.from_db("default", ["id", "realm_id", "name"], (owner, realm.pk, value))
    return tags


def _check_contact_limit(kind: str, count: int, errors: ErrorCollector) -> None:
    if count > CONTACTS_PER_PERSON_MAX:
        errors.add(
            f"contactInformation.{kind}",
            MSG_TOO_MANY_CONTACTS.format(limit=CONTACTS_PER_PERSON_MAX, kind=f"{kind}s", count=count),
        )


def _clean_channel_profiles(raw: Any, errors: ErrorCollector) -> list[dict[str, Any]]:
    """Read-only channel profiles arrive as Infobip's contactInformation keys; kept as preview data."""
    profiles: list[dict[str, Any]] = []
    if not raw:
        return profiles
    if not isinstance(raw, dict):
        errors.add("contactInformation", "must be an object")
        return profiles
    for channel, items in raw.items():
        if channel not in Channel.values:
            continue
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            errors.add(f"contactInformation.{channel}", "must be a list of objects")
            continue
        for item in items:
            identifier = item.get("registrationId") or item.get("userId") or ""
            profiles.append(
                {
                    "channel": channel,
                    "application_id": str(item.get("applicationId") or "")[:255],
                    "identifier": str(identifier)[:255],
                    "data": item,
                }
            )
    return profiles


def _store_channel_profiles(person: Person, profiles: list[dict[str, Any]]) -> None:
    for profile in profiles:
        ChannelProfile.objects.update_or_create(
            realm_id=person.realm_id,
            channel=profile["channel"],
            application_id=profile["application_id"],
            identifier=profile["identifier"],
            defaults={"person": person, "data": profile["data"]},
        )
