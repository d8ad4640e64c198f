"""Batch calls for many persons at once: create (ids through /persons/match), update, untag, delete, and the
company memberships (join / leave, ≤1000 persons per call)."""

from __future__ import annotations

from collections import defaultdict

from companies.models import Company
from infobip.client import (
    InfobipError,
    NotFound,
)
from infobip.outbox.person_plan import (
    PersonPlan,
    body_identifiers,
    delete_query,
    gone_identifiers,
    identifier_key,
    note_person_id,
    person_query,
)
from infobip.outbox.work import (
    Context,
    PushDeferred,
    batch_failed,
    chunks,
)
from people.models import (
    Person,
)

MATCH_BATCH = 1000


def persons_batch_create(ctx: Context, plans: list[PersonPlan]) -> None:
    """POST /persons/batch, then ids through /persons/match; 409 items adopt the person that has the
    identifier, other refusals fall to the single path (which creates missing tags and attributes)."""
    for chunk in chunks(plans, 1000):
        works = [p.work for p in chunk]
        bodies = [p.body for p in chunk]
        try:
            result = ctx.call(
                works,
                f"POST /people/2/persons/batch [{len(chunk)}]",
                lambda bodies=bodies: ctx.client.create_persons(bodies),
            )
        except InfobipError as exc:
            batch_failed(works, exc)  # transient: the round is tried again (a repeat adopts what was made)
            continue
        failed = {r.get("index"): r for r in result.get("results") or []}
        texts = [m.get("message", "") for r in failed.values() for m in r.get("errors") or []]
        retry = [i for i, r in failed.items() if r.get("status") != 409]
        if retry and ctx.ensure_from_texts(works, texts):
            again = [chunk[i] for i in retry]
            try:
                second = ctx.call(
                    [p.work for p in again],
                    f"POST /people/2/persons/batch [{len(again)}] (after creating missing tags/attributes)",
                    lambda again=again: ctx.client.create_persons([p.body for p in again]),
                )
            except InfobipError:
                second = None
            if second is not None:
                still = {again[r.get("index")].work.entity_id for r in second.get("results") or []}
                for i in retry:
                    if chunk[i].work.entity_id not in still:
                        failed.pop(i)
                    else:
                        failed[i] = {"status": 400}
        resolve = [p for i, p in enumerate(chunk) if i not in failed or failed[i].get("status") == 409]
        try:
            found = _match_ids(ctx, resolve)
        except InfobipError as exc:
            batch_failed([p.work for p in resolve], exc)
            continue
        taken = [found[chunk[i].work.entity_id] for i in failed if chunk[i].work.entity_id in found]
        owners = dict(Person.objects.filter(realm=ctx.realm, infobip_id__in=taken).values_list("infobip_id", "pk"))
        adopt = []
        for index, plan in enumerate(chunk):
            if index in failed and failed[index].get("status") != 409:
                continue  # single path
            infobip_id = found.get(plan.work.entity_id)
            if infobip_id is None:
                continue  # single path
            try:
                note_person_id(ctx, plan, infobip_id, owner=owners.get(infobip_id))
            except PushDeferred as exc:
                plan.work.postpone(exc)
                continue
            except InfobipError as exc:  # the look at the holder's profile failed: this person is tried again
                plan.work.fail(exc)
                continue
            if index in failed:
                adopt.append(plan)  # an identifier was taken: ours from a lost attempt or theirs; write our state
            else:
                plan.work.done()
        if adopt:
            persons_batch_update(ctx, adopt, adopt_ids=True)


