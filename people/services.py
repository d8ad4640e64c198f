"""Every write to persons, their contacts, tags, custom attributes and events.

Each public function is one transaction and records what must reach Infobip in the outbox of the same
transaction. Field errors are keyed by the API's field names (`firstName`, `contactInformation.phone[1]`).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import Conflict, ErrorCollector, NotFound, ValidationError
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record, outbox_supersede
from infobip.outbox.payloads import CompanyMove, PersonChange, PersonGone, Sets
from people import validation
from people.fields import NULLABLE_ATTRIBUTES, PERSON_ATTRIBUTES
from people.models import (
    CONTACTS_PER_PERSON_MAX,
    TAG_NAME_MAX,
    Channel,
    ChannelProfile,
    CustomAttributeDefinition,
    DataType,
    EventDefinition,
    EventSource,
    Origin,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
    SyncStatus,
    Tag,
)

UNSET: Any = object()

MSG_PHONE_TAKEN = "{number} already belongs to another person (id {person_id})"
MSG_EMAIL_TAKEN = "{address} already belongs to another person (id {person_id})"
MSG_EXTERNAL_ID_TAKEN = "{value!r} is already the externalId of another person (id {person_id})"
MSG_TOO_MANY_CONTACTS = "a person can have at most {limit} {kind}; this would make {count}"
MSG_DUPLICATE_TAG = "a tag named {name!r} already exists"
MSG_DUPLICATE_DEFINITION = "a custom attribute named {name!r} already exists"
MSG_DUPLICATE_EVENT_DEFINITION = "an event definition {definition_id!r} already exists"
MSG_COMPANY_OTHER_REALM = "company belongs to another realm"

CONSTRAINT_FIELDS = {
    "phone_unique_per_realm": ("contactInformation.phone", "a phone number already belongs to another person"),
    "email_unique_per_realm_ci": ("contactInformation.email", "an email address already belongs to another person"),
    "person_external_id_unique": ("externalId", "externalId already belongs to another person"),
    "tag_name_unique_ci": ("name", "a tag with this name already exists"),
    "custom_attribute_name_unique": ("name", "a custom attribute with this name already exists"),
    "event_definition_unique": ("definitionId", "an event definition with this id already exists"),
    "person_event_id_unique": ("eventId", "an event with this eventId already exists"),
    "company_name_unique_ci": ("name", "a company with this name already exists"),
}


def integrity_error_as_validation(exc: IntegrityError) -> ValidationError:
    """Turn a constraint violation that slipped past the service checks (a race) into a field error."""
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    field, reason = CONSTRAINT_FIELDS.get(constraint or "", ("non_field_errors", "conflicts with existing data"))
    return ValidationError({field: [reason]}, code="conflict")


# ---------------------------------------------------------------------------------------------------- tags


def _clean_tag_name(name: Any, errors: ErrorCollector, field: str = "tags") -> str | None:
    if not isinstance(name, str) or not name.strip():
        errors.add(field, "tag names must be non-empty strings")
        return None
    name = name.strip()
    if len(name) > TAG_NAME_MAX:
        errors.add(field, f"tag {name[:30]!r}… is longer than {TAG_NAME_MAX} characters")
        return None
    return name


def _clean_tag_names(names: Iterable[Any], errors: ErrorCollector) -> dict[str, str]:
    """Tag names as given → {lower-cased name: name}, the first spelling of each; problems go to `errors`."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = _clean_tag_name(raw, errors)
        if name:
            wanted.setdefault(name.lower(), name)
    return wanted


