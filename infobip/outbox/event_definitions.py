"""Pushing event definitions (create or update; Infobip has no delete for them)."""

from __future__ import annotations

from infobip.client import (
    AlreadyExists,
    NotFound,
)
from infobip.models import OutboxOp
from infobip.outbox.work import (
    Context,
    Work,
    event_definition_body,
    settle,
)
from people.models import (
    EventDefinition,
)


def push_event_definitions(ctx: Context, works: list[Work]) -> None:
    definitions = {
        d.definition_id: d
        for d in EventDefinition.objects.filter(realm=ctx.realm, definition_id__in=[w.entity_id for w in works])
    }
    for work in works:
        definition = definitions.get(work.entity_id)
        if definition is None:
            work.done()  # Infobip has no delete for definitions: the one there stays
            continue
        settle(work, lambda d=definition, work=work: _event_definition_push(ctx, work, d))


def _event_definition_push(ctx: Context, work: Work, definition: EventDefinition) -> None:
    body = event_definition_body(definition)
    changes = {k: v for k, v in body.items() if k != "definitionId"}
    path = f"/peopleevents/2/definitions/{definition.definition_id}"
    if OutboxOp.CREATE in work.ops:
        try:
            ctx.call(
                work,
                f"POST /peopleevents/2/definitions {definition.definition_id}",
                lambda: ctx.client.create_event_definition(body),
                ok_status=201,
            )
            ctx.ensured_definitions.add(definition.definition_id)
            return
        except AlreadyExists:
            pass
    try:
        ctx.call(work, f"POST {path}", lambda: ctx.client.update_event_definition(definition.definition_id, changes))
    except NotFound:
        ctx.call(
            work, "POST /peopleevents/2/definitions", lambda: ctx.client.create_event_definition(body), ok_status=201
        )
    ctx.ensured_definitions.add(definition.definition_id)
