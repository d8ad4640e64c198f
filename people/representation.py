"""Persons rendered the way Infobip renders them (IamPersonV2): used by the API and by the push to Infobip."""

from __future__ import annotations

from typing import Any

from people.models import Person

INFOBIP_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def infobip_time(value) -> str | None:
    return value.strftime(INFOBIP_TIME_FORMAT) if value else None


def person_contact_information(person: Person) -> dict[str, Any]:
    """Phones and emails, then read-only channel profiles grouped by channel (uses prefetched rows)."""
    info: dict[str, Any] = {
        "phone": [{"number": p.number} for p in person.phones.all()],
        "email": [{"address": e.address} for e in person.emails.all()],
    }
    for profile in person.channel_profiles.all():
        info.setdefault(profile.channel, []).append(profile.data)
    return info


def person_standard_attributes(person: Person) -> dict[str, Any]:
    return {
        "externalId": person.external_id,
        "type": person.type,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "middleName": person.middle_name,
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
    data["tags"] = sorted(tag.name for tag in person.tags.all())
    data["customAttributes"] = dict(person.custom_attributes)
    data["contactInformation"] = {
        "phone": [{"number": p.number} for p in person.phones.all()],
        "email": [{"address": e.address} for e in person.emails.all()],
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
        "tags": sorted(tag.name for tag in person.tags.all()),
        "customAttributes": dict(person.custom_attributes),
        "contactInformation": person_contact_information(person),
        "company": str(person.company_id) if person.company_id else None,
        "infobipId": person.infobip_id,
        "syncStatus": person.sync_status,
        "syncError": person.sync_error or None,
    }


PERSON_PREFETCH = ("tags", "phones", "emails", "channel_profiles")


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
    """How the event names its person to Infobip: email, phone, externalId, else the id (uses prefetches)."""
    emails = list(person.emails.all())
    if emails:
        return emails[0].address, "EMAIL"
    phones = list(person.phones.all())
    if phones:
        return phones[0].number, "PHONE"
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