def tags_get_or_create(*, realm, names: Iterable[str], known: dict[str, Tag] | None = None) -> list[Tag]:
    """Tags by name (case-insensitive), creating the missing ones. Call inside a transaction.

    `known` (lower-cased name → Tag) are tags the caller has just read; only the others are looked up.
    """
    errors = ErrorCollector()
    wanted = _clean_tag_names(names, errors)
    errors.raise_if_any()
    if not wanted:
        return []
    existing = {key: tag for key, tag in (known or {}).items() if key in wanted}
    unknown = [key for key in wanted if key not in existing]
    if unknown:
        existing |= {
            tag.name.lower(): tag
            for tag in Tag.objects.annotate(lname=Lower("name")).filter(realm=realm, lname__in=unknown)
        }
    missing = [Tag(realm=realm, name=name) for key, name in wanted.items() if key not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        for tag in Tag.objects.annotate(lname=Lower("name")).filter(
            realm=realm, lname__in=[t.name.lower() for t in missing]
        ):
            if tag.name.lower() not in existing:
                existing[tag.name.lower()] = tag
                outbox_record(realm=realm, entity=OutboxEntity.TAG, entity_id=tag.name, op=OutboxOp.CREATE)
    return [existing[key] for key in wanted]


@transaction.atomic
def tag_create(*, realm, name: str) -> Tag:
    errors = ErrorCollector()
    clean = _clean_tag_name(name, errors, field="name")
    errors.raise_if_any()
    if Tag.objects.filter(realm=realm, name__iexact=clean).exists():
        raise ValidationError.single("name", MSG_DUPLICATE_TAG.format(name=clean), code="conflict")
    tag = Tag.objects.create(realm=realm, name=clean)
    outbox_record(realm=realm, entity=OutboxEntity.TAG, entity_id=tag.name, op=OutboxOp.CREATE)
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag) -> None:
    """Removes the tag from every person and company, here and (through the outbox) in Infobip."""
    outbox_record(realm=tag.realm, entity=OutboxEntity.TAG, entity_id=tag.name, op=OutboxOp.DELETE)
    tag.delete()


# ---------------------------------------------------------------------------------------- custom attributes


@transaction.atomic
def custom_attribute_definition_create(
    *, realm, name: str, data_type: str, object_schema: dict[str, str] | None = None
) -> CustomAttributeDefinition:
    errors = ErrorCollector()
    name = (name or "").strip()
    try:
        validation.check_custom_attribute_name(name)
    except ValidationError as exc:
        errors.merge(exc)
    if data_type not in DataType.values:
        errors.add("dataType", f"{data_type!r} is not one of {', '.join(DataType.values)}")
    schema = object_schema or {}
    if data_type == DataType.LIST_OF_OBJECTS:
        if not isinstance(schema, dict) or not schema:
            errors.add("objectSchema", "LIST_OF_OBJECTS needs an object schema: field name → data type")
        else:
            for field, field_type in schema.items():
                if field_type not in DataType.values or field_type == DataType.LIST_OF_OBJECTS:
                    errors.add(f"objectSchema.{field}", f"{field_type!r} is not a scalar data type")
    elif schema:
        errors.add("objectSchema", "only LIST_OF_OBJECTS attributes have an object schema")
    errors.raise_if_any()
    if CustomAttributeDefinition.objects.filter(realm=realm, name=name).exists():
        raise ValidationError.single("name", MSG_DUPLICATE_DEFINITION.format(name=name), code="conflict")
    definition = CustomAttributeDefinition.objects.create(
        realm=realm,
        name=name,
        data_type=data_type,
        object_schema=schema if data_type == DataType.LIST_OF_OBJECTS else {},
    )
    outbox_record(realm=realm, entity=OutboxEntity.CUSTOM_ATTRIBUTE, entity_id=name, op=OutboxOp.CREATE)
    return definition


@transaction.atomic
def custom_attribute_definition_delete(*, definition: CustomAttributeDefinition) -> int:
    """Deletes the definition and removes its values from every person. Returns how many persons changed."""
    realm, name = definition.realm, definition.name
    holders = Person.objects.filter(realm=realm, custom_attributes__has_key=name)
    changed = 0
    for person in holders.select_for_update().only("id", "custom_attributes"):
        person.custom_attributes.pop(name, None)
        person.save(update_fields=["custom_attributes", "modified"])
        changed += 1
    outbox_record(realm=realm, entity=OutboxEntity.CUSTOM_ATTRIBUTE, entity_id=name, op=OutboxOp.DELETE)
    definition.delete()
    return changed


