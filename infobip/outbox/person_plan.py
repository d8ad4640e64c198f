"""Planning a person's push: the outbox rows of one person become one change (create, update with added and
removed contacts and tags, delete), computed from the person's current state and what only the payloads know."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from infobip.outbox.payloads import MergeChange, PersonChange, PersonGone
from infobip.outbox.work import (
    Context,
    PushDeferred,
    PushWaiting,
    Work,
)
from people.fields import API_NAME
from people.models import (
    Person,
    PersonEmail,
    PersonPhone,
)
from people.representation import person_standard_attributes


def person_query(infobip_id: int) -> dict[str, Any]:
    return {"type": "ID", "identifier": str(infobip_id)}


def identifier_candidates(external_id: str | None, emails: Iterable[str], phones: Iterable[str]) -> list[tuple]:
    out: list[tuple[str, str]] = []
    if external_id:
        out.append(("EXTERNAL_ID", external_id))
    out += [("EMAIL", e) for e in emails if e]
    out += [("PHONE", p) for p in phones if p]
    return out


def identifier_key(type_: str, identifier: Any) -> tuple[str, str]:
    """How two identifiers are compared: emails without case, the rest as they are."""
    return (type_, str(identifier).lower() if type_ == "EMAIL" else str(identifier))


def body_identifiers(body: dict[str, Any]) -> list[tuple[str, str]]:
    contacts = body.get("contactInformation") or {}
    return identifier_candidates(
        body.get("externalId"),
        [e.get("address") for e in contacts.get("email") or ()],
        [p.get("number") for p in contacts.get("phone") or ()],
    )


class _OrderedSet:
    def __init__(self, key: Callable[[str], str] = lambda v: v) -> None:
        self.key = key
        self.items: dict[str, str] = {}

    def add(self, value: str) -> None:
        self.items.setdefault(self.key(value), value)

    def discard(self, value: str) -> None:
        self.items.pop(self.key(value), None)

    def __iter__(self):
        return iter(list(self.items.values()))


@dataclass(eq=False)  # plans are compared by identity: field-wise equality of bodies would be slow and wrong
class PersonPlan:
    work: Work
    person: Person | None
    action: str  # "create" | "update" | "delete" | "nothing"
    body: dict[str, Any] = field(default_factory=dict)
    full: bool = False
    remove_phones: list[str] = field(default_factory=list)
    remove_emails: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    company_leave: int | None = None  # local company id the person left
    company_join: bool = False  # (re)join the person's current company
    gone: PersonGone = field(default_factory=PersonGone)  # a delete: how Infobip finds the person

    @property
    def simple_update(self) -> bool:
        return self.action == "update" and not (self.remove_phones or self.remove_emails or self.remove_tags)


@dataclass
class Collections:
    """Phones, emails and tag names of the persons a round changes, read with three plain queries."""

    phones: dict[int, list[str]] = field(default_factory=dict)
    emails: dict[int, list[str]] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, person_ids: list[int]) -> Collections:
        out = cls()
        if not person_ids:
            return out
        for pk, number in (
            PersonPhone.objects.filter(person_id__in=person_ids).order_by("id").values_list("person_id", "number")
        ):
            out.phones.setdefault(pk, []).append(number)
        for pk, address in (
            PersonEmail.objects.filter(person_id__in=person_ids).order_by("id").values_list("person_id", "address")
        ):
            out.emails.setdefault(pk, []).append(address)
        for pk, name in Person.tags.through.objects.filter(person_id__in=person_ids).values_list(
            "person_id", "tag__name"
        ):
            out.tags.setdefault(pk, []).append(name)
        return out

    def of(self, person: Person) -> tuple[list[str], list[str], list[str]]:
        return self.phones.get(person.pk, []), self.emails.get(person.pk, []), self.tags.get(person.pk, [])

    def body(self, person: Person) -> dict[str, Any]:
        """What ``person_as_infobip`` renders, from these rows."""
        phones, emails, tags = self.of(person)
        data = {key: value for key, value in person_standard_attributes(person).items() if value not in (None, "")}
        data["type"] = person.type
        data["tags"] = sorted(tags)
        data["customAttributes"] = dict(person.custom_attributes)
        data["contactInformation"] = {
            "phone": [{"number": p} for p in phones],
            "email": [{"address": e} for e in emails],
        }
        return data


def plan_person(work: Work, person: Person | None, defined: set[str], collections: Collections) -> PersonPlan:
    ops = work.ops
    if OutboxOp.DELETE in ops:
        delete = next(e for e in reversed(work.entries) if e.op == OutboxOp.DELETE)
        return PersonPlan(work, None, "delete", gone=PersonGone.from_json(delete.payload))
    if person is None:
        return PersonPlan(work, None, "nothing")
    if person.merged_into_id:
        return PersonPlan(work, person, "merged")
    plan = PersonPlan(work, person, "update")
    if person.infobip_id is None or OutboxOp.CREATE in ops:
        plan.action = "create" if person.infobip_id is None else "update"
        plan.full = True
        plan.body = collections.body(person)
        plan.company_join = person.company_id is not None
        return plan
    changes = [PersonChange.from_json(e.payload) for e in work.entries if e.op == OutboxOp.UPDATE]
    fields = {name for change in changes for name in change.fields}
    _plan_fields(plan, person, fields, defined)
    if "company" in fields:
        company_from = next((c.company.from_id for c in changes if c.company is not None), None)
        plan.company_join = person.company_id is not None
        if person.company_id is None and company_from is not None:
            plan.company_leave = company_from
    add, remove = _coalesce_sets(changes)
    if any(list(values) for values in (*add.values(), *remove.values())):
        _plan_sets(plan, person, collections, add, remove)
    # else scalar changes only: the person's contacts and tags are not needed (nor loaded)
    return plan


def _plan_fields(plan: PersonPlan, person: Person, fields: set[str], defined: set[str]) -> None:
    standard = person_standard_attributes(person)
    for name in sorted(fields):
        api = API_NAME.get(name, name)
        if name == "custom_attributes":
            custom = {key: None for key in sorted(defined) if key not in person.custom_attributes}
            custom.update(person.custom_attributes)
            plan.body["customAttributes"] = custom
        elif name == "type":
            plan.body["type"] = person.type
        elif api in standard:
            plan.body[api] = "" if standard[api] is None else standard[api]


def _coalesce_sets(changes: list[PersonChange]) -> tuple[dict[str, _OrderedSet], dict[str, _OrderedSet]]:
    """What the changes add and remove in all, in order: a later removal cancels an earlier addition."""
    add = {"phones": _OrderedSet(), "emails": _OrderedSet(str.lower), "tags": _OrderedSet(str.lower)}
    remove = {"phones": _OrderedSet(), "emails": _OrderedSet(str.lower), "tags": _OrderedSet(str.lower)}
    for change in changes:
        for kind in add:
            for value in getattr(change.added, kind):
                add[kind].add(value)
                remove[kind].discard(value)
            for value in getattr(change.removed, kind):
                remove[kind].add(value)
                add[kind].discard(value)
    return add, remove


def _plan_sets(plan: PersonPlan, person: Person, collections: Collections, add: dict, remove: dict) -> None:
    """Additions still true now go in the PATCH body; removals still true now become removal calls."""
    phones, emails, tags = collections.of(person)
    lower_emails, lower_tags = {e.lower() for e in emails}, {t.lower() for t in tags}
    added_tags = [t for t in add["tags"] if t.lower() in lower_tags]
    added_phones = [p for p in add["phones"] if p in phones]
    added_emails = [e for e in add["emails"] if e.lower() in lower_emails]
    if added_tags:
        plan.body["tags"] = added_tags
    if added_phones or added_emails:
        plan.body["contactInformation"] = {
            "phone": [{"number": p} for p in added_phones],
            "email": [{"address": e} for e in added_emails],
        }
    plan.remove_phones = [p for p in remove["phones"] if p not in phones]
    plan.remove_emails = [e for e in remove["emails"] if e.lower() not in lower_emails]
    plan.remove_tags = [t for t in remove["tags"] if t.lower() not in lower_tags]


def needs_collections(work: Work, person: Person | None) -> bool:
    """Whether planning this person's change reads its phones, emails and tags (a full body or set changes)."""
    if person is None or person.merged_into_id or OutboxOp.DELETE in work.ops:
        return False
    if person.infobip_id is None or OutboxOp.CREATE in work.ops:
        return True
    changes = (PersonChange.from_json(e.payload) for e in work.entries)
    return any(change.added or change.removed for change in changes)


