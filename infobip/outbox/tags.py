"""Pushing tags: a tag that exists here is created in Infobip, one that does not is deleted there."""

from __future__ import annotations

import contextlib

from django.db.models.functions import Lower

from infobip.client import (
    AlreadyExists,
    NotFound,
)
from infobip.outbox.work import (
    Context,
    Work,
    settle,
)
from people.models import (
    Tag,
)


def push_tags(ctx: Context, works: list[Work]) -> None:
    names = [w.entity_id for w in works]
    existing = set(
        Tag.objects.filter(realm=ctx.realm)
        .annotate(lname=Lower("name"))
        .filter(lname__in=[n.lower() for n in names])
        .values_list("lname", flat=True)
    )
    for work in works:
        name = work.entity_id
        if name.lower() in existing:
            settle(work, lambda name=name, work=work: _tag_create(ctx, work, name))
        else:
            settle(work, lambda name=name, work=work: _tag_delete(ctx, work, name))


def _tag_create(ctx: Context, work: Work, name: str) -> None:
    with contextlib.suppress(AlreadyExists):
        ctx.call(work, f"POST /people/2/tags {name}", lambda: ctx.client.create_tag(name))
    ctx.ensured_tags.add(name)


def _tag_delete(ctx: Context, work: Work, name: str) -> None:
    with contextlib.suppress(NotFound):
        ctx.call(work, f"DELETE /people/2/tags/{name}", lambda: ctx.client.delete_tag(name))
