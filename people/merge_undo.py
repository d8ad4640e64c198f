"""Undoing a merge: `merge_undo` puts the absorbed persons back exactly as their snapshots say (contacts, tags,
channel profiles, events, identities, aliases, company links); the survivor gets its pre-merge value of anything
still as the merge left it (three-way: snapshot, merge result, now) and keeps what was changed since. It refuses,
naming each reason, when something the absorbed persons held belongs to someone else now, a person is gone, the
survivor was merged again, or the merge was already undone; things deleted since cannot come back (it says so).
The merge's push still undelivered is superseded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from companies.models import Company
from core.errors import Conflict
from identities.models import Identity
from infobip.models import OutboxEntity, OutboxOp, OutboxStatus
from infobip.outbox import outbox_record, outbox_supersede
from infobip.outbox.payloads import PersonChange, PersonCreate, Sets
from people import activity
from people.merge_snapshot import FIELD_LABELS, MERGE_FIELDS, _plain
from people.models import (
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
    Tag,
)

MSG_UNDO_DONE = "Merge #{record} was already undone on {when:%Y-%m-%d %H:%M} by {who}."
MSG_UNDO_SURVIVOR_GONE = "The survivor (person {pid}) was deleted."
MSG_UNDO_SURVIVOR_MERGED = "The survivor (person {pid}) was merged into person {into} since{by}: undo that merge first."
MSG_UNDO_PERSON_GONE = "Person {pid} was deleted."
MSG_UNDO_NOT_ALIAS = "Person {pid} is no longer an alias of person {survivor}."
MSG_UNDO_TAKEN = "{what} now belongs to person {owner}."
MSG_UNDO_TAKEN_BY_SURVIVOR = (
    "{what} was given to the survivor (person {survivor}) after the merge, but person {pid} held it before."
)
MSG_UNDO_BLOCKED = "Merge #{record} cannot be undone: {reasons}"


@dataclass
class UndoPlan:
    """What undoing a merge would do. `blockers` non-empty: it cannot be done (each says why).
    `kept`: survivor values changed since the merge, which stay; `notes`: what was deleted since and cannot
    come back (everything else is restored)."""

    record: MergeRecord
    blockers: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    survivor: Person | None = None
    absorbed: list[Person] = field(default_factory=list)
    # Computed targets (meaningful only without blockers).
    attributes: dict[str, Any] = field(default_factory=dict)
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)  # number → owner
    emails: dict[str, tuple[str, int]] = field(default_factory=dict)  # lower(address) → (address, owner)
    tags: dict[int, list[str]] = field(default_factory=dict)  # owner → tag names (existing tags only)
    channel_profiles: dict[int, tuple[dict[str, Any], int]] = field(default_factory=dict)  # id → (row, owner)
    companies_gone: set[int] = field(default_factory=set)
    survivor_unchanged: bool = True

    @property
    def possible(self) -> bool:
        return not self.blockers


def _three_way(pre: set, res: set, cur: set) -> tuple[set, set]:
    """The survivor's target for a set of items, and the items changed since the merge (which stay as they are).

    An item the survivor has exactly as the merge left it (in the result and still there, or dropped and
    still absent) goes back to its pre-merge state; any other item was changed by someone since: it stays."""
    target, changed = set(), set()
    for item in pre | res | cur:
        if (item in res) == (item in cur):
            if item in pre:
                target.add(item)
        else:
            changed.add(item)
            if item in cur:
                target.add(item)
    return target, changed


@dataclass
class _Scope:
    """What every part of an undo plan reads: the record, its snapshots, the persons of the group still there."""

    plan: UndoPlan
    record: MergeRecord
    snapshots: dict[int, dict[str, Any]]
    before: dict[str, Any]
    sid: int
    group: list[int]
    present: list[int]
    result: dict[str, Any]

    def survivor_set(self, kind: str, pre: set, res: set, cur: set, show=str) -> set:
        target, changed = _three_way(pre, res, cur)
        for item in sorted(changed, key=str):
            state = "added to" if item in cur else "removed from"
            self.plan.kept.append(f"{kind} {show(item)} was {state} person {self.sid} since the merge: it stays so")
        return target


def _undo_plan(record: MergeRecord, *, lock: bool) -> UndoPlan:
    plan = UndoPlan(record=record)
    scope = _undo_scope(plan, record, lock=lock)
    if scope is None:
        return plan
    for part in (
        _plan_attributes, _plan_phones, _plan_emails, _plan_external_ids, _plan_channel_profiles,
        _plan_events_and_identities, _plan_tags, _plan_companies,
    ):  # fmt: skip
        part(scope)
    plan.survivor_unchanged = not plan.kept
    return plan


def _undo_scope(plan: UndoPlan, record: MergeRecord, *, lock: bool) -> _Scope | None:
    """The group's persons (locked when undoing); None with blockers when the undo cannot even be planned."""
    if record.undone_at:
        plan.blockers.append(MSG_UNDO_DONE.format(record=record.pk, when=record.undone_at, who=record.undone_by or "?"))
        return None
    snapshots = {s["id"]: s for s in record.snapshots}
    before = record.snapshots[0]
    sid = before["id"]
    absorbed_ids = [int(pid) for pid in record.absorbed_ids]
    group = [sid, *absorbed_ids]
    persons_qs = Person.objects.filter(pk__in=group).order_by("pk")
    if lock:
        persons_qs = persons_qs.select_for_update()
    persons = {p.pk: p for p in persons_qs}
    survivor = persons.get(sid)
    if survivor is None:
        plan.blockers.append(MSG_UNDO_SURVIVOR_GONE.format(pid=sid))
        return None
    if survivor.merged_into_id:
        later = (
            MergeRecord.objects.filter(realm_id=record.realm_id, absorbed_ids__contains=[sid], undone_at__isnull=True)
            .order_by("-created")
            .values_list("pk", flat=True)
            .first()
        )
        by = f" (merge #{later})" if later else ""
        plan.blockers.append(MSG_UNDO_SURVIVOR_MERGED.format(pid=sid, into=survivor.merged_into_id, by=by))
        return None
    plan.survivor = survivor
    for pid in absorbed_ids:
        person = persons.get(pid)
        if person is None:
            plan.blockers.append(MSG_UNDO_PERSON_GONE.format(pid=pid))
        elif person.merged_into_id != sid:
            plan.blockers.append(MSG_UNDO_NOT_ALIAS.format(pid=pid, survivor=sid))
        else:
            plan.absorbed.append(person)
    present = [p.pk for p in plan.absorbed]
    result = record.result or {}
    return _Scope(plan, record, snapshots, before, sid, group, present, result)