def gone_identifiers(gone: PersonGone) -> list[tuple[str, str]]:
    return identifier_candidates(gone.external_id, gone.emails, gone.phones)


def stale_link(ctx: Context, work: Work, owner: int, infobip_id: int) -> bool:
    """Whether local person ``owner``'s link to Infobip profile ``infobip_id`` is stale: that profile (found by
    or created for another person's identifiers) carries none of the owner's identifiers (Infobip lost the
    owner's profile, e.g. a restored or reset account, and reuses its id)."""
    profile = ctx.call(
        work,
        f"GET /people/2/persons?type=ID&identifier={infobip_id} (whose profile?)",
        lambda: ctx.client.find_person("ID", infobip_id),
    )
    if profile is None:
        return True
    holder = Person.objects.filter(pk=owner).prefetch_related("phones", "emails").first()
    if holder is None:
        return True

    def keys(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(t, i.lower() if t == "EMAIL" else i) for t, i in pairs}

    theirs = identifier_candidates(
        holder.external_id, [e.address for e in holder.emails.all()], [p.number for p in holder.phones.all()]
    )
    return not keys(theirs) & keys(body_identifiers(profile))


def merges_pending_by_survivor(ctx: Context) -> dict[int, str]:
    """Survivor pk -> merge (outbox entity id) of the realm's undelivered merge pushes."""
    rows = OutboxEntry.objects.filter(realm=ctx.realm, entity=OutboxEntity.MERGE, status=OutboxStatus.PENDING)
    return {
        survivor: entity_id
        for entity_id, payload in rows.values_list("entity_id", "payload")
        if (survivor := MergeChange.from_json(payload).survivor) is not None
    }


