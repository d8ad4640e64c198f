"""Merging person profiles, with Infobip's own merge rules as the defaults (CONTRACT-NOTES §15):

1. the earliest created profile survives (staff may pick another);
2. empty attributes of the survivor are filled from the others;
3. a single-valued conflict goes to the Customer's value when Customer and Lead disagree, otherwise to the
   most recently modified profile;
4. phones, emails, tags (and channel profiles) are combined.

Unlike Infobip we keep events and channel profiles: they move to the survivor. Absorbed persons stay as
aliases (`merged_into`), so their ids, externalIds and Infobip ids still lead to the survivor, and a
`MergeRecord` keeps a full snapshot of every profile for audit and undo.

Undo: people/merge_undo.py (re-exported here).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import Conflict, ValidationError
from identities.models import Identity
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record
from infobip.outbox.payloads import Absorbed, MergeChange, PersonGone
from people import activity
from people.merge_rules import is_empty as _empty
from people.merge_rules import merged_type
from people.merge_rules import profile_rank as _rank
from people.merge_snapshot import (  # noqa: F401 (FIELD_LABELS, MERGE_FIELDS, person_snapshot: re-exported)
    FIELD_LABELS,
    MERGE_FIELDS,
    _plain,
    person_snapshot,
)
from people.merge_undo import UndoPlan, merge_undo, merge_undo_check  # noqa: F401 (re-exported: callers import them here)
from people.models import (
    CONTACTS_PER_PERSON_MAX,
    ChannelProfile,
    DuplicateCandidate,
    DuplicateStatus,
    MergeRecord,
    Origin,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
    SyncStatus,
)
from people.representation import person_aggregates

MAX_PROFILES = 10

MSG_NO_CONTACT = "Keep at least one phone or email: a profile needs a way to reach the person."
MSG_TOO_MANY = "Merge at most {limit} profiles at once."
MSG_TOO_FEW = "Choose at least two different profiles to merge."
MSG_ALREADY_MERGED = "Person {pid} was already merged into person {into}."
MSG_OTHER_REALM = "All profiles must belong to the same realm."
MSG_BAD_CHOICE = "{field}: person {pid} is not one of the merged profiles."


@dataclass
class FieldDecision:
    """One single-valued attribute: the candidates (person id → value) and whose value wins."""

    field: str
    values: dict[int, Any]
    chosen: int
    conflict: bool

    @property
    def value(self) -> Any:
        return self.values[self.chosen]


@dataclass
class MergePlan:
    survivor: Person
    others: list[Person]
    fields: list[FieldDecision] = field(default_factory=list)
    custom: list[FieldDecision] = field(default_factory=list)
    phones: dict[str, int] = field(default_factory=dict)  # number → owner id
    emails: dict[str, int] = field(default_factory=dict)  # address → owner id
    tags: dict[str, list[int]] = field(default_factory=dict)  # tag name → holders
    channel_profiles: dict[int, int] = field(default_factory=dict)  # profile id → owner id

    @property
    def profiles(self) -> list[Person]:
        return [self.survivor, *self.others]

    @property
    def conflicts(self) -> list[FieldDecision]:
        return [d for d in (*self.fields, *self.custom) if d.conflict]

    @property
    def single_source(self) -> list[FieldDecision]:
        """Fields set in one profile only: added automatically (the page lists them under "Show more")."""
        return [d for d in (*self.fields, *self.custom) if not d.conflict and d.values]

    def result_attributes(self) -> dict[str, Any]:
        return {d.field: d.value for d in self.fields if d.values}

    def result_custom_attributes(self) -> dict[str, Any]:
        return {d.field: d.value for d in self.custom if d.values}


def default_survivor(persons: list[Person]) -> Person:
    """Infobip's primary profile: the earliest created (ties: the lowest id)."""
    return min(persons, key=lambda p: (p.created, p.pk))