def _match_ids(ctx: Context, plans: list[PersonPlan]) -> dict[str, int]:
    """Infobip ids of the plans' persons, by externalId, then email, then phone (POST /persons/match).

    First every person's strongest identifier (one call per 1000 persons: what a batch create needs); then, for
    the few not found that way (an identifier that belongs to someone else), all their other identifiers."""
    if not plans:
        return {}

    def key(type_: str, identifier: str) -> tuple[str, str]:
        return (type_, identifier.lower() if type_ == "EMAIL" else identifier)

    wanted = {p.work.entity_id: body_identifiers(p.body) for p in plans}
    works = [p.work for p in plans]
    matched: dict[tuple[str, str], int] = {}
    out: dict[str, int] = {}
    for rest in (False, True):
        queries, seen = [], set()
        for entity_id, identifiers in wanted.items():
            if entity_id in out:
                continue
            for type_, identifier in identifiers[1:] if rest else identifiers[:1]:
                if key(type_, identifier) not in seen:
                    seen.add(key(type_, identifier))
                    queries.append({"type": type_, "identifier": identifier})
        for chunk in chunks(queries, MATCH_BATCH):
            matches = ctx.call(
                works,
                f"POST /people/2/persons/match [{len(chunk)}]",
                lambda chunk=chunk: ctx.client.match_persons(chunk),
            )
            for match in matches:
                matched[key(match.get("type"), str(match.get("identifier")))] = int(match["personId"])
        for entity_id, identifiers in wanted.items():
            found = next((matched[key(t, i)] for t, i in identifiers if key(t, i) in matched), None)
            if found is not None and entity_id not in out:
                out[entity_id] = found
    return out


def persons_batch_untag(ctx: Context, plans: list[PersonPlan]) -> None:
    """Tag removals of many persons: one DELETE /tags/{name}/persons per tag and 1000 persons."""
    by_tag: dict[str, list[PersonPlan]] = defaultdict(list)
    for plan in plans:
        for tag in plan.remove_tags:
            by_tag[tag].append(plan)
    for tag, members in by_tag.items():
        for chunk in chunks(members, 1000):
            queries = [person_query(ctx.person_ids.get(p.person.pk) or p.person.infobip_id) for p in chunk]
            try:
                ctx.call(
                    [p.work for p in chunk],
                    f"DELETE /people/2/tags/{tag}/persons [{len(chunk)}]",
                    lambda tag=tag, queries=queries: ctx.client.untag_persons(tag, queries),
                )
            except NotFound:
                pass  # the tag is gone in Infobip, and so is every membership of it
            except InfobipError as exc:
                for plan in chunk:
                    plan.work.fail(exc)
    for plan in plans:
        if not plan.work.decided:
            plan.remove_tags = []  # done: what is left of the change can go in a batch update


def persons_batch_update(ctx: Context, plans: list[PersonPlan], *, adopt_ids: bool = False) -> None:
    """PATCH /persons/batch for updates that are only field changes and additions; the rest go single."""
    for chunk in chunks(plans, 1000):
        works = [p.work for p in chunk]
        items = []
        for plan in chunk:
            infobip_id = ctx.person_ids.get(plan.person.pk) or plan.person.infobip_id
            items.append({"query": person_query(infobip_id), "update": plan.body})
        try:
            result = ctx.call(
                works,
                f"PATCH /people/2/persons/batch [{len(chunk)}]{' (adopt)' if adopt_ids else ''}",
                lambda items=items: ctx.client.update_persons(items),
            )
        except InfobipError as exc:
            batch_failed(works, exc)  # refused as a whole (not transient): the single path goes one by one
            continue
        failed = {str((r.get("query") or {}).get("identifier")) for r in result.get("results") or []}
        texts = [m.get("message", "") for r in result.get("results") or [] for m in r.get("errors") or []]
        if failed:
            ctx.ensure_from_texts(works, texts)
        for plan, item in zip(chunk, items, strict=True):
            if item["query"]["identifier"] in failed:
                plan.work.outcome = None  # single path
            else:
                plan.work.infobip_id = int(item["query"]["identifier"])
                ctx.person_ids[plan.person.pk] = plan.work.infobip_id
                plan.work.done()


def persons_batch_delete(ctx: Context, plans: list[PersonPlan]) -> None:
    """DELETE /persons/batch by Infobip id; an id a live local person holds now is spared (a newer fact), and a
    person never confirmed in Infobip goes through the single path (look-up first)."""
    by_id = [p for p in plans if p.gone.infobip_id]
    holders = dict(
        Person.objects.filter(
            realm=ctx.realm, infobip_id__in=[p.gone.infobip_id for p in by_id], merged_into__isnull=True
        ).values_list("infobip_id", "pk")
    )
    plans = []
    for plan in by_id:
        holder = holders.get(int(plan.gone.infobip_id))
        if holder is None:
            plans.append(plan)
        else:
            plan.work.skip(
                f"Not deleted in Infobip: its profile {plan.gone.infobip_id} belongs to person {holder} here now "
                "(a newer change)."
            )
    for chunk in chunks(_still_ours(ctx, plans), 1000):
        works = [p.work for p in chunk]
        queries = [delete_query(p.gone) for p in chunk]
        try:
            result = ctx.call(
                works,
                f"DELETE /people/2/persons/batch [{len(chunk)}]",
                lambda queries=queries: ctx.client.delete_persons(queries),
            )
        except InfobipError as exc:
            batch_failed(works, exc)
            continue
        refused = {
            (str((r.get("query") or {}).get("type")), str((r.get("query") or {}).get("identifier")))
            for r in result.get("results") or []
            if "no person matching" not in " ".join(m.get("message", "") for m in r.get("errors") or []).lower()
        }
        for plan, query in zip(chunk, queries, strict=True):
            if (query["type"], query["identifier"]) not in refused:
                plan.work.done()


