"""Pushing persons: the plans of a round go deletes, updates, creates (batch where enough, single calls for the
rest), then company memberships and the events of restored persons."""

from __future__ import annotations

import contextlib
from typing import Any

from infobip.client import (
    AlreadyExists,
    FoundExisting,
    NotFound,
    ServerError,
    Timeout,
    Unreachable,
)
from infobip.models import OutboxOp
from infobip.outbox.events import send_events
from infobip.outbox.payloads import PersonCreate
from infobip.outbox.person_links import verify_links
from infobip.outbox.person_plan import (
    Collections,
    PersonPlan,
    body_identifiers,
    carries_any,
    delete_query,
    gone_identifiers,
    live_holder,
    merges_pending_by_survivor,
    needs_collections,
    note_person_id,
    person_query,
    plan_person,
)
from infobip.outbox.persons_batch import (
    company_memberships,
    persons_batch_create,
    persons_batch_delete,
    persons_batch_untag,
    persons_batch_update,
)
from infobip.outbox.work import (
    Context,
    Outcome,
    PushRefused,
    Work,
    settle,
    with_dependencies,
)
from people.models import (
    CustomAttributeDefinition,
    Person,
    PersonEvent,
)
from people.representation import person_as_infobip


def push_persons(ctx: Context, works: list[Work]) -> None:
    # A merge survivor's own changes wait for the merge's push, which writes the survivor whole (and creates it if
    # Infobip has no profile yet): sent side by side by two workers, both would create or re-link it, and the one
    # recorded last could leave the survivor linked to a profile the other had deleted.
    merging = merges_pending_by_survivor(ctx)
    for work in works:
        merge = merging.get(int(work.entity_id)) if work.entity_id.isdigit() else None
        if merge is not None and OutboxOp.DELETE not in work.ops:
            work.defer(f"This person survived merge {merge}: its change waits for that merge's push.")
    works = [w for w in works if not w.decided]
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    persons = {p.pk: p for p in Person.objects.filter(realm=ctx.realm, pk__in=ids).select_related("company")}
    collections = Collections.load(
        [
            int(w.entity_id)
            for w in works
            if w.entity_id.isdigit() and needs_collections(w, persons.get(int(w.entity_id)))
        ]
    )
    defined = set(CustomAttributeDefinition.objects.filter(realm=ctx.realm).values_list("name", flat=True))
    plans = [
        plan_person(w, persons.get(int(w.entity_id)) if w.entity_id.isdigit() else None, defined, collections)
        for w in works
    ]
    creates, updates, deletes = [], [], []
    for plan in plans:
        if plan.action == "nothing":
            plan.work.done()  # the person is gone and left nothing for Infobip to forget
        elif plan.action == "merged":
            plan.work.skip(f"Merged into person {plan.person.merged_into_id}; the merge's push covers it.")
        elif plan.action == "create":
            creates.append(plan)
        elif plan.action == "update":
            updates.append(plan)
        else:
            deletes.append(plan)

    # Deletes, then updates, then creates: what frees an identifier (a deleted person, a removed email after a
    # merge is undone) goes before what takes it, or Infobip would still see it taken.
    findable = [p for p in deletes if delete_query(p.gone)]
    if ctx.batching(len(findable)):
        persons_batch_delete(ctx, findable)
    for plan in deletes:
        if not plan.work.decided:
            settle(plan.work, lambda plan=plan: _person_delete(ctx, plan))
    updates = [p for p in updates if not p.work.decided]
    recreate = verify_links(ctx, updates)  # a stored id Infobip gave to someone else is not PATCHed
    updates = [p for p in updates if p not in recreate]
    creates += recreate
    untag = [p for p in updates if p.remove_tags and not (p.remove_phones or p.remove_emails)]
    if ctx.batching(len(untag)):
        persons_batch_untag(ctx, untag)
    simple = [p for p in updates if p.simple_update and p.body and not p.work.decided]
    if ctx.batching(len(simple)):
        persons_batch_update(ctx, simple)
    for plan in updates:
        _person_single_unless_decided(ctx, plan)
    safe_creates = [p for p in creates if body_identifiers(p.body)]
    if ctx.batching(len(safe_creates)):
        persons_batch_create(ctx, safe_creates)
    for plan in creates:
        _person_single_unless_decided(ctx, plan)
    company_memberships(ctx, [p for p in creates + updates if p.work.outcome in (None, Outcome.DONE)])
    _events_of_restored_persons(ctx, [p for p in creates + updates if p.work.outcome in (None, Outcome.DONE)])


