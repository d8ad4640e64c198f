"""A person's activity history: one row per change, written by the services in the transaction of the change.

The actor is the context's (core.actors: the staff user of an admin request, the API key of an API request,
the import job or the sync run of a task, else the system); a merge is an action (`merged`, `absorbed`,
`unmerged`) with its record's id in `detail`. Only field names are stored, never values (see
people.models.PersonActivity)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.utils import timezone

from core.actors import Actor, current_actor
from core.bulk import copy_rows
from people.fields import API_NAME
from people.models import PersonActivity

CREATED, UPDATED, DELETED, ERASED = "created", "updated", "deleted", "erased"
MERGED, ABSORBED, UNMERGED, PUSHED = "merged", "absorbed", "unmerged", "pushed again"


def api_field_names(fields: Iterable[str]) -> list[str]:
    """Model or API field names in the API's spelling, sorted and without repeats."""
    return sorted({API_NAME.get(name, name) for name in fields})


def activity_record(
    *,
    realm,
    person_ids: Sequence[int],
    action: str,
    fields: Iterable[str] = (),
    detail: dict | None = None,
    actor: Actor | None = None,
) -> int:
    """Write one history row per person (call inside the change's transaction). Returns how many."""
    if not person_ids:
        return 0
    actor = actor or current_actor()
    names = api_field_names(fields)
    rows = [
        PersonActivity(
            realm_id=realm.pk if hasattr(realm, "pk") else realm,
            person_id=pk,
            actor_kind=actor.kind,
            actor_id=actor.id[:64],
            actor_label=actor.label[:150],
            action=action,
            fields=names,
            detail=detail or {},
        )
        for pk in person_ids
    ]
    PersonActivity.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def activity_record_many(
    *, realm, action: str, items: Iterable[tuple[int, Iterable[str]]], detail: dict | None = None
) -> int:
    """One history row per (person id, fields) item, by COPY (imports and sync pages write thousands)."""
    actor = current_actor()
    now = timezone.now()
    detail_json = json.dumps(detail or {})
    realm_id = realm.pk if hasattr(realm, "pk") else realm
    columns = [
        "realm_id",
        "person_id",
        "created",
        "actor_kind",
        "actor_id",
        "actor_label",
        "action",
        "fields",
        "detail",
    ]
    return copy_rows(
        PersonActivity._meta.db_table,
        columns,
        (
            (realm_id, pk, now, actor.kind, actor.id[:64], actor.label[:150], action,
             json.dumps(api_field_names(fields)), detail_json)
            for pk, fields in items
        ),
    )  # fmt: skip


def person_activity(person_id: int, limit: int = 50) -> list[PersonActivity]:
    """A person's newest history rows (also those of the persons merged into it)."""
    return list(PersonActivity.objects.filter(person_id=person_id).order_by("-created", "-id")[:limit])