def _decide(name: str, values: dict[int, Any], profiles: list[Person], choice: int | None) -> FieldDecision | None:
    present = {pid: value for pid, value in values.items() if not _empty(value)}
    if not present:
        return None
    distinct = {repr(v) for v in present.values()}
    if choice is not None:
        if choice not in values:
            raise ValidationError.single(name, MSG_BAD_CHOICE.format(field=name, pid=choice))
        return FieldDecision(name, {**present, choice: values[choice]}, choice, len(distinct) > 1)
    if len(distinct) == 1:
        # Only one value anywhere: the survivor keeps it, or gets it from the one profile that has it.
        owner = next(iter(present))
        return FieldDecision(name, present, owner, False)
    winner = max((p for p in profiles if p.pk in present), key=_rank)
    return FieldDecision(name, present, winner.pk, True)


def merge_plan(*, survivor: Person, others: list[Person], choices: dict[str, int] | None = None) -> MergePlan:
    """What a merge would do: per-field decisions (defaults from Infobip's rules, overridden by `choices`,
    field name → person id) and the combined multi-valued data. Reads only."""
    choices = dict(choices or {})
    profiles = [survivor, *others]
    plan = MergePlan(survivor=survivor, others=list(others))
    for name in MERGE_FIELDS:
        values = {p.pk: getattr(p, name) for p in profiles}
        decision = _decide(name, values, profiles, choices.pop(name, None))
        if decision and name == "type":
            # A profile that is a Customer anywhere stays a Customer, whatever is chosen (people.journey).
            kept = functools.reduce(merged_type, values.values())
            if decision.value != kept:
                decision.chosen = next(pid for pid, value in values.items() if value == kept)
        if decision:
            plan.fields.append(decision)
    names = sorted({key for p in profiles for key in p.custom_attributes})
    for name in names:
        values = {p.pk: p.custom_attributes.get(name) for p in profiles}
        decision = _decide(name, values, profiles, choices.pop(f"customAttributes.{name}", None))
        if decision:
            plan.custom.append(decision)
    if choices:
        raise ValidationError({key: ["is not a field that can be chosen"] for key in choices})

    ids = [p.pk for p in profiles]
    order = {pid: i for i, pid in enumerate(ids)}
    for number, owner in sorted(
        PersonPhone.objects.filter(person_id__in=ids).values_list("number", "person_id"), key=lambda r: order[r[1]]
    ):
        plan.phones.setdefault(number, owner)
    for address, owner in sorted(
        PersonEmail.objects.filter(person_id__in=ids).values_list("address", "person_id"), key=lambda r: order[r[1]]
    ):
        if address.lower() not in {a.lower() for a in plan.emails}:
            plan.emails[address] = owner
    for person in profiles:
        for tag in person.tags.all():
            plan.tags.setdefault(tag.name, []).append(person.pk)
    plan.channel_profiles = dict(ChannelProfile.objects.filter(person_id__in=ids).values_list("id", "person_id"))
    return plan


def _lock_profiles(survivor: Person, others: list[Person], max_profiles: int) -> tuple[Person, list[Person]]:
    ids = [survivor.pk, *[o.pk for o in others]]
    if len(set(ids)) != len(ids) or len(ids) < 2:
        raise ValidationError.single("others", MSG_TOO_FEW)
    if len(ids) > max_profiles:
        raise ValidationError.single("others", MSG_TOO_MANY.format(limit=max_profiles))
    # Lock in id order so two overlapping merges can never deadlock: the second waits, then sees the first.
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    missing = [pid for pid in ids if pid not in locked]
    if missing:
        raise Conflict(f"Person {missing[0]} no longer exists.", code="gone")
    for person in locked.values():
        if person.merged_into_id:
            raise Conflict(MSG_ALREADY_MERGED.format(pid=person.pk, into=person.merged_into_id), code="merged")
    if len({p.realm_id for p in locked.values()}) != 1:
        raise ValidationError.single("others", MSG_OTHER_REALM)
    return locked[survivor.pk], [locked[o.pk] for o in others]