def _plan_attributes(s: _Scope) -> None:
    """Survivor attributes and custom attributes: back to their pre-merge values unless changed since."""
    plan, sid, result, before, survivor = s.plan, s.sid, s.result, s.before, s.plan.survivor
    res_attributes = result.get("attributes", {})
    for name in MERGE_FIELDS:
        current = _plain(name, getattr(survivor, name))
        if current == res_attributes.get(name):
            plan.attributes[name] = before["attributes"].get(name)
        else:
            plan.attributes[name] = current
            plan.kept.append(f"{FIELD_LABELS[name]} of person {sid}: {current!r} (changed since the merge)")
    res_custom, pre_custom = result.get("custom_attributes", {}), before["custom_attributes"]
    for key in sorted({*res_custom, *pre_custom, *survivor.custom_attributes}):
        current = survivor.custom_attributes.get(key)
        if current == res_custom.get(key):
            value = pre_custom.get(key)
        else:
            value = current
            plan.kept.append(f"custom attribute {key} of person {sid}: {current!r} (changed since the merge)")
        if value is not None:
            plan.custom_attributes[key] = value


def _plan_phones(s: _Scope) -> None:
    """Phones: the survivor's by the three-way rule, the absorbed persons' back to them."""
    plan, sid, snapshots, present = s.plan, s.sid, s.snapshots, s.present
    result, before, record, group = s.result, s.before, s.record, s.group
    current_phones = set(PersonPhone.objects.filter(person_id=sid).values_list("number", flat=True))
    for number in s.survivor_set("phone", set(before["phones"]), set(result.get("phones", [])), current_phones):
        plan.phones[number] = sid
    for pid in present:
        for number in snapshots[pid]["phones"]:
            if plan.phones.get(number) == sid:
                plan.blockers.append(MSG_UNDO_TAKEN_BY_SURVIVOR.format(what=f"Phone {number}", survivor=sid, pid=pid))
            plan.phones[number] = pid
    for number, owner in (
        PersonPhone.objects.filter(realm_id=record.realm_id, number__in=list(plan.phones))
        .exclude(person_id__in=group)
        .values_list("number", "person_id")
    ):
        plan.blockers.append(MSG_UNDO_TAKEN.format(what=f"Phone {number}", owner=owner))


