"""The import's apply step for one batch: rows folded into target persons (DISCARD or RESOLVE AUTOMATICALLY,
the seed's algorithm), then written through people/bulk.py with one outbox row per created or changed person.
Only a group matching several existing persons goes through ``people.merging.persons_merge``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.functions import Lower
from django.utils import timezone

from companies.models import Company
from companies.services import company_create
from core.actors import Actor, acting_as
from core.errors import DomainError
from imports.grouping import UnionFind, describe_key, key_owners, ranges_text, row_ranges
from imports.models import (
    DuplicateStrategy,
    ImportJob,
    IssueKind,
)
from imports.parsing import row_keys
from infobip.models import OutboxEntity, OutboxOp
from infobip.outbox import outbox_record_many
from infobip.outbox.payloads import PersonChange, Sets
from people import activity, journey
from people import bulk as person_bulk
from people.merging import default_survivor, persons_merge
from people.models import CONTACTS_PER_PERSON_MAX, Origin, Person, SyncStatus
from people.services import tags_get_or_create

ATTRIBUTE_FIELDS = (
    "type", "external_id", "first_name", "middle_name", "last_name", "nick_name", "gender", "birth_date",
    "address", "city",
    "country", "preferred_language",
)  # fmt: skip
NULLABLE = {"external_id", "birth_date"}
COMPANY_LOCK = 81_003  # advisory lock namespace (imports.batches has the others): one company creator per realm
MSG_DUPLICATE_OF = "duplicate of row {first}: shares {key} with row {other}"
MSG_MATCHES_PERSON = "matches existing person {person_id} ({key}); DISCARD does not change existing persons"
MSG_CONTACT_LIMIT = "the person would have more than {limit} {kind}s (rows {rows})"
MSG_MERGE_FAILED = "the persons this row matches ({ids}) could not be merged: {reason}"


@dataclass
class RunContext:
    job: ImportJob
    realm: Any
    discard: bool
    tags: list[str]
    companies: dict[str, int] = field(default_factory=dict)
    # Called with the existing persons the batch matches before it locks any; True when it waited for an
    # earlier batch matching some of them (imports.batches.Lanes.gate): the keys are then looked up again.
    gate: Callable[[set[int]], bool] | None = None

    @classmethod
    def for_job(cls, job: ImportJob) -> RunContext:
        return cls(job=job, realm=job.realm, discard=job.strategy == DuplicateStrategy.DISCARD, tags=list(job.tags))


@dataclass
class Outcome:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("created", "updated", "unchanged", "merged", "discarded", "invalid", "persons_merged"), 0
        )
    )
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, kind, column, reason)

    def issue_rows(self, job_id: int) -> Iterator[tuple]:
        for row, kind, column, reason in self.issues:
            yield (job_id, row, kind, column, "", reason, "[]")


@dataclass(eq=False)  # identity: targets are compared and looked up by object, never by value
class Target:
    """What one person will look like: a new one (person_id None) or an existing one (after merges)."""

    rows: list[tuple[int, dict[str, Any]]]
    person_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    company_id: int | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tag_ids: set[int] = field(default_factory=set)
    new_phones: list[str] = field(default_factory=list)
    new_emails: list[str] = field(default_factory=list)
    new_tags: list[Any] = field(default_factory=list)
    changed_fields: list[str] = field(default_factory=list)
    absorbed: int = 0  # existing persons merged into this one by the import


def apply_batch(context: RunContext, staged: list[tuple[int, int, dict[str, Any]]]) -> Outcome:
    job = context.job
    label = f"Import #{job.pk}" + (f" by {job.started_by}" if job.started_by else "")
    with acting_as(Actor("import", str(job.pk), label)):  # merges and writes of the batch are the job's
        return _apply_batch(context, staged)


def _apply_batch(context: RunContext, staged: list[tuple[int, int, dict[str, Any]]]) -> Outcome:
    outcome = Outcome()
    realm = context.realm
    groups: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for number, grp, data in staged:
        groups.setdefault(grp, []).append((number, data))
    all_keys = {key for rows in groups.values() for _, data in rows for key in row_keys(data)}
    owners = key_owners(realm.pk, all_keys)
    # DISCARD never changes an existing person: nothing to wait for.
    while context.gate and context.gate(set() if context.discard else set(owners.values())):
        owners = key_owners(realm.pk, all_keys)
    if context.discard:
        targets = discard_targets(groups, owners, outcome)
    else:
        targets = resolve_targets(context, groups, owners, outcome)
    if targets:
        write(context, targets, outcome)
    return outcome


def discard_targets(groups, owners, outcome: Outcome) -> list[Target]:
    """DISCARD: the first row of a group becomes a new person unless it matches one; every other row goes."""
    targets = []
    for rows in groups.values():
        first_number = rows[0][0]
        seen: dict[str, int] = {}
        for number, data in rows:
            keys = row_keys(data)
            if number == first_number:
                matched = next((key for key in keys if key in owners), None)
                if matched:
                    outcome.issues.append(
                        (
                            number,
                            IssueKind.DISCARDED,
                            "",
                            MSG_MATCHES_PERSON.format(person_id=owners[matched], key=describe_key(matched)),
                        )
                    )
                    outcome.counts["discarded"] += 1
                else:
                    targets.append(Target(rows=[(number, data)]))
                    outcome.counts["created"] += 1
            else:
                shared = next((key for key in keys if key in seen), keys[0])
                outcome.issues.append(
                    (
                        number,
                        IssueKind.DISCARDED,
                        "",
                        MSG_DUPLICATE_OF.format(
                            first=first_number, key=describe_key(shared), other=seen.get(shared, first_number)
                        ),
                    )
                )
                outcome.counts["discarded"] += 1
            for key in keys:
                seen.setdefault(key, number)
    return targets


def load_contacts(person_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]], dict[int, set[int]]]:
    phones: dict[int, list[str]] = {pid: [] for pid in person_ids}
    emails: dict[int, list[str]] = {pid: [] for pid in person_ids}
    tags: dict[int, set[int]] = {pid: set() for pid in person_ids}
    if not person_ids:
        return phones, emails, tags
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT person_id, number FROM people_personphone WHERE person_id = ANY(%s) ORDER BY id", [person_ids]
        )
        for pid, number in cursor.fetchall():
            phones[pid].append(number)
        cursor.execute(
            "SELECT person_id, address FROM people_personemail WHERE person_id = ANY(%s) ORDER BY id", [person_ids]
        )
        for pid, address in cursor.fetchall():
            emails[pid].append(address)
        cursor.execute("SELECT person_id, tag_id FROM people_person_tags WHERE person_id = ANY(%s)", [person_ids])
        for pid, tag_id in cursor.fetchall():
            tags[pid].add(tag_id)
    return phones, emails, tags


def resolve_targets(context: RunContext, groups, owners, outcome: Outcome) -> list[Target]:
    """RESOLVE AUTOMATICALLY: the seed's algorithm. Rows sharing a phone/email/externalId (a group), and
    groups matching the same existing person, become one person; several matching persons are merged first."""
    # Groups that touch the same person are one component.
    components = UnionFind()
    order = list(groups)
    index_of = {grp: components.add() for grp in order}
    person_first: dict[int, int] = {}
    group_persons: dict[int, set[int]] = {}
    for grp in order:
        persons = {owners[key] for _, data in groups[grp] for key in row_keys(data) if key in owners}
        group_persons[grp] = persons
        for person_id in persons:
            other = person_first.setdefault(person_id, grp)
            if other != grp:
                components.union(index_of[other], index_of[grp])
    merged_rows: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    merged_persons: dict[int, set[int]] = {}
    for grp in order:
        top = order[components.find(index_of[grp])]
        merged_rows.setdefault(top, []).extend(groups[grp])
        merged_persons.setdefault(top, set()).update(group_persons[grp])

    matched = sorted({pid for persons in merged_persons.values() for pid in persons})
    if matched:
        # Lock in id order (as persons_merge does) so concurrent writers wait instead of deadlocking.
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM people_person WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [matched])
    phones, emails, tag_sets = load_contacts(matched)

    targets: list[Target] = []
    survivors: dict[int, Target] = {}
    for top, rows in merged_rows.items():
        rows.sort(key=lambda item: item[0])
        persons = sorted(merged_persons[top])
        numbers = [number for number, _ in rows]
        all_phones = {n for pid in persons for n in phones[pid]} | {n for _, d in rows for n in d.get("p", ())}
        all_emails = {a.lower() for pid in persons for a in emails[pid]}
        all_emails |= {a.lower() for _, d in rows for a in d.get("e", ())}
        overflow = next(
            (kind for kind, values in (("phone", all_phones), ("email", all_emails)) if len(values) > 100), None
        )
        if overflow:
            reason = MSG_CONTACT_LIMIT.format(
                limit=CONTACTS_PER_PERSON_MAX, kind=overflow, rows=ranges_text(row_ranges(numbers))
            )
            invalidate(outcome, numbers, reason)
            continue
        target = Target(rows=rows)
        if persons:
            survivor_id = persons[0]
            if len(persons) > 1:
                try:
                    survivor_id = merge_existing(context, persons)
                except DomainError as exc:
                    reason = MSG_MERGE_FAILED.format(ids=", ".join(map(str, persons)), reason=exc.message)
                    invalidate(outcome, numbers, reason)
                    continue
                outcome.counts["persons_merged"] += len(persons) - 1
                target.absorbed = len(persons) - 1
            target.person_id = survivor_id
            target.phones = [n for pid in persons for n in phones[pid]]
            target.emails = [a for pid in persons for a in emails[pid]]
            target.tag_ids = set().union(*(tag_sets[pid] for pid in persons))
            survivors[survivor_id] = target
        targets.append(target)
        outcome.counts["merged"] += len(rows) - 1
    if survivors:
        load_attributes(survivors)
    return targets


def invalidate(outcome: Outcome, numbers: list[int], reason: str) -> None:
    for number in numbers:
        outcome.issues.append((number, IssueKind.INVALID, "", reason))
    outcome.counts["invalid"] += len(numbers)


def merge_existing(context: RunContext, person_ids: list[int]) -> int:
    """Several existing persons match one group: merge them with the merge service, its default choices."""
    persons = list(Person.objects.filter(pk__in=person_ids))
    survivor = default_survivor(persons)
    others = [p for p in persons if p.pk != survivor.pk]
    persons_merge(
        survivor=survivor,
        others=others,
        actor=f"import #{context.job.pk}",
        source="import",
        max_profiles=len(persons),
    )
    return survivor.pk


def load_attributes(survivors: dict[int, Target]) -> None:
    columns = [*ATTRIBUTE_FIELDS, "custom_attributes", "company_id"]
    for row in Person.objects.filter(pk__in=list(survivors)).values("id", *columns):
        target = survivors[row["id"]]
        target.attributes = {name: row[name] for name in ATTRIBUTE_FIELDS}
        if target.attributes["birth_date"] is not None:
            target.attributes["birth_date"] = target.attributes["birth_date"].isoformat()
        target.custom = dict(row["custom_attributes"] or {})
        target.company_id = row["company_id"]


def company_ids(context: RunContext, names: list[str]) -> dict[str, int]:
    """Company ids by name (any case); a name the realm does not know yet becomes a company, spelled as its
    first row spells it."""
    wanted: dict[str, str] = {}
    for name in names:
        if name.lower() not in context.companies:
            wanted.setdefault(name.lower(), name)
    if wanted:
        _companies_read(context, list(wanted))
        missing = [key for key in wanted if key not in context.companies]
        if missing:
            # Batches applied at once may both meet a new name: the first creates it, the other waits for its
            # commit here and reads it (a transaction lock, held until this batch commits).
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [COMPANY_LOCK, context.realm.pk])
            _companies_read(context, missing)
        for key, name in wanted.items():
            if key not in context.companies:
                context.companies[key] = company_create(realm=context.realm, attributes={"name": name}).pk
    return {name: context.companies[name.lower()] for name in names}


def _companies_read(context: RunContext, keys: list[str]) -> None:
    for pk, name in (
        Company.objects.annotate(lname=Lower("name"))
        .filter(realm=context.realm, lname__in=keys)
        .values_list("pk", "name")
    ):
        context.companies[name.lower()] = pk


def fold(target: Target, tags: dict[str, Any], companies: dict[str, int], extra_tags: list[Any]) -> None:
    """A target's rows, in order, folded into it: later rows win, empty never erases, contacts and tags are
    unioned; an existing person's ``changed_fields`` say what differs from before."""
    before_attributes = dict(target.attributes)
    before_custom = dict(target.custom)
    before_company = target.company_id
    known_phones = set(target.phones)
    known_emails = {a.lower() for a in target.emails}
    for _, data in target.rows:
        target.attributes.update(data.get("a", {}))
        target.custom.update(data.get("c", {}))
        if data.get("co"):
            target.company_id = companies[data["co"]]
        for number in data.get("p", ()):
            if number not in known_phones:
                known_phones.add(number)
                target.new_phones.append(number)
        for address in data.get("e", ()):
            if address.lower() not in known_emails:
                known_emails.add(address.lower())
                target.new_emails.append(address)
        for name in data.get("t", ()):
            tag = tags[name.lower()]
            if tag.pk not in target.tag_ids and tag not in target.new_tags:
                target.new_tags.append(tag)
    for tag in extra_tags:
        if tag.pk not in target.tag_ids and tag not in target.new_tags:
            target.new_tags.append(tag)
    if target.person_id is not None:
        # An existing Customer stays one whatever a row says (people.journey: Lead → Customer is one way).
        before_type = before_attributes.get("type") or ""
        target.attributes["type"] = journey.type_kept(before_type, target.attributes.get("type"))
        target.changed_fields = [
            name for name in ATTRIBUTE_FIELDS if target.attributes.get(name) != before_attributes.get(name)
        ]
        if target.custom != before_custom:
            target.changed_fields.append("custom_attributes")
        if target.company_id != before_company:
            target.changed_fields.append("company")


