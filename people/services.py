"""Every write to persons, their contacts, tags, custom attributes and events.

Each public function is one transaction and records what must reach Infobip in the outbox of the same
transaction. Field errors are keyed by the API's field names (`firstName`, `contactInformation.phone[1]`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import Conflict, ErrorCollector, NotFound, ValidationError
from identities.models import Identity
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record, outbox_supersede
from infobip.outbox.payloads import CompanyMove, PersonChange, PersonGone, Sets
from people import activity, merge_rules, validation
from people.contacts import (  # noqa: F401 (MSG_*: re-exported)
    MSG_EMAIL_TAKEN,
    MSG_EXTERNAL_ID_TAKEN,
    MSG_PHONE_TAKEN,
    MSG_TOO_MANY_CONTACTS,
    _check_contact_limit,
    _check_unique_values_free,
    _clean_channel_profiles,
    _clean_emails,
    _clean_phones,
    _store_channel_profiles,
)
from people.event_services import (  # noqa: F401 (re-exported: callers import them from people.services)
    EVENT_FIELD_NAME_RE,
    EVENT_FIELD_TYPE_CHOICES,
    EVENT_FIELD_TYPES,
    EVENT_ID_RE,
    MSG_DUPLICATE_EVENT_DEFINITION,
    check_event_properties,
    event_definition_create,
    event_definition_delete,
    event_definition_update,
    person_event_record,
)
from people.fields import NULLABLE_ATTRIBUTES, PERSON_ATTRIBUTES
from people.integrity import CONSTRAINT_FIELDS, integrity_error_as_validation  # noqa: F401
from people.models import (
    TAG_NAME_MAX,
    CustomAttributeDefinition,
    DataType,
    Origin,
    Person,
    PersonEmail,
    PersonPhone,
    SyncStatus,
    Tag,
)

UNSET: Any = object()

MSG_DUPLICATE_TAG = "a tag named {name!r} already exists"
MSG_DUPLICATE_DEFINITION = "a custom attribute named {name!r} already exists"
MSG_COMPANY_OTHER_REALM = "company belongs to another realm"
MSG_LAST_CONTACT = (
    "{value} is the person's last phone or email and it has no externalId: Infobip could no longer identify it; "
    "set an externalId or add another contact first"
)


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
    validation.check_tag_count(len(wanted), "tags", errors)
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
    missing = [name for key, name in wanted.items() if key not in existing]
    if missing:
        # Only the transaction whose INSERT wrote a tag tells Infobip: a concurrent one creating the same name
        # waits for it here, inserts nothing and reads that tag.
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO people_tag (realm_id, name, created, modified) "
                "SELECT %s, name, %s, %s FROM unnest(%s::text[]) AS name ON CONFLICT DO NOTHING RETURNING id",
                [realm.pk, now, now, missing],
            )
            inserted = {pk for (pk,) in cursor.fetchall()}
        for tag in Tag.objects.annotate(lname=Lower("name")).filter(
            realm=realm, lname__in=[name.lower() for name in missing]
        ):
            existing.setdefault(tag.name.lower(), tag)
            if tag.pk in inserted:
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
    tag = Tag.objects.select_for_update().filter(pk=tag.pk).first()  # a concurrent delete: one wins, one outbox row
    if tag is None:
        raise NotFound("the tag does not exist (any more)")
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
    definition = CustomAttributeDefinition.objects.select_for_update().filter(pk=definition.pk).first()
    if definition is None:  # a concurrent delete won: one outbox row
        raise NotFound("the custom attribute does not exist (any more)")
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
    clean["type"] = merge_rules.type_for_new(clean.get("type"))
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
            given = [
                f for f, v in clean.items() if v not in (None, "") and (f != "type" or "type" in (attributes or {}))
            ]
            given += [name for name, rows in (("phone", clean_phones), ("email", clean_emails), ("tags", tag_rows),
                      ("customAttributes", person.custom_attributes), ("company", company)) if rows]  # fmt: skip
            activity.activity_record(realm=realm, person_ids=[person.pk], action=activity.CREATED, fields=given)
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
            merge_rules.check_type_change(locked.type, clean.get("type"), errors)
            errors.raise_if_any()
            contacts = _contact_changes(
                locked, replace, phones, emails, add_phones, add_emails, drop_phones, drop_emails, errors
            )
            changed_fields, company_change = _apply_attributes(
                locked, clean, clean_custom, company, replace=replace and custom_attributes is not None
            )
            contacts.write(locked)
            _check_still_identifiable(locked, contacts)
            added_tags, removed_tags = _apply_tags(locked, tags, remove_tags, replace=replace)
            _store_channel_profiles(locked, profiles)
            if changed_fields or contacts or removed_tags or added_tags or profiles:
                locked.modified_from = modified_from
                if realm.cdp_enabled:
                    locked.sync_status = SyncStatus.PENDING
                locked.save()
                touched = [
                    *changed_fields,
                    *(["tags"] if added_tags or removed_tags else []),
                    *(["channels"] if profiles else []),
                ]
                touched += [n for n, v in (("phone", contacts.fresh_phones or contacts.removed_phones),
                            ("email", contacts.new_emails or contacts.removed_emails)) if v]  # fmt: skip
                activity.activity_record(realm=realm, person_ids=[locked.pk], action=activity.UPDATED, fields=touched)
                outbox_record(
                    realm=realm,
                    entity=OutboxEntity.PERSON,
                    entity_id=locked.pk,
                    op=OutboxOp.UPDATE,
                    payload=PersonChange.build(
                        fields=changed_fields,
                        added=Sets.of(phones=contacts.fresh_phones, emails=contacts.new_emails, tags=added_tags),
                        removed=Sets.of(
                            phones=contacts.removed_phones, emails=contacts.removed_emails, tags=removed_tags
                        ),
                        company=company_change,
                    ).to_json(),
                )
    except IntegrityError as exc:
        raise integrity_error_as_validation(exc) from exc
    return locked


@dataclass
class _ContactChanges:
    removed_phones: list[str]
    removed_emails: list[str]
    fresh_phones: list[str]
    new_emails: list[str]

    def __bool__(self) -> bool:
        return bool(self.removed_phones or self.removed_emails or self.fresh_phones or self.new_emails)

    def write(self, person: Person) -> None:
        if self.removed_phones:
            PersonPhone.objects.filter(person=person, number__in=self.removed_phones).delete()
        if self.removed_emails:
            PersonEmail.objects.filter(person=person, address__in=self.removed_emails).delete()
        PersonPhone.objects.bulk_create(
            [PersonPhone(realm=person.realm, person=person, number=n) for n in self.fresh_phones]
        )
        PersonEmail.objects.bulk_create(
            [PersonEmail(realm=person.realm, person=person, address=a) for a in self.new_emails]
        )


def _contact_changes(
    locked, replace, phones, emails, add_phones, add_emails, drop_phones, drop_emails, errors
) -> _ContactChanges:
    """Which phones and emails an update removes and adds (PUT: the given ones replace the current ones)."""
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
    fresh_phones = [n for n in add_phones if n not in current_phones]
    return _ContactChanges(removed_phones, removed_emails, fresh_phones, new_emails)


def _check_still_identifiable(locked: Person, contacts: _ContactChanges) -> None:
    """Removing contacts must leave a person Infobip can find: a phone, an email or an externalId."""
    removed = contacts.removed_phones + contacts.removed_emails
    if not removed or locked.external_id or locked.phones.exists() or locked.emails.exists():
        return
    field = "contactInformation.phone" if contacts.removed_phones else "contactInformation.email"
    raise ValidationError.single(field, MSG_LAST_CONTACT.format(value=removed[-1]), code="last_contact")


def _apply_attributes(locked, clean, clean_custom, company, *, replace: bool) -> tuple[list[str], Any]:
    """Set attributes, custom attributes (``replace``: the given ones replace them) and the company; returns the
    changed field names and the company move (None when the company stays)."""
    changed_fields = [f for f, v in clean.items() if getattr(locked, f) != v]
    for field, value in clean.items():
        setattr(locked, field, value)
    if replace:
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
        # One fact: the identities of the person name the same company (identities sit on the realms floor).
        Identity.objects.filter(person_id=locked.pk).update(company=company)
    return changed_fields, company_change


def _apply_tags(locked, tags, remove_tags, *, replace: bool) -> tuple[list[str], list[str]]:
    """Add the given tags (``replace``: they replace the current ones) and remove ``remove_tags``; returns the
    names added and removed."""
    if tags is None and not remove_tags:
        return [], []
    current = {t.name.lower(): t for t in locked.tags.all()}
    wanted = tags_get_or_create(realm=locked.realm, names=tags or [])
    drop = {str(name).strip().lower() for name in remove_tags}
    if replace and tags is not None:
        drop |= set(current) - {t.name.lower() for t in wanted}
    to_remove = [current[name] for name in drop if name in current]
    to_add = [t for t in wanted if t.name.lower() not in current]
    count_errors = ErrorCollector()  # PATCH appends: the person's total counts against the cap
    validation.check_tag_count(len(current) - len(set(drop) & set(current)) + len(to_add), "tags", count_errors)
    count_errors.raise_if_any()
    if to_remove:
        locked.tags.remove(*to_remove)
    if to_add:
        locked.tags.add(*to_add)
    return [t.name for t in to_add], [t.name for t in to_remove]


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
    activity.activity_record(realm=locked.realm, person_ids=[locked.pk], action=activity.DELETED)
    locked.delete()


# ------------------------------------------------------------------------------------ events by identifier

IDENTIFIER_TYPES = ("EMAIL", "PHONE", "EXTERNAL_ID")
MSG_NO_PERSON = "no person has the {kind} {value!r}; send createPerson: true to create one"


def person_by_identifier(*, realm, identifier_type: str, value: str) -> Person | None:
    """The realm's active person with this email (any case), phone (normalized) or externalId."""
    if identifier_type == "EXTERNAL_ID":
        return Person.objects.filter(realm=realm, external_id=value).active().first()
    errors = ErrorCollector()
    if identifier_type == "PHONE":
        numbers = _clean_phones([value], realm.default_country, errors, field="identifier.value")
        errors.raise_if_any()
        return Person.objects.filter(realm=realm, phones__number=numbers[0]).active().first()
    addresses = _clean_emails([value], errors, field="identifier.value")
    errors.raise_if_any()
    return Person.objects.filter(realm=realm, emails__address__iexact=addresses[0]).active().first()