def _plan_emails(s: _Scope) -> None:
    """Emails (compared case-insensitively, like their uniqueness)."""
    plan, sid, snapshots, present = s.plan, s.sid, s.snapshots, s.present
    result, before, record, group = s.result, s.before, s.record, s.group
    spelled = {a.lower(): a for a in [*before["emails"], *result.get("emails", [])]}
    current_emails = {a.lower(): a for a in PersonEmail.objects.filter(person_id=sid).values_list("address", flat=True)}
    spelled.update(current_emails)
    for key in s.survivor_set(
        "email",
        {a.lower() for a in before["emails"]},
        {a.lower() for a in result.get("emails", [])},
        set(current_emails),
        show=lambda k: spelled[k],
    ):
        plan.emails[key] = (spelled[key], sid)
    for pid in present:
        for address in snapshots[pid]["emails"]:
            if plan.emails.get(address.lower(), (None, None))[1] == sid:
                plan.blockers.append(MSG_UNDO_TAKEN_BY_SURVIVOR.format(what=f"Email {address}", survivor=sid, pid=pid))
            plan.emails[address.lower()] = (address, pid)
    if plan.emails:
        taken = (
            PersonEmail.objects.annotate(laddress=Lower("address"))
            .filter(realm_id=record.realm_id, laddress__in=list(plan.emails))
            .exclude(person_id__in=group)
        )
        for address, owner in taken.values_list("address", "person_id"):
            plan.blockers.append(MSG_UNDO_TAKEN.format(what=f"Email {address}", owner=owner))


def _plan_external_ids(s: _Scope) -> None:
    """externalIds: each back to its owner, unless someone outside the group holds it now."""
    plan, sid, snapshots = s.plan, s.sid, s.snapshots
    present, record, group = s.present, s.record, s.group
    wanted_external: dict[str, int] = {}
    if plan.attributes.get("external_id"):
        wanted_external[plan.attributes["external_id"]] = sid
    for pid in present:
        value = snapshots[pid]["attributes"].get("external_id")
        if value:
            if wanted_external.get(value) == sid:
                plan.blockers.append(
                    MSG_UNDO_TAKEN_BY_SURVIVOR.format(what=f"externalId {value!r}", survivor=sid, pid=pid)
                )
            wanted_external[value] = pid
    for value, owner in (
        Person.objects.filter(realm_id=record.realm_id, external_id__in=list(wanted_external))
        .exclude(pk__in=group)
        .values_list("external_id", "pk")
    ):
        plan.blockers.append(MSG_UNDO_TAKEN.format(what=f"externalId {value!r}", owner=owner))


