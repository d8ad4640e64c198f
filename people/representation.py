"""Persons rendered the way Infobip renders them (IamPersonV2): used by the API and by the push to Infobip.

This module is the one place that shapes a person. Its multi-valued parts (tags, phones, emails, channel
profiles) come from one of two sources, with the same result:

* columns of the query that selected the person (`person_aggregates()`: one array subquery each, so a page
  of persons or an identity with its person is one query), the API's read paths;
* the related managers (prefetched or not), every other caller.

A page of the persons list is rendered by PostgreSQL itself (`persons_json`), with the same output.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, OuterRef
from django.db.models.functions import JSONObject

from people.models import ChannelProfile, Person, PersonEmail, PersonPhone, Tag

INFOBIP_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def infobip_time(value) -> str | None:
    return value.strftime(INFOBIP_TIME_FORMAT) if value else None


AGGREGATES = ("agg_tags", "agg_phones", "agg_emails", "agg_channel_profiles")
PERSON_ATTNAMES = [field.attname for field in Person._meta.concrete_fields]


def person_aggregates(person_ref: str = "pk", prefix: str = "") -> dict[str, Expression]:
    """Annotations that carry a person's tags, phones, emails and channel profiles in the query selecting it.

    `person_ref` names the person's id in the outer query (`pk` for persons, `person_id` for identities);
    `prefix` keeps the names apart when the person is a related row (see `adopt_aggregates`).
    """
    ref = OuterRef(person_ref)
    channel_profiles = (
        ChannelProfile.objects.filter(person_id=ref)
        .order_by("channel", "id")
        .values(item=JSONObject(channel="channel", data="data"))
    )
    return {
        f"{prefix}agg_tags": ArraySubquery(
            Tag.persons.through.objects.filter(person_id=ref).order_by().values("tag__name")
        ),
        f"{prefix}agg_phones": ArraySubquery(PersonPhone.objects.filter(person_id=ref).order_by("id").values("number")),
        f"{prefix}agg_emails": ArraySubquery(
            PersonEmail.objects.filter(person_id=ref).order_by("id").values("address")
        ),
        f"{prefix}agg_channel_profiles": ArraySubquery(channel_profiles),
    }


def adopt_aggregates(person: Person, source: Any, prefix: str) -> Person:
    """Move `person_aggregates(prefix=...)` annotations of a related row (`source`) onto its person."""
    for name in AGGREGATES:
        setattr(person, name, getattr(source, prefix + name))
    return person


def person_tag_names(person: Person) -> list[str]:
    names = getattr(person, "agg_tags", None)
    return sorted(names) if names is not None else sorted(tag.name for tag in person.tags.all())


def person_phone_numbers(person: Person) -> list[str]:
    numbers = getattr(person, "agg_phones", None)
    return numbers if numbers is not None else [p.number for p in person.phones.all()]


def person_email_addresses(person: Person) -> list[str]:
    addresses = getattr(person, "agg_emails", None)
    return addresses if addresses is not None else [e.address for e in person.emails.all()]


def person_contact_information(person: Person) -> dict[str, Any]:
    """Phones and emails, then read-only channel profiles grouped by channel."""
    info: dict[str, Any] = {
        "phone": [{"number": number} for number in person_phone_numbers(person)],
        "email": [{"address": address} for address in person_email_addresses(person)],
    }
    profiles = getattr(person, "agg_channel_profiles", None)
    if profiles is None:
        profiles = [{"channel": p.channel, "data": p.data} for p in person.channel_profiles.all()]
    for profile in profiles:
        info.setdefault(profile["channel"], []).append(profile["data"])
    return info


def person_standard_attributes(person: Person) -> dict[str, Any]:
    return {
        "externalId": person.external_id,
        "type": person.type,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "middleName": person.middle_name,
        "nickName": person.nick_name,
        "gender": person.gender or None,
        "birthDate": person.birth_date.isoformat() if person.birth_date else None,
        "address": person.address,
        "city": person.city,
        "country": person.country,
        "preferredLanguage": person.preferred_language or None,
        "profilePicture": person.profile_picture,
    }


def person_as_infobip(person: Person) -> dict[str, Any]:
    """The writable part, as sent to Infobip's People API (no read-only fields)."""
    data = {key: value for key, value in person_standard_attributes(person).items() if value not in (None, "")}
    data["type"] = person.type
    data["tags"] = person_tag_names(person)
    data["customAttributes"] = dict(person.custom_attributes)
    data["contactInformation"] = {
        "phone": [{"number": number} for number in person_phone_numbers(person)],
        "email": [{"address": address} for address in person_email_addresses(person)],
    }
    return data


def person_as_dict(person: Person) -> dict[str, Any]:
    """The full person of our API: Infobip's shape plus our id, Infobip id and sync state."""
    return {
        "id": person.pk,
        "createdAt": infobip_time(person.created),
        "modifiedAt": infobip_time(person.modified),
        **person_standard_attributes(person),
        "origin": person.origin,
        "modifiedFrom": person.modified_from,
        "tags": person_tag_names(person),
        "customAttributes": dict(person.custom_attributes),
        "contactInformation": person_contact_information(person),
        "company": str(person.company_id) if person.company_id else None,
        "infobipId": person.infobip_id,
        "syncStatus": person.sync_status,
        "syncError": person.sync_error or None,
    }


PERSON_PREFETCH = ("tags", "phones", "emails", "channel_profiles")  # for callers without the aggregates


# ------------------------------------------------------------------------------------- the same, in SQL
#
# A page of persons rendered by PostgreSQL: for lists, reading ~30 typed columns per person into Python,
# building model instances and dicts and encoding them again cost several times what the database spends on
# building the JSON text itself. This is `person_as_dict` written in SQL, key for key in the same order
# (json_build_object keeps it), and tests/people/test_representation.py holds the two to the same output for
# every kind of value. Change both or neither.

