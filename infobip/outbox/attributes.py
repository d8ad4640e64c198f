"""Pushing custom attribute definitions (create with the exact data type, or delete)."""

from __future__ import annotations

import contextlib
from typing import Any

from infobip.client import (
    AlreadyExists,
    InfobipClient,
    NotFound,
)
from infobip.outbox.work import (
    Context,
    PushRefused,
    Work,
    settle,
)
from people.models import (
    CustomAttributeDefinition,
)


def push_custom_attributes(ctx: Context, works: list[Work]) -> None:
    definitions = {
        d.name: d
        for d in CustomAttributeDefinition.objects.filter(realm=ctx.realm, name__in=[w.entity_id for w in works])
    }
    for work in works:
        definition = definitions.get(work.entity_id)
        if definition is not None:
            settle(work, lambda d=definition, work=work: _custom_attribute_create(ctx, work, d))
        else:
            settle(work, lambda work=work: _custom_attribute_delete(ctx, work))


def _custom_attribute_create(ctx: Context, work: Work, definition: CustomAttributeDefinition) -> None:
    request = f"POST /people/2/customAttributes {definition.name} ({definition.data_type})"
    try:
        ctx.call(work, request, lambda: _create_custom_attribute_exact(ctx.client, definition))
    except AlreadyExists as exc:
        raise PushRefused(
            f"Infobip already has a custom attribute {definition.name!r} of another data type and has no update: "
            f"delete it there or here. ({exc})"
        ) from exc
    ctx.ensured_attributes.add(definition.name)


def _create_custom_attribute_exact(client: InfobipClient, definition: CustomAttributeDefinition) -> Any:
    try:
        return client.create_custom_attribute(
            definition.name, definition.data_type, object_schema=definition.object_schema or None
        )
    except AlreadyExists:
        existing = client.get_custom_attribute(definition.name)
        if existing.get("dataType") not in (None, definition.data_type):
            raise
        return existing


def _custom_attribute_delete(ctx: Context, work: Work) -> None:
    name = work.entity_id
    with contextlib.suppress(NotFound):
        ctx.call(work, f"DELETE /people/2/customAttributes/{name}", lambda: ctx.client.delete_custom_attribute(name))