def _plan_channel_profiles(s: _Scope) -> None:
    """Channel profiles (preview data): by row id, recreated from the snapshot when deleted."""
    plan, sid, snapshots, present = s.plan, s.sid, s.snapshots, s.present
    result, before, record, group = s.result, s.before, s.record, s.group
    pre_rows = {row["id"]: row for row in before.get("channel_profiles", []) if isinstance(row, dict)}
    current_rows = {
        c.pk: {"id": c.pk, "channel": c.channel, "application_id": c.application_id, "identifier": c.identifier,
               "data": c.data, "created": c.created.isoformat()}
        for c in ChannelProfile.objects.filter(person_id=sid)
    }  # fmt: skip
    target_ids = s.survivor_set(
        "channel profile", set(pre_rows), set(result.get("channel_profiles", [])), set(current_rows),
        show=lambda pk: _channel_label({**pre_rows, **current_rows}[pk]),
    )  # fmt: skip
    for pk in target_ids:
        plan.channel_profiles[pk] = ({**pre_rows, **current_rows}[pk], sid)
    for pid in present:
        for row in snapshots[pid].get("channel_profiles", []):
            if isinstance(row, dict):
                plan.channel_profiles[row["id"]] = (row, pid)
    if plan.channel_profiles:
        keys = Q()
        for row, _ in plan.channel_profiles.values():
            keys |= Q(channel=row["channel"], application_id=row["application_id"], identifier=row["identifier"])
        for profile in ChannelProfile.objects.filter(keys, realm_id=record.realm_id).exclude(person_id__in=group):
            plan.blockers.append(MSG_UNDO_TAKEN.format(what=_channel_label(profile), owner=profile.person_id))


def _plan_events_and_identities(s: _Scope) -> None:
    """Events and identities of the absorbed persons: back from the survivor; deleted ones are noted."""
    plan, sid, snapshots, present = s.plan, s.sid, s.snapshots, s.present
    for pid in present:
        event_ids = snapshots[pid].get("events", [])
        owners = dict(PersonEvent.objects.filter(pk__in=event_ids).values_list("pk", "person_id"))
        gone = len(event_ids) - len(owners)
        if gone:
            plan.notes.append(f"{gone} event(s) of person {pid} were deleted since the merge.")
        for event_id, owner in owners.items():
            if owner not in (sid, pid):
                plan.blockers.append(MSG_UNDO_TAKEN.format(what=f"Event {event_id}", owner=owner))
        identity_ids = snapshots[pid].get("identities", [])
        links = dict(Identity.objects.filter(pk__in=identity_ids).values_list("pk", "person_id"))
        for identity_id in identity_ids:
            if identity_id not in links:
                plan.notes.append(f"Identity {identity_id} of person {pid} was deleted since the merge.")
            elif links[identity_id] not in (sid, pid, None):
                plan.blockers.append(f"Identity {identity_id} is now linked to person {links[identity_id]}.")


def _plan_tags(s: _Scope) -> None:
    """Tags deleted since cannot come back; the rest is restored."""
    plan, sid, snapshots, present = s.plan, s.sid, s.snapshots, s.present
    result, before, record, survivor = s.result, s.before, s.record, s.plan.survivor
    wanted_tags = {sid: [], **{pid: list(snapshots[pid]["tags"]) for pid in present}}
    res_tags = {t.lower() for t in result.get("tags", [])}
    cur_tags = {t.lower(): t for t in survivor.tags.values_list("name", flat=True)}
    spelled_tags = {t.lower(): t for t in [*before["tags"], *result.get("tags", [])]} | cur_tags
    wanted_tags[sid] = [
        spelled_tags[t]
        for t in s.survivor_set("tag", {t.lower() for t in before["tags"]}, res_tags, set(cur_tags), spelled_tags.get)
    ]
    existing_tags = {
        name.lower()
        for name in Tag.objects.filter(realm_id=record.realm_id).values_list("name", flat=True)
        if name.lower() in {t.lower() for names in wanted_tags.values() for t in names}
    }
    for owner, names in wanted_tags.items():
        plan.tags[owner] = [n for n in names if n.lower() in existing_tags]
        for name in names:
            if name.lower() not in existing_tags:
                plan.notes.append(f"Tag {name!r} of person {owner} was deleted since the merge.")