def persons_merge(
    *,
    survivor: Person,
    others: list[Person],
    choices: dict[str, int] | None = None,
    keep_phones: list[str] | None = None,
    keep_emails: list[str] | None = None,
    keep_tags: list[str] | None = None,
    keep_channel_profiles: list[int] | None = None,
    actor: str = "",
    source: str = "admin",
    max_profiles: int = MAX_PROFILES,
    dry_run: bool = False,
) -> MergeRecord:
    """Merge `others` into `survivor` in one transaction. `keep_*` = None keeps everything (the default);
    a list keeps only those. Returns the MergeRecord (unsaved, with the would-be result, when dry_run)."""
    with transaction.atomic():
        survivor, others = _lock_profiles(survivor, others, max_profiles)
        plan = merge_plan(survivor=survivor, others=others, choices=choices)
        kept = _kept(plan, keep_phones, keep_emails, keep_tags, keep_channel_profiles)
        record = _merge_record(plan, survivor, others, kept, actor=actor, source=source)
        if dry_run:
            transaction.set_rollback(True)
            return record
        _move_to_survivor(survivor, others, kept)
        _absorb(plan, survivor, others, kept, source=source)
        record.save()
        detail = {"mergeRecord": record.pk}
        activity.activity_record(
            realm=survivor.realm, person_ids=[survivor.pk], action=activity.MERGED,
            fields=[d.field for d in plan.fields], detail={**detail, "absorbed": [p.pk for p in others]},
        )  # fmt: skip
        activity.activity_record(
            realm=survivor.realm, person_ids=[p.pk for p in others], action=activity.ABSORBED,
            detail={**detail, "into": survivor.pk},
        )  # fmt: skip
        outbox_record(
            realm=survivor.realm,
            entity=OutboxEntity.MERGE,
            entity_id=record.pk,
            op=OutboxOp.MERGE,
            payload=MergeChange(
                survivor.pk,
                tuple(
                    Absorbed(
                        s["id"],
                        PersonGone(s["infobip_id"], s["attributes"]["external_id"], s["phones"], s["emails"]),
                        s["events"],
                    )
                    for s in record.snapshots[1:]
                ),
            ).to_json(),
        )
    return record


@dataclass
class _Kept:
    """What the merged profile keeps of the combined phones, emails, tags and channel profiles."""

    phones: list[str]
    emails: list[str]
    tags: list[str]
    channel_ids: list[int]


def _kept(plan: MergePlan, keep_phones, keep_emails, keep_tags, keep_channel_profiles) -> _Kept:
    phones = [n for n in plan.phones if keep_phones is None or n in set(keep_phones)]
    keep_lower = {e.lower() for e in keep_emails} if keep_emails is not None else None
    emails = [a for a in plan.emails if keep_lower is None or a.lower() in keep_lower]
    tags = [t for t in plan.tags if keep_tags is None or t in set(keep_tags)]
    channel_ids = [c for c in plan.channel_profiles if keep_channel_profiles is None or c in set(keep_channel_profiles)]
    if not phones and not emails:
        raise ValidationError.single("contactInformation", MSG_NO_CONTACT)
    if len(phones) > CONTACTS_PER_PERSON_MAX or len(emails) > CONTACTS_PER_PERSON_MAX:
        raise ValidationError.single(
            "contactInformation", f"The merged profile would exceed {CONTACTS_PER_PERSON_MAX} phones or emails."
        )
    return _Kept(phones, emails, tags, channel_ids)


def _merge_record(plan: MergePlan, survivor: Person, others: list[Person], kept: _Kept, *, actor, source):
    """The (unsaved) record: choices, every profile's snapshot, the result."""
    record = MergeRecord(
        realm=survivor.realm,
        survivor=survivor,
        absorbed_ids=[p.pk for p in others],
        actor=actor,
        source=source,
        choices={
            "fields": {d.field: d.chosen for d in plan.fields},
            "customAttributes": {d.field: d.chosen for d in plan.custom},
            "phones": kept.phones,
            "emails": kept.emails,
            "tags": kept.tags,
            "channelProfiles": kept.channel_ids,
        },
        snapshots=[person_snapshot(p) for p in plan.profiles],
    )
    record.result = {
        "attributes": {k: _plain(k, v) for k, v in plan.result_attributes().items()},
        "custom_attributes": plan.result_custom_attributes(),
        "phones": kept.phones,
        "emails": kept.emails,
        "tags": sorted(kept.tags),
        "channel_profiles": sorted(kept.channel_ids),
    }
    return record