@transaction.atomic
def person_event_record_by_identifier(
    *, realm, identifier_type: str, value: str, definition_id: str, create_person: bool = False, **event: Any
) -> tuple[Any, bool, Person, bool]:
    """Infobip's send-event with `createPerson`: the person found by one identifier gets the event; none found
    is a NotFound, or with `create_person` a new Customer holding that identifier (created with the event, or
    not at all). Returns (event, event created, person, person created)."""
    if identifier_type not in IDENTIFIER_TYPES:
        raise ValidationError.single("identifier.type", f"must be one of {', '.join(IDENTIFIER_TYPES)}")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single("identifier.value", "is required")
    person = person_by_identifier(realm=realm, identifier_type=identifier_type, value=value)
    created = person is None
    if created:
        kind = identifier_type.lower().replace("_", " ")
        if not create_person:
            raise NotFound(MSG_NO_PERSON.format(kind=kind, value=value[:80]), code="person_not_found")
        person = person_create(
            realm=realm,
            attributes={"type": "CUSTOMER", **({"external_id": value} if identifier_type == "EXTERNAL_ID" else {})},
            phones=[value] if identifier_type == "PHONE" else (),
            emails=[value] if identifier_type == "EMAIL" else (),
        )
    recorded, event_created = person_event_record(person=person, definition_id=definition_id, **event)
    return recorded, event_created, person, created