def _plan_companies(s: _Scope) -> None:
    """Companies deleted since: the link cannot come back."""
    plan, snapshots, present = s.plan, s.snapshots, s.present
    company_ids = {plan.attributes.get("company_id")} | {
        snapshots[pid]["attributes"].get("company_id") for pid in present
    }
    company_ids.discard(None)
    plan.companies_gone = company_ids - set(Company.objects.filter(pk__in=company_ids).values_list("pk", flat=True))
    for company_id in sorted(plan.companies_gone):
        plan.notes.append(f"Company {company_id} was deleted since the merge: the link cannot come back.")


def _channel_label(row) -> str:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return f"{get('channel')} profile {get('identifier') or get('application_id')}"


def merge_undo_check(*, record: MergeRecord) -> UndoPlan:
    """What `merge_undo` would do, and what blocks it. Reads only."""
    return _undo_plan(record, lock=False)


def _set_attributes(person: Person, attributes: dict[str, Any], gone_companies: set[int]) -> None:
    for name in MERGE_FIELDS:
        value = attributes.get(name)
        if name == "birth_date":
            value = dt.date.fromisoformat(value) if value else None
        elif name == "company_id" and value in gone_companies:
            value = None
        elif value is None and name not in ("external_id", "company_id"):
            value = ""
        setattr(person, name, value)


def _restore_sync(person: Person, snapshot: dict[str, Any], realm) -> None:
    if realm.cdp_enabled:
        # Infobip merged the profile away: it is created there again and gets a new Infobip id.
        person.infobip_id = None
        person.sync_status = SyncStatus.PENDING
        person.sync_error = ""
        person.synced_at = None
        person.infobip_modified_at = None
        return
    sync = snapshot.get("sync", {})
    person.infobip_id = snapshot.get("infobip_id")
    person.sync_status = sync.get("status", person.sync_status)
    person.sync_error = sync.get("error", "")
    person.synced_at = dt.datetime.fromisoformat(sync["synced_at"]) if sync.get("synced_at") else None
    person.infobip_modified_at = (
        dt.datetime.fromisoformat(sync["infobip_modified_at"]) if sync.get("infobip_modified_at") else None
    )


def merge_undo(*, record: MergeRecord, actor: str = "", source: str = "admin") -> UndoPlan:
    """Undo a merge in one transaction: the absorbed persons come back with their contacts, tags, channel
    profiles, events, identities, aliases and company links as they were; the survivor gets its pre-merge
    values back where nobody changed them since. Raises Conflict (data["blockers"]) when something they held
    was taken since, a person is gone, the survivor was merged again, or the merge was already undone."""
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        plan = _undo_plan(record, lock=True)
        if plan.blockers:
            raise Conflict(
                MSG_UNDO_BLOCKED.format(record=record.pk, reasons=" ".join(plan.blockers)),
                code="undo_blocked",
                data={"blockers": plan.blockers},
            )
        realm = record.realm
        snapshots = {s["id"]: s for s in record.snapshots}
        sid = plan.survivor.pk
        group = [sid, *[p.pk for p in plan.absorbed]]
        now = timezone.now()
        survivor_before = _contact_sets(plan.survivor, plan.survivor.tags.values_list("name", flat=True))

        # Unique values move between the persons of the group: free them first, then hand them out.
        Person.objects.filter(pk__in=group).update(external_id=None)
        _restore_contacts(PersonPhone, "number", {n: (n, o) for n, o in plan.phones.items()}, group, snapshots)
        _restore_contacts(PersonEmail, "address", plan.emails, group, snapshots)
        _restore_channel_profiles(plan, group, realm)
        for person in plan.absorbed:
            _restore_absorbed(plan, person, snapshots[person.pk], realm, now)
        _restore_survivor(plan, record.snapshots[0], realm, source)

        DuplicateCandidate.objects.filter(
            Q(person_a_id__in=group[1:]) | Q(person_b_id__in=group[1:]), status=DuplicateStatus.MERGED
        ).update(status=DuplicateStatus.OPEN, modified=now)
        record.undone_at = now
        record.undone_by = actor
        record.undo_report = {"kept": plan.kept, "notes": plan.notes}
        record.save(update_fields=["undone_at", "undone_by", "undo_report"])
        _record_undo_push(plan, record, snapshots, survivor_before)
        activity.activity_record(
            realm=realm, person_ids=group, action=activity.UNMERGED, detail={"mergeRecord": record.pk}
        )
    return plan