def _move_to_survivor(survivor: Person, others: list[Person], kept: _Kept) -> None:
    """Contacts and channel profiles kept end up on the survivor (the rest are dropped); events, identities and
    earlier aliases follow; suggestions about the absorbed persons are settled."""
    other_ids = [o.pk for o in others]
    all_ids = [survivor.pk, *other_ids]
    PersonPhone.objects.filter(person_id__in=all_ids).exclude(number__in=kept.phones).delete()
    PersonPhone.objects.filter(person_id__in=other_ids).update(person=survivor)
    PersonEmail.objects.filter(person_id__in=all_ids).annotate(laddress=Lower("address")).exclude(
        laddress__in=[e.lower() for e in kept.emails]
    ).delete()
    PersonEmail.objects.filter(person_id__in=other_ids).update(person=survivor)
    ChannelProfile.objects.filter(person_id__in=all_ids).exclude(pk__in=kept.channel_ids).delete()
    ChannelProfile.objects.filter(person_id__in=other_ids).update(person=survivor)
    PersonEvent.objects.filter(person_id__in=other_ids).update(person=survivor)
    Identity.objects.filter(person_id__in=other_ids).update(person=survivor, modified=timezone.now())
    # Earlier aliases of the absorbed persons now lead to the survivor directly.
    Person.objects.filter(merged_into_id__in=other_ids).update(merged_into=survivor)
    # Suggestions about the absorbed persons are settled: an alias is never suggested.
    DuplicateCandidate.objects.filter(
        Q(person_a_id__in=other_ids) | Q(person_b_id__in=other_ids), status=DuplicateStatus.OPEN
    ).update(status=DuplicateStatus.MERGED, modified=timezone.now())


def _absorb(plan: MergePlan, survivor: Person, others: list[Person], kept: _Kept, *, source: str) -> None:
    """The others become aliases of the survivor; the survivor gets the merge result."""
    attributes = plan.result_attributes()
    tag_objects = {t.name: t for p in plan.profiles for t in p.tags.all()}
    taken_external_id = attributes.get("external_id")
    for other in others:
        other.tags.clear()
        other.merged_into = survivor
        if taken_external_id and other.external_id == taken_external_id:
            other.external_id = None  # the survivor carries it now; both resolve to the survivor
        other.sync_status = SyncStatus.LOCAL
        other.save(update_fields=["merged_into", "external_id", "sync_status", "modified"])
    for name, value in attributes.items():
        setattr(survivor, name, value)
    for name in MERGE_FIELDS:
        if name not in attributes:
            setattr(survivor, name, None if name in ("external_id", "birth_date", "company_id") else "")
    survivor.custom_attributes = plan.result_custom_attributes()
    survivor.modified_from = Origin.PORTAL if source == "admin" else Origin.API
    if survivor.realm.cdp_enabled:
        survivor.sync_status = SyncStatus.PENDING
    survivor.save()
    survivor.tags.set([tag_objects[name] for name in kept.tags])


def persons_merge_preview(**merge_args: Any) -> tuple[MergeRecord, Person]:
    """What `persons_merge(**merge_args)` would make of the survivor, changing nothing: the merge runs in a
    transaction that is rolled back, after the survivor (with its tags and contacts: representation's
    aggregates) has been read. Returns the record (unsaved: no pk) and that survivor."""
    with transaction.atomic():
        record = persons_merge(**{**merge_args, "dry_run": False})
        survivor = Person.objects.annotate(**person_aggregates()).get(pk=record.survivor_id)
        transaction.set_rollback(True)
    record.pk = None
    return record, survivor


# ---------------------------------------------------------------------------------------------------- undo
