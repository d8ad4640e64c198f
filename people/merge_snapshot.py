"""What a merge records of every profile (snapshots: plain JSON, for the audit trail and for undo) and the
single-valued attributes a merge chooses between."""

from __future__ import annotations

from typing import Any

from identities.models import Identity
from people.fields import API_NAME
from people.merge_rules import is_empty as _empty
from people.models import (
    ChannelProfile,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
)

# Single-valued attributes a merge chooses between (model field names); `company` is a link chosen the same way.
MERGE_FIELDS = (
    "type", "external_id", "first_name", "middle_name", "last_name", "nick_name", "gender", "birth_date",
    "address", "city",
    "country", "preferred_language", "profile_picture", "company_id",
)  # fmt: skip
FIELD_LABELS = {name: API_NAME.get(name, "company" if name == "company_id" else name) for name in MERGE_FIELDS}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def person_snapshot(person: Person) -> dict[str, Any]:
    """Everything a profile holds, as plain JSON: for the audit trail and for undo.

    Two snapshots of the same person are equal exactly when undo would have nothing to restore.
    """
    phones = list(PersonPhone.objects.filter(person=person).order_by("id").values_list("id", "number"))
    emails = list(PersonEmail.objects.filter(person=person).order_by("id").values_list("id", "address"))
    return {
        "id": person.pk,
        "created": person.created.isoformat(),
        "modified": person.modified.isoformat(),
        "attributes": {name: _plain(name, getattr(person, name)) for name in MERGE_FIELDS},
        "origin": person.origin,
        "modified_from": person.modified_from,
        "custom_attributes": dict(person.custom_attributes),
        "infobip_id": person.infobip_id,
        "sync": {
            "status": person.sync_status,
            "error": person.sync_error,
            "synced_at": _iso(person.synced_at),
            "infobip_modified_at": _iso(person.infobip_modified_at),
        },
        "merged_into": person.merged_into_id,
        "phones": [number for _, number in phones],
        "phone_ids": [pk for pk, _ in phones],
        "emails": [address for _, address in emails],
        "email_ids": [pk for pk, _ in emails],
        "tags": sorted(person.tags.values_list("name", flat=True)),
        "channel_profiles": [
            {
                "id": c.pk,
                "channel": c.channel,
                "application_id": c.application_id,
                "identifier": c.identifier,
                "data": c.data,
                "created": c.created.isoformat(),
            }
            for c in ChannelProfile.objects.filter(person=person).order_by("id")
        ],
        "events": list(PersonEvent.objects.filter(person=person).order_by("id").values_list("id", flat=True)),
        "identities": list(Identity.objects.filter(person=person).order_by("id").values_list("id", flat=True)),
        "aliases": list(Person.objects.filter(merged_into=person).order_by("id").values_list("id", flat=True)),
    }


def _plain(name: str, value: Any) -> Any:
    """A model value as stored in snapshots and results (dates as ISO strings, empties as None)."""
    if _empty(value):
        return None
    if name == "birth_date":
        return value.isoformat() if hasattr(value, "isoformat") else value
    return value