def custom_attribute_definitions(realm) -> dict[str, CustomAttributeDefinition]:
    return {d.name: d for d in CustomAttributeDefinition.objects.filter(realm=realm)}


# ----------------------------------------------------------------------------------------------- contacts


def _clean_phones(
    raw: Iterable[Any], default_country: str | None, errors: ErrorCollector, field: str = "contactInformation.phone"
) -> list[str]:
    numbers: list[str] = []
    for index, value in enumerate(raw):
        if isinstance(value, dict):
            value = value.get("number")
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


# ------------------------------------------------------------------------------------------------ persons


def _clean_company(realm, company):
    if company is None or company is UNSET:
        return company
    if company.realm_id != realm.pk:
        raise ValidationError.single("company", MSG_COMPANY_OTHER_REALM)
    return company


def _initial_sync_status(realm) -> str:
    return SyncStatus.PENDING if realm.cdp_enabled else SyncStatus.LOCAL


def person_create(
    *,
    realm,
    attributes: dict[str, Any] | None = None,
    phones: Iterable[Any] = (),
    emails: Iterable[Any] = (),
    tags: Iterable[str] = (),
    custom_attributes: dict[str, Any] | None = None,
    channel_profiles: dict[str, Any] | None = None,
    company=None,
    origin: str = Origin.API,
    default_country: str | None = None,
) -> Person:
    """Create a person with contacts, tags and custom attributes. Unknown tag names are created.

    Inside a caller's transaction it takes no savepoint: validation errors are raised before anything is
    written, and a race lost to a concurrent writer (a unique constraint) leaves that transaction to be
    rolled back (the caller sees a ValidationError either way). The returned person carries its tags and
    contacts as written (people.representation reads them instead of querying).
    """
    errors = ErrorCollector()
    country = default_country or realm.default_country
    clean = validation.clean_person_attributes(attributes or {}, errors)
    clean_phones = _clean_phones(phones, country, errors)
    clean_emails = _clean_emails(emails, errors)
    _check_contact_limit("phone", len(clean_phones), errors)
    _check_contact_limit("email", len(clean_emails), errors)
    profiles = _clean_channel_profiles(channel_profiles, errors)
    definitions = custom_attribute_definitions(realm) if custom_attributes else {}
    clean_custom = validation.clean_custom_attributes(custom_attributes or {}, definitions, errors)
    wanted_tags = _clean_tag_names(tags, errors)
    errors.raise_if_any()
    company = _clean_company(realm, company)
    known_tags = _check_unique_values_free(
        realm, None, clean.get("external_id"), clean_phones, clean_emails, errors, find_tags=wanted_tags
    )
    errors.raise_if_any()
    try:
        # No savepoint of its own: every check is done above, so this block only fails on a race lost to a
        # concurrent writer (a unique constraint), and then the caller's whole transaction is void anyway.
        with transaction.atomic(savepoint=False):
            person = Person(
                realm=realm,
                origin=origin,
                modified_from=origin,
                custom_attributes={k: v for k, v in clean_custom.items() if v is not None},
                company=company,
                sync_status=_initial_sync_status(realm),
                **clean,
            )
            person.save()
            PersonPhone.objects.bulk_create([PersonPhone(realm=realm, person=person, number=n) for n in clean_phones])
            PersonEmail.objects.bulk_create([PersonEmail(realm=realm, person=person, address=a) for a in clean_emails])
            tag_rows = tags_get_or_create(realm=realm, names=wanted_tags.values(), known=known_tags)
            if tag_rows:
                person.tags.add(*tag_rows)
            _store_channel_profiles(person, profiles)
            outbox_record(realm=realm, entity=OutboxEntity.PERSON, entity_id=person.pk, op=OutboxOp.CREATE)
    except IntegrityError as exc:
        raise integrity_error_as_validation(exc) from exc
    # What was written, for people.representation, so the caller can render the new person without reading
    # it back (channel profiles, when any, are read: update_or_create may have taken over existing rows).
    person.agg_tags = [tag.name for tag in tag_rows]
    person.agg_phones = list(clean_phones)
    person.agg_emails = list(clean_emails)
    if not profiles:
        person.agg_channel_profiles = []
    return person