_PERSON = Person._meta.db_table
_TAG, _LINK = Tag._meta.db_table, Person.tags.through._meta.db_table
_PHONE, _EMAIL, _CHANNEL = PersonPhone._meta.db_table, PersonEmail._meta.db_table, ChannelProfile._meta.db_table
_TIME = """to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')"""

PERSON_JSON_SQL = f"""json_build_object(
    'id', p.id,
    'createdAt', {_TIME.format(column="p.created")},
    'modifiedAt', {_TIME.format(column="p.modified")},
    'externalId', p.external_id,
    'type', p.type,
    'firstName', p.first_name,
    'lastName', p.last_name,
    'middleName', p.middle_name,
    'nickName', p.nick_name,
    'gender', NULLIF(p.gender, ''),
    'birthDate', to_char(p.birth_date, 'YYYY-MM-DD'),
    'address', p.address,
    'city', p.city,
    'country', p.country,
    'preferredLanguage', NULLIF(p.preferred_language, ''),
    'profilePicture', p.profile_picture,
    'origin', p.origin,
    'modifiedFrom', p.modified_from,
    'tags', ARRAY(SELECT t.name FROM {_LINK} pt JOIN {_TAG} t ON t.id = pt.tag_id
                  WHERE pt.person_id = p.id ORDER BY t.name COLLATE "C"),
    'customAttributes', p.custom_attributes,
    'contactInformation', (
        SELECT json_object_agg(c.key, c.items ORDER BY c.rank, c.key) FROM (
            SELECT 'phone' AS key, 0 AS rank, coalesce((
                SELECT json_agg(json_build_object('number', ph.number) ORDER BY ph.id)
                FROM {_PHONE} ph WHERE ph.person_id = p.id), '[]'::json) AS items
            UNION ALL
            SELECT 'email', 1, coalesce((
                SELECT json_agg(json_build_object('address', e.address) ORDER BY e.id)
                FROM {_EMAIL} e WHERE e.person_id = p.id), '[]'::json)
            UNION ALL
            SELECT cp.channel, 2, json_agg(cp.data ORDER BY cp.id)
            FROM {_CHANNEL} cp WHERE cp.person_id = p.id GROUP BY cp.channel
        ) c),
    'company', p.company_id::text,
    'infobipId', p.infobip_id,
    'syncStatus', p.sync_status,
    'syncError', NULLIF(p.sync_error, '')
)"""  # noqa: S608 - only our own table names are formatted in

_PERSONS_JSON = f"""
SELECT coalesce(json_agg({PERSON_JSON_SQL} ORDER BY page.position), '[]')::text
FROM unnest({{ids}}) WITH ORDINALITY AS page(id, position) JOIN {_PERSON} p ON p.id = page.id
"""  # noqa: S608 - only our own table names are formatted in
PERSONS_JSON_SQL = _PERSONS_JSON.format(ids="%s::bigint[]")


def persons_json(ids: list[int], *, using: str = "default") -> str:
    """The persons of `ids`, in that order, as the JSON text of an array of `person_as_dict` objects:
    one query whatever the number, and no row ever decoded in Python."""
    if not ids:
        return "[]"
    with connections[using].cursor() as cursor:
        cursor.execute(PERSONS_JSON_SQL, [list(ids)])
        return cursor.fetchone()[0]


def persons_json_of_query(ids_query, *, using: str = "default") -> str:
    """Like `persons_json` for the ids a one-column queryset selects (in its order: e.g. a filtered, ordered
    and sliced page), in one statement with it."""
    try:
        ids_sql, params = ids_query.query.get_compiler(using).as_sql()
    except EmptyResultSet:  # a filter that can match nothing (e.g. a tag nobody has)
        return "[]"
    ids = f"(SELECT array_agg(q.id) FROM ({ids_sql}) AS q(id))"  # noqa: S608 - SQL compiled by the ORM
    with connections[using].cursor() as cursor:
        cursor.execute(_PERSONS_JSON.format(ids=ids), params)
        return cursor.fetchone()[0]


def tag_as_dict(tag) -> dict[str, Any]:
    return {
        "id": tag.pk,
        "name": tag.name,
        "createdAt": infobip_time(tag.created),
        "modifiedAt": infobip_time(tag.modified),
    }


def custom_attribute_as_dict(definition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "dataType": definition.data_type,
        "objectSchema": dict(definition.object_schema) if definition.object_schema else None,
        "createdAt": infobip_time(definition.created),
        "modifiedAt": infobip_time(definition.modified),
    }


def event_definition_as_dict(definition) -> dict[str, Any]:
    return {
        "definitionId": definition.definition_id,
        "title": definition.title,
        "description": definition.description,
        "fields": list(definition.fields),
        "createdAt": infobip_time(definition.created),
        "modifiedAt": infobip_time(definition.modified),
    }


def person_event_identifier(person: Person) -> tuple[str, str]:
    """How the event names its person to Infobip: email, phone, externalId, else the id."""
    emails = person_email_addresses(person)
    if emails:
        return emails[0], "EMAIL"
    phones = person_phone_numbers(person)
    if phones:
        return phones[0], "PHONE"
    if person.external_id:
        return person.external_id, "EXTERNAL_ID"
    return str(person.infobip_id or person.pk), "ID"


def event_as_dict(event, person: Person) -> dict[str, Any]:
    identifier, identifier_type = person_event_identifier(person)
    return {
        "eventId": event.event_id,
        "definitionId": event.definition.definition_id,
        "personId": identifier,
        "personIdentifierType": identifier_type,
        "occurredTime": event.occurred_time.isoformat(),
        "properties": event.properties,
    }