def _contact_sets(person: Person, tags) -> tuple[set[str], set[str], set[str]]:
    return (
        set(PersonPhone.objects.filter(person=person).values_list("number", flat=True)),
        set(PersonEmail.objects.filter(person=person).values_list("address", flat=True)),
        set(tags),
    )


def _restore_absorbed(plan: UndoPlan, person: Person, snap: dict[str, Any], realm, now) -> None:
    """An absorbed person back as its snapshot says: events, identities, aliases, attributes, tags, sync."""
    sid = plan.survivor.pk
    PersonEvent.objects.filter(pk__in=snap.get("events", []), person_id=sid).update(person=person)
    Identity.objects.filter(pk__in=snap.get("identities", []), person_id__in=[sid, None]).update(
        person=person, modified=now
    )
    Person.objects.filter(pk__in=snap.get("aliases", []), merged_into_id=sid).update(merged_into=person)
    _set_attributes(person, snap["attributes"], plan.companies_gone)
    person.custom_attributes = dict(snap["custom_attributes"])
    person.origin = snap.get("origin", person.origin)
    person.modified_from = snap.get("modified_from", person.modified_from)
    person.merged_into = None
    _restore_sync(person, snap, realm)
    person.save()
    person.tags.set(Tag.objects.filter(realm=realm, name__in=plan.tags[person.pk]))
    Person.objects.filter(pk=person.pk).update(modified=dt.datetime.fromisoformat(snap["modified"]))


def _restore_survivor(plan: UndoPlan, before: dict[str, Any], realm, source: str) -> None:
    survivor = plan.survivor
    _set_attributes(survivor, plan.attributes, plan.companies_gone)
    survivor.custom_attributes = plan.custom_attributes
    if plan.survivor_unchanged:
        survivor.modified_from = before.get("modified_from", survivor.modified_from)
        if not realm.cdp_enabled:
            _restore_sync(survivor, before, realm)
    else:
        survivor.modified_from = Origin.PORTAL if source == "admin" else Origin.API
    if realm.cdp_enabled:
        survivor.sync_status = SyncStatus.PENDING
    survivor.save()
    survivor.tags.set(Tag.objects.filter(realm=realm, name__in=plan.tags[survivor.pk]))
    if plan.survivor_unchanged:
        Person.objects.filter(pk=survivor.pk).update(modified=dt.datetime.fromisoformat(before["modified"]))