def person_update(
    *,
    person: Person,
    attributes: dict[str, Any] | None = None,
    custom_attributes: dict[str, Any] | None = None,
    phones: Iterable[Any] | None = None,
    emails: Iterable[Any] | None = None,
    tags: Iterable[str] | None = None,
    channel_profiles: dict[str, Any] | None = None,
    remove_phones: Iterable[Any] = (),
    remove_emails: Iterable[Any] = (),
    remove_tags: Iterable[str] = (),
    company: Any = UNSET,
    replace: bool = False,
    modified_from: str = Origin.API,
    default_country: str | None = None,
) -> Person:
    """Update a person with Infobip's meanings.

    replace=False (PATCH): attributes not given keep their value; phones, emails and tags given are added;
    custom attributes given are set, and a null value removes one. replace=True (PUT): attributes not given
    are cleared; phones, emails, tags and custom attributes given replace the current ones.
    """
    realm = person.realm
    country = default_country or realm.default_country
    errors = ErrorCollector()
    given = dict(attributes or {})
    if replace:
        for field in PERSON_ATTRIBUTES.values():
            if field not in given and field != "type":
                given[field] = None if field in NULLABLE_ATTRIBUTES else ""
    clean = validation.clean_person_attributes(given, errors)
    add_phones = _clean_phones(phones or (), country, errors)
    add_emails = _clean_emails(emails or (), errors)
    drop_phones = _clean_phones(remove_phones, country, errors, field="remove.phone")
    drop_emails = _clean_emails(remove_emails, errors, field="remove.email")
    profiles = _clean_channel_profiles(channel_profiles, errors)
    definitions = custom_attribute_definitions(realm) if custom_attributes else {}
    clean_custom = validation.clean_custom_attributes(custom_attributes or {}, definitions, errors)
    errors.raise_if_any()
    company = _clean_company(realm, company)

    try:
        with transaction.atomic():
            locked = Person.objects.select_for_update().get(pk=person.pk)
            if locked.merged_into_id:
                raise Conflict(f"person {locked.pk} was merged into person {locked.merged_into_id}", code="merged")
            _check_unique_values_free(realm, locked.pk, clean.get("external_id"), add_phones, add_emails, errors)
            errors.raise_if_any()

            current_phones = list(locked.phones.values_list("number", flat=True))
            current_emails = list(locked.emails.values_list("address", flat=True))
            if replace:
                removed_phones = [n for n in current_phones if phones is not None and n not in add_phones]
                removed_emails = [
                    a for a in current_emails if emails is not None and a.lower() not in {e.lower() for e in add_emails}
                ]
            else:
                removed_phones = [n for n in current_phones if n in drop_phones]
                removed_emails = [a for a in current_emails if a.lower() in {e.lower() for e in drop_emails}]
            final_phones = [n for n in current_phones if n not in removed_phones]
            final_phones += [n for n in add_phones if n not in final_phones]
            final_emails_l = {a.lower() for a in current_emails if a not in removed_emails}
            new_emails = [a for a in add_emails if a.lower() not in final_emails_l]
            _check_contact_limit("phone", len(final_phones), errors)
            _check_contact_limit("email", len(final_emails_l) + len(new_emails), errors)
            errors.raise_if_any()

            changed_fields = [f for f, v in clean.items() if getattr(locked, f) != v]
            for field, value in clean.items():
                setattr(locked, field, value)
            if replace and custom_attributes is not None:
                new_custom = {k: v for k, v in clean_custom.items() if v is not None}
            else:
                new_custom = dict(locked.custom_attributes)
                for name, value in clean_custom.items():
                    if value is None:
                        new_custom.pop(name, None)
                    else:
                        new_custom[name] = value
            if new_custom != locked.custom_attributes:
                changed_fields.append("custom_attributes")
                locked.custom_attributes = new_custom
            company_change = None
            if company is not UNSET and locked.company_id != (company.pk if company else None):
                # The push needs the company the person leaves: Infobip keeps memberships on the company.
                company_change = CompanyMove(locked.company_id, company.pk if company else None)
                locked.company = company
                changed_fields.append("company")

            if removed_phones:
                PersonPhone.objects.filter(person=locked, number__in=removed_phones).delete()
            if removed_emails:
                PersonEmail.objects.filter(person=locked, address__in=removed_emails).delete()
            fresh_phones = [n for n in add_phones if n not in current_phones]
            PersonPhone.objects.bulk_create([PersonPhone(realm=realm, person=locked, number=n) for n in fresh_phones])
            PersonEmail.objects.bulk_create([PersonEmail(realm=realm, person=locked, address=a) for a in new_emails])

            removed_tags: list[str] = []
            added_tags: list[str] = []
            if tags is not None or remove_tags:
                current = {t.name.lower(): t for t in locked.tags.all()}
                wanted = tags_get_or_create(realm=realm, names=tags or [])
                drop = {str(name).strip().lower() for name in remove_tags}
                if replace and tags is not None:
                    drop |= set(current) - {t.name.lower() for t in wanted}
                to_remove = [current[name] for name in drop if name in current]
                to_add = [t for t in wanted if t.name.lower() not in current]
                if to_remove:
                    locked.tags.remove(*to_remove)
                    removed_tags = [t.name for t in to_remove]
                if to_add:
                    locked.tags.add(*to_add)
                    added_tags = [t.name for t in to_add]
            _store_channel_profiles(locked, profiles)

            contacts_changed = bool(removed_phones or removed_emails or fresh_phones or new_emails)
            if changed_fields or contacts_changed or removed_tags or added_tags or profiles:
                locked.modified_from = modified_from
                if realm.cdp_enabled:
                    locked.sync_status = SyncStatus.PENDING
                locked.save()
                outbox_record(
                    realm=realm,
                    entity=OutboxEntity.PERSON,
                    entity_id=locked.pk,
                    op=OutboxOp.UPDATE,
                    payload=PersonChange.build(
                        fields=changed_fields,
                        added=Sets.of(phones=fresh_phones, emails=new_emails, tags=added_tags),
                        removed=Sets.of(phones=removed_phones, emails=removed_emails, tags=removed_tags),
                        company=company_change,
                    ).to_json(),
                )
    except IntegrityError as exc:
        raise integrity_error_as_validation(exc) from exc
    return locked