def write(context: RunContext, targets: list[Target], outcome: Outcome) -> None:
    """Fold the rows into each target (later rows win, empty never erases, contacts and tags unioned), then
    write everything that changed in bulk, with one outbox row per created or changed person."""
    realm, job = context.realm, context.job
    tag_names = {name for t in targets for _, d in t.rows for name in d.get("t", ())} | set(context.tags)
    tags = {tag.name.lower(): tag for tag in tags_get_or_create(realm=realm, names=sorted(tag_names))}
    companies = company_ids(context, [d["co"] for t in targets for _, d in t.rows if d.get("co")])
    extra_tags = [tags[name.lower()] for name in context.tags]

    for target in targets:
        fold(target, tags, companies, extra_tags)

    created = [t for t in targets if t.person_id is None]
    changed = [
        t
        for t in targets
        if t.person_id is not None and (t.absorbed or t.changed_fields or t.new_phones or t.new_emails or t.new_tags)
    ]
    outcome.counts["updated"] += len(changed)
    outcome.counts["unchanged"] += len(targets) - len(created) - len(changed)
    if created or changed:
        # The import's own tag marks the persons it created or changed: a re-run that changes nothing adds none.
        import_tag = tags_get_or_create(realm=realm, names=[job.import_tag])[0] if job.import_tag else None
        if import_tag:
            for target in (*created, *changed):
                if import_tag.pk not in target.tag_ids and import_tag not in target.new_tags:
                    target.new_tags.append(import_tag)
    now = timezone.now()
    if created:
        insert_persons(context, created, now)
        outcome.counts["created"] += 0 if context.discard else len(created)
        outbox_record_many(
            realm=realm, entity=OutboxEntity.PERSON, op=OutboxOp.CREATE, items=[(t.person_id, None) for t in created]
        )
    if changed:
        update_persons(context, changed, now)
        outbox_record_many(
            realm=realm,
            entity=OutboxEntity.PERSON,
            op=OutboxOp.UPDATE,
            items=[
                (
                    t.person_id,
                    PersonChange.build(
                        fields=t.changed_fields,
                        added=Sets.of(phones=t.new_phones, emails=t.new_emails, tags=[x.name for x in t.new_tags]),
                    ).to_json(),
                )
                for t in changed
            ],
        )
    # The history: the actor is the import job (imports.batches runs the batch acting as it).
    activity.activity_record_many(
        realm=realm, action=activity.CREATED, items=[(t.person_id, ()) for t in created], detail={"importJob": job.pk}
    )
    activity.activity_record_many(
        realm=realm,
        action=activity.UPDATED,
        items=[(t.person_id, [*t.changed_fields, *_contact_fields(t)]) for t in changed],
        detail={"importJob": job.pk},
    )
    targets_with_contacts = [*created, *changed]
    person_bulk.contacts_add(
        realm=realm,
        now=now,
        phones=((t.person_id, n) for t in targets_with_contacts for n in t.new_phones),
        emails=((t.person_id, a) for t in targets_with_contacts for a in t.new_emails),
        tags=((t.person_id, tag.pk) for t in targets_with_contacts for tag in t.new_tags),
    )


