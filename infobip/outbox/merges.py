"""Pushing a merge as update + delete: the absorbed profiles leave Infobip, the survivor is written whole (PUT),
the absorbed persons' events go to the survivor again with their eventIds."""

from __future__ import annotations

import contextlib

from infobip.client import (
    NotFound,
)
from infobip.outbox.events import send_events
from infobip.outbox.payloads import MergeChange
from infobip.outbox.person_plan import (
    PersonPlan,
    body_identifiers,
    carries_any,
    gone_identifiers,
    identifier_candidates,
    identifier_key,
    live_holder,
)
from infobip.outbox.persons import person_create
from infobip.outbox.persons_batch import company_memberships
from infobip.outbox.work import (
    Context,
    Outcome,
    Work,
    settle,
    with_dependencies,
)
from people.models import (
    MergeRecord,
    Person,
    PersonEvent,
)
from people.representation import person_as_infobip


def push_merges(ctx: Context, works: list[Work]) -> None:
    for work in works:
        settle(work, lambda work=work: _merge(ctx, work))


def _merge(ctx: Context, work: Work) -> None:
    change = MergeChange.from_json(work.entries[-1].payload)
    record = MergeRecord.objects.filter(pk=int(work.entity_id)).first() if work.entity_id.isdigit() else None
    if record is not None and record.undone_at is not None:
        work.skip(f"Merge {record.pk} was undone: its push is obsolete (the undo's changes restore the persons).")
        return
    survivor_id = change.survivor or (record.survivor_id if record else None)
    survivor = (
        Person.objects.filter(pk=survivor_id)
        .select_related("company")
        .prefetch_related("tags", "phones", "emails")
        .first()
        if survivor_id
        else None
    )
    if survivor is None:
        return  # the survivor was deleted since: its delete removed it from Infobip
    survivor_infobip = ctx.person_ids.get(survivor.pk) or survivor.infobip_id
    if survivor_infobip and survivor.pk not in ctx.person_ids:
        survivor_infobip = _linked_profile(ctx, work, survivor, change, record, survivor_infobip)
    _delete_absorbed(ctx, work, change, survivor_infobip)
    survivor_infobip = _write_survivor(ctx, work, survivor, survivor_infobip)
    if work.outcome not in (None, Outcome.DONE):
        return
    # 3. Their events, which Infobip dropped with them, go to the survivor again (same eventIds).
    event_ids = [e for a in change.absorbed for e in a.events]
    events = list(PersonEvent.objects.filter(pk__in=event_ids).select_related("definition"))
    send_events(ctx, [(work, event, ("ID", str(survivor_infobip))) for event in events], shared=work)


def _linked_profile(
    ctx: Context, work: Work, survivor: Person, change: MergeChange, record: MergeRecord | None, infobip_id: int
) -> int | None:
    """The survivor's stored Infobip id, if that profile is still ours; else None (the survivor is then created,
    which looks it up by its identifiers first: re-linked or made again). Infobip may have lost the profile and
    given its id to someone else's, and a PUT would overwrite that stranger whole. Ours: the profile carries an
    identifier the survivor has now, had before the merge, or an absorbed person had (the survivor may hold an
    absorbed person's id). A survivor without any identifier cannot be checked and is trusted."""
    ours = {
        identifier_key(t, i)
        for t, i in identifier_candidates(
            survivor.external_id, [e.address for e in survivor.emails.all()], [p.number for p in survivor.phones.all()]
        )
    }
    for absorbed in change.absorbed:
        ours |= {identifier_key(t, i) for t, i in gone_identifiers(absorbed.identifiers)}
    before = (record.snapshots or [{}])[0] if record is not None else {}
    if before:
        external_id = (before.get("attributes") or {}).get("external_id")
        ours |= {
            identifier_key(t, i)
            for t, i in identifier_candidates(external_id, before.get("emails") or (), before.get("phones") or ())
        }
    if not ours:
        return infobip_id
    profile = ctx.call(
        work,
        f"GET /people/2/persons?type=ID&identifier={infobip_id} (the survivor's profile still ours?)",
        lambda: ctx.client.find_person("ID", infobip_id),
    )
    if profile is not None and ours & {identifier_key(t, i) for t, i in body_identifiers(profile)}:
        return infobip_id
    work.clear_infobip_id = True
    return None


def _delete_absorbed(ctx: Context, work: Work, change: MergeChange, survivor_infobip: int | None) -> None:
    """1. The absorbed profiles leave Infobip (their identifiers now belong to the survivor); never the survivor
    nor a profile a live local person holds now."""
    absorbed_rows = {p.pk: p for p in Person.objects.filter(pk__in=[a.id for a in change.absorbed])}
    for absorbed in change.absorbed:
        row = absorbed_rows.get(absorbed.id)
        infobip_id = absorbed.identifiers.infobip_id or (row.infobip_id if row else None)
        identifiers = ([("ID", str(infobip_id))] if infobip_id else []) + gone_identifiers(absorbed.identifiers)
        for type_, identifier in identifiers:
            found = ctx.call(
                work,
                f"GET /people/2/persons?type={type_}&identifier={identifier} (absorbed)",
                lambda type_=type_, identifier=identifier: ctx.client.find_person(type_, identifier),
            )
            if found is None or (survivor_infobip and int(found["id"]) == int(survivor_infobip)):
                continue
            theirs = gone_identifiers(absorbed.identifiers)
            if type_ == "ID" and theirs and not carries_any(found, theirs):
                continue  # Infobip gave the absorbed person's old id to someone else's profile: never deleted
            if live_holder(ctx, found["id"]) is not None:
                continue  # a newer local fact: that profile is a live person's here
            with contextlib.suppress(NotFound):
                ctx.call(
                    work,
                    f"DELETE /people/2/persons?type=ID&identifier={found['id']} (absorbed)",
                    lambda found=found: ctx.client.delete_person("ID", found["id"]),
                )


def _write_survivor(ctx: Context, work: Work, survivor: Person, survivor_infobip: int | None) -> int | None:
    """2. The survivor is exactly our merge result (PUT; created again when Infobip lost it)."""
    body = person_as_infobip(survivor)
    plan = PersonPlan(work, survivor, "create", body=body, full=True, company_join=survivor.company_id is not None)
    if survivor_infobip:
        try:
            replaced = ctx.call(
                work,
                f"PUT /people/2/persons?type=ID&identifier={survivor_infobip} (survivor)",
                lambda: with_dependencies(ctx, work, lambda: ctx.client.replace_person("ID", survivor_infobip, body)),
            )
            work.infobip_id = int(survivor_infobip)
            work.modified_at = (replaced or {}).get("modifiedAt")
            ctx.person_ids[survivor.pk] = work.infobip_id
        except NotFound:
            survivor_infobip = None
    if not survivor_infobip:
        person_create(ctx, plan)
        survivor_infobip = work.infobip_id
    company_memberships(ctx, [plan])
    return survivor_infobip