def person_identifiers(person: Person) -> dict[str, Any]:
    """How Infobip can find this person once it is gone from our side (a delete's payload)."""
    return PersonGone(
        infobip_id=person.infobip_id,
        external_id=person.external_id,
        phones=tuple(person.phones.values_list("number", flat=True)),
        emails=tuple(person.emails.values_list("address", flat=True)),
    ).to_json()


@transaction.atomic
def person_delete(*, person: Person) -> None:
    """Delete the person here and (through the outbox) in Infobip. Identities keep living, unlinked."""
    locked = Person.objects.select_for_update().get(pk=person.pk)
    # Persons merged into this one are only aliases now (their contacts and events moved here): they go too.
    locked.absorbed.all().delete()
    outbox_supersede(
        realm=locked.realm,
        entity=OutboxEntity.PERSON,
        entity_ids=[locked.pk],
        reason=f"Superseded: person {locked.pk} was deleted (its delete is sent instead).",
    )
    outbox_record(
        realm=locked.realm,
        entity=OutboxEntity.PERSON,
        entity_id=locked.pk,
        op=OutboxOp.DELETE,
        payload=person_identifiers(locked),
    )
    locked.delete()


# ------------------------------------------------------------------------------------------------- events

EVENT_FIELD_TYPE_CHOICES = [(kind, kind) for kind in ("String", "Boolean", "DateTime", "Numeric", "Decimal", "List")]
EVENT_FIELD_TYPES = {value for value, _ in EVENT_FIELD_TYPE_CHOICES}
EVENT_FIELD_NAME_RE = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def _clean_event_fields(fields: Any, errors: ErrorCollector) -> list[dict[str, Any]]:
    if fields in (None, ""):
        return []
    if not isinstance(fields, list):
        errors.add("fields", "must be a list of {name, type}")
        return []
    names: set[str] = set()
    cleaned = []
    for index, field in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(field, dict):
            errors.add(where, "must be an object with name and type")
            continue
        name, kind = field.get("name"), field.get("type")
        if not isinstance(name, str) or not EVENT_FIELD_NAME_RE.match(name) or len(name) > 128:
            errors.add(f"{where}.name", f"{name!r} must match ^[a-z_][a-zA-Z0-9_]*$ (1..128 characters)")
            continue
        if name.lower() in names:
            errors.add(f"{where}.name", f"{name!r} appears twice")
            continue
        names.add(name.lower())
        if kind not in EVENT_FIELD_TYPES:
            errors.add(f"{where}.type", f"{kind!r} is not one of {', '.join(sorted(EVENT_FIELD_TYPES))}")
            continue
        item = {"name": name, "type": kind}
        if kind == "List":
            schema = field.get("schema")
            if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list) or not schema["fields"]:
                errors.add(f"{where}.schema", "a List field needs a schema with fields")
                continue
            item["schema"] = {"type": "Object", "fields": _clean_event_fields(schema["fields"], errors)}
        cleaned.append(item)
    if sum(1 for f in cleaned if f["type"] == "List") > 1:
        errors.add("fields", "at most one field can be a List")
    if len(cleaned) > 120:
        errors.add("fields", "at most 120 fields")
    return cleaned