def _contact_fields(target: Target) -> list[str]:
    return [name for name, new in (("phone", target.new_phones), ("email", target.new_emails),
            ("tags", target.new_tags)) if new]  # fmt: skip


def person_values(target: Target) -> dict[str, Any]:
    values = {}
    for name in ATTRIBUTE_FIELDS:
        value = target.attributes.get(name)
        values[name] = value if value not in ("", None) else (None if name in NULLABLE else "")
    values["type"] = journey.type_for_new(values["type"])
    values["custom_attributes"] = target.custom
    values["company_id"] = target.company_id
    return values


def insert_persons(context: RunContext, created: list[Target], now: dt.datetime) -> None:
    realm = context.realm
    sync_status = SyncStatus.PENDING if realm.cdp_enabled else SyncStatus.LOCAL
    ids = person_bulk.persons_insert(
        realm=realm, rows=[person_values(t) for t in created], now=now, origin=Origin.IMPORT, sync_status=sync_status
    )
    for person_id, target in zip(ids, created, strict=True):
        target.person_id = person_id


UPDATE_FIELDS = (*ATTRIBUTE_FIELDS, "custom_attributes", "company_id")


def update_persons(context: RunContext, changed: list[Target], now: dt.datetime) -> None:
    realm = context.realm
    external_ids = [t.attributes["external_id"] for t in changed if "external_id" in t.changed_fields]
    if external_ids:
        # An alias (absorbed person) may still carry the externalId the file gives its survivor.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE people_person SET external_id = NULL WHERE realm_id = %s AND external_id = ANY(%s) "
                "AND merged_into_id IS NOT NULL",
                [realm.pk, external_ids],
            )
    also: dict[str, Any] = {"modified_from": Origin.IMPORT, "modified": now}
    if realm.cdp_enabled:
        also["sync_status"] = SyncStatus.PENDING
    person_bulk.persons_update(
        rows=[{"id": t.person_id, **person_values(t)} for t in changed], fields=UPDATE_FIELDS, also=also
    )