def _pending_merge_absorbing(ctx: Context, person_pk: int) -> str | None:
    """The merge (outbox entity id) whose undelivered push absorbs ``person_pk``, if that person is merged away."""
    if not Person.objects.filter(pk=person_pk, merged_into__isnull=False).exists():
        return None
    return (
        OutboxEntry.objects.filter(
            realm=ctx.realm,
            entity=OutboxEntity.MERGE,
            status=OutboxStatus.PENDING,
            payload__absorbed__contains=[{"id": person_pk}],
        )
        .values_list("entity_id", flat=True)
        .first()
    )


def carries_any(profile: dict[str, Any], identifiers: list[tuple[str, str]]) -> bool:
    """Whether an Infobip profile carries one of these identifiers (it is that person's profile)."""
    theirs = {identifier_key(t, i) for t, i in body_identifiers(profile)}
    return any(identifier_key(t, i) in theirs for t, i in identifiers)


def live_holder(ctx: Context, infobip_id: Any) -> int | None:
    """The live (not merged away) local person holding this Infobip id now, if any: a delete must spare it."""
    return (
        Person.objects.filter(realm=ctx.realm, infobip_id=int(infobip_id), merged_into__isnull=True)
        .values_list("pk", flat=True)
        .first()
    )


def delete_query(gone: PersonGone) -> dict[str, Any] | None:
    """How to find a deleted person in Infobip: its Infobip id, else the identifier a create would have used."""
    if gone.infobip_id:
        return person_query(gone.infobip_id)
    identifiers = gone_identifiers(gone)
    if not identifiers:
        return None
    return {"type": identifiers[0][0], "identifier": identifiers[0][1]}


def note_person_id(
    ctx: Context, plan: PersonPlan, infobip_id: int, *, modified_at: str | None = None, owner: Any = ...
) -> None:
    """Remember the Infobip id found for the plan's person; refuse one that is another local person's profile.
    ``owner``: the local person already holding that id, when the caller looked it up in bulk (None: nobody);
    a brand-new id needs no look-up (``owner=None``)."""
    infobip_id = int(infobip_id)
    if owner is ...:
        owner = Person.objects.filter(realm=ctx.realm, infobip_id=infobip_id).values_list("pk", flat=True).first()
    if owner is not None and owner != plan.person.pk:
        if stale_link(ctx, plan.work, owner, infobip_id):
            plan.work.unlink.append(owner)  # Infobip forgot that profile and gave its id to ours: relink theirs
        elif (merge := _pending_merge_absorbing(ctx, owner)) is not None:
            raise PushWaiting(
                f"Infobip person {infobip_id} (found by this person's identifiers) is the profile of person {owner}, "
                f"absorbed by merge {merge}: this change waits for that merge's push, which deletes it."
            )
        else:
            # Transient: that person's change releasing the identifier may still be on its way (a merge undone).
            raise PushDeferred(
                f"Infobip person {infobip_id} (found by this person's identifiers) is the Infobip profile of person "
                f"{owner} here: if that does not change by itself, merge the two persons or change what they share."
            )
    plan.work.infobip_id = infobip_id
    plan.work.modified_at = modified_at
    if plan.person.infobip_id != infobip_id:
        plan.work.clear_infobip_id = False
    ctx.person_ids[plan.person.pk] = infobip_id
