"""Before a PATCH by a stored Infobip id: is that profile still ours? Infobip may have lost it and handed the id to
someone else's profile (an account restored, the sandbox reset), and a PATCH by that id would overwrite that
person. Invariant: an update is sent by id only to a profile found by our own identifiers or carrying them."""

from __future__ import annotations

from infobip.client import InfobipError
from infobip.models import OutboxEntity, OutboxEntry, OutboxStatus
from infobip.outbox.payloads import MergeChange
from infobip.outbox.person_plan import (
    PersonPlan,
    body_identifiers,
    identifier_candidates,
    identifier_key,
    note_person_id,
)
from infobip.outbox.work import Context, PushDeferred, batch_failed, chunks
from people.models import PersonEmail, PersonPhone
from people.representation import person_as_infobip

MATCH_BATCH = 1000


def _known_identifiers(plans: list[PersonPlan]) -> dict[int, list[tuple[str, str]]]:
    """Each person's identifiers Infobip should already know: all it has here, less what this change adds."""
    pks = [p.person.pk for p in plans]
    emails: dict[int, list[str]] = {}
    phones: dict[int, list[str]] = {}
    for pk, address in PersonEmail.objects.filter(person_id__in=pks).order_by("id").values_list("person_id", "address"):
        emails.setdefault(pk, []).append(address)
    for pk, number in PersonPhone.objects.filter(person_id__in=pks).order_by("id").values_list("person_id", "number"):
        phones.setdefault(pk, []).append(number)
    out = {}
    for plan in plans:
        person = plan.person
        mine = identifier_candidates(person.external_id, emails.get(person.pk, ()), phones.get(person.pk, ()))
        added = {identifier_key(t, i) for t, i in body_identifiers(plan.body)}
        out[person.pk] = [(t, i) for t, i in mine if identifier_key(t, i) not in added]
    return out


def verify_links(ctx: Context, plans: list[PersonPlan]) -> list[PersonPlan]:
    """Check the stored links of incremental update plans; returns the plans that must become creates (the profile
    by our id is gone or someone else's, and our identifiers find none). One POST /persons/match per 1000 persons;
    a GET of the stored id only for a person its identifiers do not find. A full push (a link the sync just made,
    a restored person) writes all our identifiers onto the linked profile and is not checked."""
    plans = [p for p in plans if not p.full and not p.work.decided]
    merging = _survivors_of_pending_merges(ctx, plans)
    plans = [p for p in plans if p.person.pk not in merging]
    known = _known_identifiers(plans)
    checked = [p for p in plans if known[p.person.pk]]
    matched: dict[tuple[str, str], int] = {}
    for chunk in chunks(checked, MATCH_BATCH):
        queries = [{"type": known[p.person.pk][0][0], "identifier": known[p.person.pk][0][1]} for p in chunk]
        try:
            matches = ctx.call(
                [p.work for p in chunk],
                f"POST /people/2/persons/match [{len(chunk)}] (are our Infobip ids still ours?)",
                lambda queries=queries: ctx.client.match_persons(queries),
            )
        except InfobipError as exc:
            if not batch_failed([p.work for p in chunk], exc):
                raise
            continue
        for match in matches:
            matched[identifier_key(match.get("type"), match.get("identifier"))] = int(match["personId"])
    recreate = []
    for plan in checked:
        if plan.work.decided:
            continue
        stored = plan.person.infobip_id
        found = matched.get(identifier_key(*known[plan.person.pk][0]))
        if found == stored:
            continue
        try:
            if found is None and _profile_is_ours(ctx, plan, stored, known[plan.person.pk]):
                continue
        except InfobipError as exc:
            plan.work.fail(exc)
            continue
        # Our profile is not the one by our id: become the one our identifiers find, or a new one.
        plan.body, plan.full = person_as_infobip(plan.person), True
        plan.company_join = plan.person.company_id is not None
        if found is None:
            plan.action, plan.work.clear_infobip_id = "create", True
            recreate.append(plan)
            continue
        try:
            note_person_id(ctx, plan, found)
        except PushDeferred as exc:
            plan.work.postpone(exc)
    return recreate


def _survivors_of_pending_merges(ctx: Context, plans: list[PersonPlan]) -> set[int]:
    """A merge's survivor may hold an absorbed person's Infobip id (the profile the merge's push makes the
    survivor's): until that push is done, the id is ahead of Infobip, not stale."""
    if not plans:
        return set()
    rows = OutboxEntry.objects.filter(
        realm=ctx.realm, entity=OutboxEntity.MERGE, status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]
    ).values_list("payload", flat=True)
    return {MergeChange.from_json(payload).survivor for payload in rows}


def _profile_is_ours(ctx: Context, plan: PersonPlan, infobip_id: int, mine: list[tuple[str, str]]) -> bool:
    profile = ctx.call(
        plan.work,
        f"GET /people/2/persons?type=ID&identifier={infobip_id} (still ours?)",
        lambda: ctx.client.find_person("ID", infobip_id),
    )
    if profile is None:
        return False
    return bool({identifier_key(t, i) for t, i in mine} & {identifier_key(t, i) for t, i in body_identifiers(profile)})
