"""A sync page's writes to the mirror: new and merged persons (through people/bulk.py), channel profiles, and
the outbox rows for what Infobip must learn (through ``infobip.outbox.outbox_record_many``).

Merging follows ``people.merge_rules`` (Customer beats Lead, empty is filled, newer wins); phones, emails and
tags are unioned. Everything runs inside the page's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models.functions import Lower
from django.utils import timezone

from infobip.models import OutboxEntity, OutboxOp, SyncRun
from infobip.outbox import outbox_record_many
from infobip.outbox.payloads import PersonChange, Sets
from infobip.records import API_FIELD, comparable, parse_infobip_time, record_attributes, record_keys
from infobip.sync.matching import OrphanIndex
from infobip.sync.params import RunParams, empty_counts
from people import activity, merge_rules, validation
from people import bulk as person_bulk
from people.models import Channel, ChannelProfile, Origin, Person, PersonEmail, PersonPhone, SyncStatus, Tag

# Link and sync-state columns a page sets: not a change of the profile in the history.
SYNC_BOOKKEEPING = {"sync_status", "sync_error", "synced_at", "infobip_id", "infobip_modified_at", "modified"}


class MirrorWrites:
    """The mirror's half of a page's work (see ``infobip.sync.page.PageWork``)."""

    def __init__(self, run: SyncRun, params: RunParams, index: OrphanIndex, owner: str) -> None:
        self.run = run
        self.realm = run.realm
        self.params = params
        self.index = index
        self.owner = owner
        self.counts = empty_counts()
        self.errors: list[dict[str, Any]] = []
        self.now = timezone.now()
        self.push: dict[int, dict[str, list[str]]] = {}  # person pk → fields and added contacts/tags to push
        self.persons: dict[int, Person] = {}  # infobip id → mirror person (the page's)
        self.excluded: set[int] = set()  # infobip ids that must not get a new identity
        self.dirty: dict[int, set[str]] = defaultdict(set)  # person pk → fields to save
        self.added: dict[str, list[tuple[int, Any]]] = {"phones": [], "emails": [], "tags": []}  # merged persons'

    def conflict(self, step: str, kind: str, message: str, **data: Any) -> None:
        self.errors.append({"step": step, "kind": kind, "message": message, **data})

    def queue_push(self, person: Person, *, fields: Iterable[str] = (), added: dict[str, list[str]] | None = None):
        """Collect what Infobip must still be told about `person` (recorded as one PersonChange in save())."""
        pending = self.push.setdefault(person.pk, {"fields": [], "phones": [], "emails": [], "tags": []})
        for name in fields:
            if name not in pending["fields"]:
                pending["fields"].append(name)
        for kind, values in (added or {}).items():
            pending[kind] += [v for v in values if v not in pending[kind]]

    def _tags(self, names: set[str]) -> dict[str, Tag]:
        if not names:
            return {}
        lower = {n.lower(): n for n in names}

        def existing() -> dict[str, Tag]:
            rows = Tag.objects.filter(realm=self.realm).annotate(lname=Lower("name")).filter(lname__in=list(lower))
            return {t.name.lower(): t for t in rows}

        found = existing()
        missing = [Tag(realm=self.realm, name=name) for key, name in lower.items() if key not in found]
        if missing:  # they exist in Infobip already: no outbox rows
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            found = existing()
        return found

    # ----------------------------------------------------------------------------- merging one person

    def _merge_attributes(self, person: Person, record: dict[str, Any], infobip_newer: bool) -> tuple[set, list]:
        """Single-valued attributes and custom attributes; returns (changed here, to push back)."""
        values, dropped = record_attributes(record)
        dropped_fields = [API_FIELD.get(d) for d in dropped]
        changed, push_fields = set(), []
        for name, remote in values.items():
            local = getattr(person, name)
            ours, theirs = comparable(name, local), comparable(name, remote)
            if ours == theirs:
                continue
            winner = merge_rules.two_sided_winner(name, ours, theirs, theirs_newer=infobip_newer)
            if name != "type":
                winner = local if winner == ours else remote
            if winner == local:
                if name not in dropped_fields:
                    push_fields.append(name)
                continue
            if (
                name == "external_id"
                and Person.objects.filter(realm=self.realm, external_id=remote).exclude(pk=person.pk).exists()
            ):
                self.conflict(
                    "pull", "external_id_taken", f"externalId {remote!r} of Infobip person {person.infobip_id} "
                    "belongs to another person here.", infobipId=person.infobip_id, person=person.pk,
                )  # fmt: skip
                continue
            setattr(person, name, remote)
            changed.add(name)
        remote_custom = record.get("customAttributes") or {}
        custom = dict(person.custom_attributes)
        custom_push = False
        for key in set(remote_custom) | set(custom):
            if key not in custom:
                custom[key] = remote_custom[key]
            elif key not in remote_custom:
                custom_push = True
            elif custom[key] != remote_custom[key]:
                if infobip_newer:
                    custom[key] = remote_custom[key]
                else:
                    custom_push = True
        if custom != person.custom_attributes:
            person.custom_attributes = custom
            changed.add("custom_attributes")
        if custom_push:
            push_fields.append("custom_attributes")
        return changed, push_fields

    def _merge_contacts(self, person: Person, record: dict[str, Any], tags: dict[str, Tag]) -> tuple[bool, dict]:
        """Phones, emails and tags: the union of both sides. Returns (added here, what Infobip lacks)."""
        _, r_emails, r_phones = record_keys(record)
        local_phones = {p.number for p in person.phones.all()}
        local_emails = {e.address.lower(): e.address for e in person.emails.all()}
        local_tags = {t.name.lower(): t for t in person.tags.all()}
        new_phones = [p for p in dict.fromkeys(r_phones) if p not in local_phones and validation.phone_digits_fit(p)]
        new_emails = [e for e in dict.fromkeys(r_emails) if e.lower() not in local_emails]
        remote_tags = {t.lower() for t in record.get("tags") or ()}
        new_tags = [tags[t] for t in remote_tags if t not in local_tags and t in tags]
        taken_phones = set(
            PersonPhone.objects.filter(realm=self.realm, number__in=new_phones).values_list("number", flat=True)
        )
        taken_emails = set(
            PersonEmail.objects.filter(realm=self.realm)
            .annotate(laddress=Lower("address"))
            .filter(laddress__in=[e.lower() for e in new_emails])
            .values_list("laddress", flat=True)
        )
        new_phones = [p for p in new_phones if p not in taken_phones]
        new_emails = [e for e in new_emails if e.lower() not in taken_emails]
        # Written at once (not with the page's other merges): a later record of the page sees them as taken.
        person_bulk.contacts_add(
            realm=self.realm,
            now=self.now,
            phones=[(person.pk, p) for p in new_phones],
            emails=[(person.pk, e) for e in new_emails],
            tags=[(person.pk, t.pk) for t in new_tags],
        )
        self._channel_profiles(person, record)
        remote_phone_set = set(r_phones)
        remote_email_set = {e.lower() for e in r_emails}
        back = {
            "phones": [p for p in local_phones if p not in remote_phone_set],
            "emails": [a for low, a in local_emails.items() if low not in remote_email_set],
            "tags": [t.name for low, t in local_tags.items() if low not in remote_tags],
        }
        return bool(new_phones or new_emails or new_tags), back

    def _merge_into(self, person: Person, record: dict[str, Any], tags: dict[str, Tag]) -> None:
        counts = self.counts["pull"]
        remote_time = parse_infobip_time(record.get("modifiedAt"))
        changed, push_fields = self._merge_attributes(person, record, merge_rules.newer(remote_time, person.modified))
        multi_changed, back = self._merge_contacts(person, record, tags)
        if changed or multi_changed:
            self.dirty[person.pk].update(changed | {"modified", "infobip_modified_at", "modified_from"})
            person.modified = self.now
            person.infobip_modified_at = remote_time
            origin = record.get("modifiedFrom")
            person.modified_from = origin if origin in validation.ORIGINS else person.modified_from
            counts["updated"] += 1
        elif not push_fields and not any(back.values()):
            counts["unchanged"] += 1
        if push_fields or any(back.values()):
            self.queue_push(person, fields=push_fields, added={k: v for k, v in back.items() if v})
            counts["pushed_back"] += 1

    def _channel_profiles(self, person: Person | None, record: dict[str, Any], *, bucket: list | None = None) -> None:
        contacts = record.get("contactInformation") or {}
        rows = []
        for channel, items in contacts.items():
            if channel not in Channel.values or not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                identifier = item.get("registrationId") or item.get("userId") or ""
                rows.append(
                    ChannelProfile(
                        realm=self.realm,
                        person=person,
                        channel=channel,
                        application_id=str(item.get("applicationId") or "")[:255],
                        identifier=str(identifier)[:255],
                        data=item,
                    )
                )
        if bucket is not None:
            bucket.extend(rows)
        elif rows:
            ChannelProfile.objects.bulk_create(rows, ignore_conflicts=True)

    # ----------------------------------------------------------------------------- new mirror persons

    def _new_person(self, record: dict[str, Any]) -> Person:
        values, _ = record_attributes(record)
        origin, modified_from = record.get("origin"), record.get("modifiedFrom")
        return Person(
            realm=self.realm,
            infobip_id=int(record["id"]),
            sync_status=SyncStatus.SYNCED,  # Infobip's own answer: the person is there, as read
            synced_at=self.now,
            infobip_modified_at=parse_infobip_time(record.get("modifiedAt")),
            origin=origin if origin in validation.ORIGINS else Origin.API,
            modified_from=modified_from if modified_from in validation.ORIGINS else Origin.API,
            custom_attributes=dict(record.get("customAttributes") or {}),
            created=parse_infobip_time(record.get("createdAt")) or self.now,
            modified=self.now,
            **values,
        )

    def _create(self, records: list[dict[str, Any]], tags: dict[str, Tag]) -> None:
        """Mirror persons for Infobip persons we did not know (in bulk: no outbox rows, Infobip has them)."""
        if not records:
            return
        persons = [self._new_person(record) for record in records]
        ids = person_bulk.persons_insert(
            realm=self.realm,
            rows=[person_bulk.person_row(p) for p in persons],
            now=self.now,
            sync_status=SyncStatus.SYNCED,
        )
        phones, emails, memberships, profiles = [], [], [], []
        seen_phones: set[str] = set()
        seen_emails: set[str] = set()
        for record, person, pk in zip(records, persons, ids, strict=True):
            person.pk = pk
            _, r_emails, r_phones = record_keys(record)
            for email in r_emails:
                # Infobip compares emails case-insensitively too; phones it compares as given, we as digits.
                if email.lower() not in seen_emails and "@" in email:
                    seen_emails.add(email.lower())
                    emails.append((pk, email[:255]))
            for phone in r_phones:
                if phone not in seen_phones and validation.phone_digits_fit(phone):
                    seen_phones.add(phone)
                    phones.append((pk, phone))
            for name in dict.fromkeys(t.lower() for t in record.get("tags") or ()):
                if name in tags:
                    memberships.append((pk, tags[name].pk))
            self._channel_profiles(person, record, bucket=profiles)
            self.persons[person.infobip_id] = person
        person_bulk.contacts_add(realm=self.realm, now=self.now, phones=phones, emails=emails, tags=memberships)
        ChannelProfile.objects.bulk_create(profiles, batch_size=2000, ignore_conflicts=True)
        activity.activity_record_many(realm=self.realm, action=activity.CREATED, items=((pk, ()) for pk in ids))
        self.counts["pull"]["created"] += len(persons)

    # ---------------------------------------------------------------------------------------- save

    def save(self) -> None:
        """Changed mirror fields and the outbox rows for what Infobip must learn, in the page's transaction."""
        by_pk = {p.pk: p for p in self.persons.values()}
        for pk in self.push:
            by_pk[pk].sync_status = SyncStatus.PENDING
            self.dirty[pk].add("sync_status")
        groups: dict[frozenset, list[Person]] = defaultdict(list)
        for pk, fields in self.dirty.items():
            groups[frozenset(fields)].append(by_pk[pk])
        for fields, persons in groups.items():
            names = sorted(fields)
            person_bulk.persons_update(rows=[person_bulk.person_row(p, names) for p in persons], fields=names)
            shown = [n for n in names if n not in SYNC_BOOKKEEPING]
            if shown:
                activity.activity_record_many(
                    realm=self.realm, action=activity.UPDATED, items=((p.pk, shown) for p in persons)
                )
        outbox_record_many(
            realm=self.realm,
            entity=OutboxEntity.PERSON,
            op=OutboxOp.UPDATE,
            items=[
                (
                    pk,
                    PersonChange.build(
                        fields=pending["fields"],
                        added=Sets.of(phones=pending["phones"], emails=pending["emails"], tags=pending["tags"]),
                        source="sync",
                    ).to_json(),
                )
                for pk, pending in self.push.items()
            ],
        )