@transaction.atomic
def event_definition_create(
    *, realm, definition_id: str, title: str, description: str = "", fields: Any = None
) -> EventDefinition:
    errors = ErrorCollector()
    if not isinstance(definition_id, str) or not re.fullmatch(r"[a-zA-Z0-9]{1,36}", definition_id):
        errors.add("definitionId", "must be 1..36 letters and digits")
    if not isinstance(title, str) or not title.strip():
        errors.add("title", "is required")
    elif len(title) > 100:
        errors.add("title", "is longer than 100 characters")
    if description and len(description) > 2000:
        errors.add("description", "is longer than 2000 characters")
    clean_fields = _clean_event_fields(fields, errors)
    errors.raise_if_any()
    if EventDefinition.objects.filter(realm=realm, definition_id=definition_id).exists():
        raise ValidationError.single(
            "definitionId", MSG_DUPLICATE_EVENT_DEFINITION.format(definition_id=definition_id), code="conflict"
        )
    definition = EventDefinition.objects.create(
        realm=realm,
        definition_id=definition_id,
        title=title.strip(),
        description=description or "",
        fields=clean_fields,
    )
    outbox_record(realm=realm, entity=OutboxEntity.EVENT_DEFINITION, entity_id=definition_id, op=OutboxOp.CREATE)
    return definition


@transaction.atomic
def event_definition_update(
    *, definition: EventDefinition, title: str, description: str = "", fields: Any = None
) -> EventDefinition:
    """Infobip's update is additive: fields can be added, never removed or retyped."""
    errors = ErrorCollector()
    if not isinstance(title, str) or not title.strip():
        errors.add("title", "is required")
    elif len(title) > 100:
        errors.add("title", "is longer than 100 characters")
    if description and len(description) > 2000:
        errors.add("description", "is longer than 2000 characters")
    clean_fields = _clean_event_fields(fields, errors) if fields is not None else list(definition.fields)
    new_by_name = {f["name"]: f for f in clean_fields}
    for old in definition.fields:
        new = new_by_name.get(old["name"])
        if new is None:
            errors.add("fields", f"field {old['name']!r} cannot be removed")
        elif new["type"] != old["type"]:
            errors.add("fields", f"field {old['name']!r} cannot change its type from {old['type']}")
    errors.raise_if_any()
    locked = EventDefinition.objects.select_for_update().get(pk=definition.pk)
    locked.title, locked.description, locked.fields = title.strip(), description or "", clean_fields
    locked.save()
    outbox_record(
        realm=locked.realm, entity=OutboxEntity.EVENT_DEFINITION, entity_id=locked.definition_id, op=OutboxOp.UPDATE
    )
    return locked