def _still_ours(ctx: Context, plans: list[PersonPlan]) -> list[PersonPlan]:
    """The delete plans whose stored Infobip id is still their person's profile: one POST /persons/match per 1000
    by each one's strongest identifier must find that id (Infobip may have lost the profile and given the id to
    someone else's). The others are left to the single path, which looks before deleting anything; a person
    without identifiers cannot be checked and is deleted by its id."""
    out = [p for p in plans if not gone_identifiers(p.gone)]
    checkable = [p for p in plans if gone_identifiers(p.gone)]
    for chunk in chunks(checkable, MATCH_BATCH):
        strongest = [gone_identifiers(p.gone)[0] for p in chunk]
        try:
            matches = ctx.call(
                [p.work for p in chunk],
                f"POST /people/2/persons/match [{len(chunk)}] (before deleting by id: still ours?)",
                lambda strongest=strongest: ctx.client.match_persons(
                    [{"type": t, "identifier": i} for t, i in strongest]
                ),
            )
        except InfobipError as exc:
            batch_failed([p.work for p in chunk], exc)  # transient: tried again; else the single path looks
            continue
        matched = {identifier_key(m.get("type"), m.get("identifier")): int(m["personId"]) for m in matches}
        out += [
            plan
            for plan, key in zip(chunk, strongest, strict=True)
            if matched.get(identifier_key(*key)) == int(plan.gone.infobip_id)
        ]
    return out


def company_memberships(ctx: Context, plans: list[PersonPlan]) -> None:
    """Join the current company / leave the old one: one call per company and direction (≤1000 persons)."""
    joins: dict[int, list[PersonPlan]] = defaultdict(list)
    leaves: dict[int, list[PersonPlan]] = defaultdict(list)
    for plan in plans:
        if plan.company_join and plan.person.company_id:
            joins[plan.person.company_id].append(plan)
        if plan.company_leave:
            leaves[plan.company_leave].append(plan)
    if not joins and not leaves:
        return
    companies = {
        c.pk: c
        for c in Company.objects.filter(realm=ctx.realm, pk__in=[*joins, *leaves]).only("pk", "name", "infobip_id")
    }
    for direction, groups in (("join", joins), ("leave", leaves)):
        for company_id, members in groups.items():
            company = companies.get(company_id)
            if company is None:
                continue  # deleted here: its delete removes the memberships in Infobip too
            selector = {"id": ctx.company_ids.get(company_id) or company.infobip_id}
            if not selector["id"]:
                for plan in members:
                    plan.work.fail(PushDeferred(f"Company {company.name!r} is not in Infobip yet."), transient=True)
                continue
            for chunk in chunks(members, 1000):
                queries = [person_query(ctx.person_ids.get(p.person.pk) or p.person.infobip_id) for p in chunk]
                method = (
                    ctx.client.add_persons_to_company if direction == "join" else ctx.client.remove_persons_from_company
                )
                verb = "PATCH" if direction == "join" else "DELETE"
                try:
                    ctx.call(
                        [p.work for p in chunk],
                        f"{verb} /people/2/companies/persons?id={selector['id']} [{len(chunk)}]",
                        lambda method=method, queries=queries, selector=selector: method(queries, **selector),
                    )
                except NotFound as exc:
                    for plan in chunk:
                        plan.work.fail(
                            PushDeferred(f"Company {company.name!r} is not in Infobip: {exc}"), transient=True
                        )
                except InfobipError as exc:
                    for plan in chunk:
                        plan.work.fail(exc)