def _record_undo_push(plan: UndoPlan, record: MergeRecord, snapshots: dict, survivor_before: tuple) -> None:
    """What Infobip must be told: the merge's undelivered push is obsolete, the absorbed persons are created
    again (with their events), the survivor loses what the merge gave it."""
    realm, sid = record.realm, plan.survivor.pk
    outbox_supersede(
        realm=realm,
        entity=OutboxEntity.MERGE,
        entity_ids=[record.pk],
        statuses=(OutboxStatus.PENDING, OutboxStatus.DEAD),
        reason=f"Superseded: merge {record.pk} was undone before it reached Infobip (the undo's changes are sent).",
    )
    for person in plan.absorbed:
        snap = snapshots[person.pk]
        outbox_record(
            realm=realm,
            entity=OutboxEntity.PERSON,
            entity_id=person.pk,
            op=OutboxOp.CREATE,
            payload=PersonCreate(
                events=tuple(snap.get("events", [])),
                reason="merge_undo",
                merge_record=record.pk,
                previous_infobip_id=snap.get("infobip_id"),
            ).to_json(),
        )
    phones_before, emails_before, tags_before = survivor_before
    phones_after, emails_after, tags_after = _contact_sets(plan.survivor, plan.tags[sid])
    merged_attributes = record.result.get("attributes", {})
    outbox_record(
        realm=realm,
        entity=OutboxEntity.PERSON,
        entity_id=sid,
        op=OutboxOp.UPDATE,
        payload=PersonChange.build(
            reason="merge_undo",
            merge_record=record.pk,
            fields=[n for n in MERGE_FIELDS if plan.attributes.get(n) != merged_attributes.get(n)]
            + ["custom_attributes"],
            added=Sets.of(
                phones=sorted(phones_after - phones_before),
                emails=sorted(emails_after - emails_before),
                tags=sorted(tags_after - tags_before),
            ),
            removed=Sets.of(
                phones=sorted(phones_before - phones_after),
                emails=sorted(emails_before - emails_after),
                tags=sorted(tags_before - tags_after),
            ),
        ).to_json(),
    )


def _restore_contacts(model, column: str, wanted: dict[str, tuple[str, int]], group: list[int], snapshots) -> None:
    """Give every wanted contact (key → (value, owner)) to its owner: move the row when one of the group holds it,
    create it (with its old row id when known) when it was dropped; rows nobody wants any more go."""
    ids_key, values_key = ("phone_ids", "phones") if column == "number" else ("email_ids", "emails")
    old_ids = {}
    for snap in snapshots.values():
        for pk, value in zip(snap.get(ids_key, []), snap.get(values_key, []), strict=False):
            old_ids[value.lower()] = pk
    rows = {getattr(r, column).lower(): r for r in model.objects.filter(person_id__in=group)}
    for key, row in rows.items():
        if key not in wanted:
            row.delete()
    for key, (value, owner) in wanted.items():
        row = rows.get(key)
        if row is None:
            pk = old_ids.get(key)
            if pk is not None and model.objects.filter(pk=pk).exists():
                pk = None
            realm_id = Person.objects.filter(pk=owner).values_list("realm_id", flat=True).get()
            model.objects.create(pk=pk, realm_id=realm_id, person_id=owner, **{column: value})
        elif row.person_id != owner:
            model.objects.filter(pk=row.pk).update(person_id=owner)


def _restore_channel_profiles(plan: UndoPlan, group: list[int], realm) -> None:
    rows = {c.pk: c for c in ChannelProfile.objects.filter(person_id__in=group)}
    by_key = {(c.channel, c.application_id, c.identifier): c for c in rows.values()}
    wanted_rows = set()
    for pk, (row, owner) in plan.channel_profiles.items():
        existing = rows.get(pk) or by_key.get((row["channel"], row["application_id"], row["identifier"]))
        if existing is None:
            taken_id = ChannelProfile.objects.filter(pk=pk).exists()
            existing = ChannelProfile.objects.create(
                pk=None if taken_id else pk,
                realm=realm,
                person_id=owner,
                channel=row["channel"],
                application_id=row["application_id"],
                identifier=row["identifier"],
                data=row["data"],
            )
            if row.get("created"):
                ChannelProfile.objects.filter(pk=existing.pk).update(created=dt.datetime.fromisoformat(row["created"]))
        elif existing.person_id != owner:
            ChannelProfile.objects.filter(pk=existing.pk).update(person_id=owner)
        wanted_rows.add(existing.pk)
    ChannelProfile.objects.filter(person_id__in=group).exclude(pk__in=wanted_rows).delete()