@transaction.atomic
def event_definition_delete(*, definition: EventDefinition) -> None:
    """Only a definition without recorded events can go (Infobip has no delete: it stays there)."""
    if definition.events.exists():
        raise Conflict(f"event definition {definition.definition_id!r} has recorded events", code="in_use")
    definition.delete()


def _check_event_value(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "String":
        return isinstance(value, str)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind in ("Numeric", "Decimal"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "DateTime":
        if not isinstance(value, str):
            return False
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) is not None
        except ValueError:
            # .NET style timestamps carry 7 fractional digits (2019-09-30T16:35:52.3616436+03:00).
            trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
            try:
                return dt.datetime.fromisoformat(trimmed) is not None
            except ValueError:
                return False
    if kind == "List":
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return False


def check_event_properties(definition: EventDefinition, properties: Any) -> dict[str, Any]:
    """Properties must fit the definition: known names, values of the declared types."""
    errors = ErrorCollector()
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise ValidationError.single("properties", "must be an object")
    declared = {f["name"]: f for f in definition.fields}
    for name, value in properties.items():
        field = declared.get(name)
        if field is None:
            errors.add(f"properties.{name}", f"is not a field of event definition {definition.definition_id!r}")
            continue
        if not _check_event_value(field["type"], value):
            errors.add(f"properties.{name}", f"expected {field['type']}, got {validation._type_name(value)}")
            continue
        if field["type"] == "List":
            item_fields = {f["name"]: f["type"] for f in field.get("schema", {}).get("fields", [])}
            for index, item in enumerate(value):
                for key, item_value in item.items():
                    if key not in item_fields or not _check_event_value(item_fields[key], item_value):
                        errors.add(f"properties.{name}[{index}].{key}", "does not fit the list's schema")
    errors.raise_if_any()
    return properties


def person_event_record(
    *,
    person: Person,
    definition_id: str,
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    occurred_time: dt.datetime | None = None,
    source: str = EventSource.API,
) -> tuple[PersonEvent, bool]:
    """Record a custom event for a person. Returns (event, created); a repeated eventId returns the first."""
    realm = person.realm
    definition = EventDefinition.objects.filter(realm=realm, definition_id=definition_id).first()
    if definition is None:
        raise NotFound(f"event definition {definition_id!r} does not exist; create it first", code="unknown_definition")
    if event_id is not None and not (isinstance(event_id, str) and EVENT_ID_RE.match(event_id)):
        raise ValidationError.single("eventId", "must be 1..36 characters of letters, digits, '_' and '-'")
    clean = check_event_properties(definition, properties)
    event_id = event_id or uuid.uuid4().hex
    try:
        with transaction.atomic():
            existing = PersonEvent.objects.filter(realm=realm, event_id=event_id).first()
            if existing:
                return existing, False
            event = PersonEvent.objects.create(
                realm=realm,
                person=person,
                definition=definition,
                event_id=event_id,
                occurred_time=occurred_time or timezone.now(),
                properties=clean,
                source=source,
            )
            outbox_record(realm=realm, entity=OutboxEntity.EVENT, entity_id=event.pk, op=OutboxOp.SEND)
    except IntegrityError:
        # The same eventId was recorded concurrently: that one is the event.
        return PersonEvent.objects.get(realm=realm, event_id=event_id), False
    return event, True