def _person_single_unless_decided(ctx: Context, plan: PersonPlan) -> None:
    if not plan.work.decided:
        settle(plan.work, lambda: _person_single(ctx, plan))
    if plan.work.outcome not in (None, Outcome.DONE):
        ctx.failed_persons.add(plan.person.pk)


def _events_of_restored_persons(ctx: Context, plans: list[PersonPlan]) -> None:
    """A person (re)created with events of its own (``payload.events``: undoing a merge gives an absorbed
    person its events back) gets them sent to its Infobip profile, with their eventIds, after the create."""
    for plan in plans:
        event_ids = [
            i for e in plan.work.entries if e.op == OutboxOp.CREATE for i in PersonCreate.from_json(e.payload).events
        ]
        infobip_id = ctx.person_ids.get(plan.person.pk) or plan.person.infobip_id
        if not event_ids or not infobip_id:
            continue
        events = PersonEvent.objects.filter(pk__in=event_ids, person=plan.person).select_related("definition")
        outcome = plan.work.outcome
        plan.work.outcome = None  # let the shared sends fail the work; restore "done" after
        send_events(ctx, [(plan.work, event, ("ID", str(infobip_id))) for event in events], shared=plan.work)
        if plan.work.outcome is None:
            plan.work.outcome = outcome


def _person_single(ctx: Context, plan: PersonPlan) -> None:
    person = plan.person
    infobip_id = ctx.person_ids.get(person.pk) or (None if plan.work.clear_infobip_id else person.infobip_id)
    if plan.action == "create" or infobip_id is None:
        person_create(ctx, plan)
        return
    try:
        _person_update_calls(ctx, plan, infobip_id)
    except NotFound:
        # Someone deleted the person in Infobip: make it again with everything we have.
        plan.work.clear_infobip_id = True
        ctx.person_ids.pop(person.pk, None)
        plan.body, plan.full = person_as_infobip(person), True
        plan.company_join = person.company_id is not None
        person_create(ctx, plan)


def _person_update_calls(ctx: Context, plan: PersonPlan, infobip_id: int) -> None:
    client, query, work = ctx.client, person_query(infobip_id), plan.work
    if plan.body:
        updated = ctx.call(
            work,
            f"PATCH /people/2/persons?type=ID&identifier={infobip_id} {sorted(plan.body)}",
            lambda: with_dependencies(ctx, work, lambda: client.update_person("ID", infobip_id, plan.body)),
        )
        if isinstance(updated, dict):
            work.modified_at = updated.get("modifiedAt")
    if plan.remove_phones or plan.remove_emails:
        contacts = {
            "phone": [{"number": p} for p in plan.remove_phones],
            "email": [{"address": e} for e in plan.remove_emails],
        }
        ctx.call(
            work,
            f"DELETE /people/2/persons/contactInformation?type=ID&identifier={infobip_id}",
            lambda: client.remove_contact_information("ID", infobip_id, contacts),
        )
    for tag in plan.remove_tags:
        # NotFound: the tag itself is gone in Infobip, and so is its membership.
        with contextlib.suppress(NotFound):
            ctx.call(work, f"DELETE /people/2/tags/{tag}/persons", lambda tag=tag: client.untag_persons(tag, [query]))
    work.infobip_id = infobip_id
    ctx.person_ids[plan.person.pk] = infobip_id


def person_create(ctx: Context, plan: PersonPlan) -> None:
    person, work, client = plan.person, plan.work, ctx.client
    body = plan.body if plan.full else person_as_infobip(person)
    identifiers = body_identifiers(body)
    if not identifiers:
        # Nothing to look the person up by after an ambiguous failure: send once, never blindly again.
        try:
            created = ctx.call(
                work,
                "POST /people/2/persons (no externalId, email or phone)",
                lambda: with_dependencies(
                    ctx, work, lambda: client._request("POST", "/people/2/persons", json_body=body, retries=0)
                ),
            )
        except (ServerError, Timeout, Unreachable) as exc:
            raise PushRefused(
                f"Creating this person failed ambiguously ({exc}) and it has no externalId, email or phone to "
                "check whether Infobip made it: look for it in Infobip (and link it), then retry."
            ) from exc
        note_person_id(ctx, plan, created["id"], modified_at=created.get("modifiedAt"), owner=None)
        return
    try:
        created = ctx.call(
            work,
            f"POST /people/2/persons {identifiers[0][0]}={identifiers[0][1]}",
            lambda: with_dependencies(ctx, work, lambda: client.create_person(body)),
        )
    except AlreadyExists:
        existing = find_by_identifiers(ctx, work, identifiers)
        if existing is None:
            raise
        _adopt(ctx, plan, existing["id"], body)
        return
    if isinstance(created, FoundExisting):
        # The create failed transiently and the client's look-up found a profile with our identifier: ours, made
        # before a response was lost, or one that was there already (an absorbed person's profile a merge undo
        # brings back). Only in the first case does it hold our state, so it is written onto it either way.
        _adopt(ctx, plan, created["id"], body)
        return
    note_person_id(ctx, plan, created["id"], modified_at=created.get("modifiedAt"))


def _adopt(ctx: Context, plan: PersonPlan, infobip_id: int, body: dict[str, Any]) -> None:
    """Link the plan's person to the Infobip profile holding its identifier and PATCH our whole state onto it."""
    work, client = plan.work, ctx.client
    note_person_id(ctx, plan, infobip_id)  # refuses a profile another local person holds
    updated = ctx.call(
        work,
        f"PATCH /people/2/persons?type=ID&identifier={infobip_id} (adopt)",
        lambda: with_dependencies(ctx, work, lambda: client.update_person("ID", infobip_id, body)),
    )
    work.modified_at = (updated or {}).get("modifiedAt")


def find_by_identifiers(ctx: Context, work: Work, identifiers: list[tuple[str, str]]) -> dict[str, Any] | None:
    for type_, identifier in identifiers:
        found = ctx.call(
            work,
            f"GET /people/2/persons?type={type_}&identifier={identifier}",
            lambda type_=type_, identifier=identifier: ctx.client.find_person(type_, identifier),
        )
        if found is not None:
            return found
    return None


def _person_delete(ctx: Context, plan: PersonPlan) -> None:
    gone, work = plan.gone, plan.work
    infobip_id = gone.infobip_id
    identifiers = gone_identifiers(gone)
    if infobip_id and _spared(work, ctx, infobip_id):
        return
    if infobip_id and identifiers:
        # Is the profile by our stored id still this person's? Infobip may have lost it and given the id to
        # someone else's profile: that one is never deleted; ours, if Infobip has it, is found by its identifiers.
        profile = ctx.call(
            work,
            f"GET /people/2/persons?type=ID&identifier={infobip_id} (still ours?)",
            lambda: ctx.client.find_person("ID", infobip_id),
        )
        if profile is None or not carries_any(profile, identifiers):
            infobip_id = None
    if not infobip_id:
        # Never confirmed in Infobip, but a create may have reached it (a lost response, a killed worker): look.
        found = find_by_identifiers(ctx, work, identifiers)
        if found is None or _spared(work, ctx, found["id"]):
            return
        infobip_id = found["id"]
    with contextlib.suppress(NotFound):
        ctx.call(
            work,
            f"DELETE /people/2/persons?type=ID&identifier={infobip_id}",
            lambda: ctx.client.delete_person("ID", infobip_id),
        )


def _spared(work: Work, ctx: Context, infobip_id: Any) -> bool:
    """A profile a live local person holds now is never deleted (a newer change): the work is skipped."""
    holder = live_holder(ctx, infobip_id)
    if holder is not None:
        work.skip(
            f"Not deleted in Infobip: its profile {infobip_id} belongs to person {holder} here now (a newer change)."
        )
    return holder is not None
