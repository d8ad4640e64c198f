"""What one page of a sync run does in its transaction: the pull into the mirror, then steps 1, 2 and 3.

See docs/sync.md for the whole design. Invariants: a person with undelivered local changes is only linked,
never merged; nothing is linked on a guess; every skipped or ambiguous case is reported in ``errors``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models.functions import Lower

from core.bulk import bulk_set, copy_insert
from identities.ids import is_hex24, new_object_id
from identities.models import Identity, IdentityType
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus
from infobip.records import record_keys
from infobip.sync.matching import EMAIL, EXTERNAL, PHONE, STRENGTH_NAME
from infobip.sync.mirror import MirrorWrites
from people.models import Person, PersonEmail, PersonPhone


@dataclass
class Page:
    number: int
    records: list[dict[str, Any]]
    total: int | None = None
    verified: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, identifier) → Infobip id


@dataclass
class PageResult:
    counts: dict[str, dict[str, int]]
    errors: list[dict[str, Any]]


class PageWork(MirrorWrites):
    """Everything one page does to the database, inside the page's transaction."""

    # ------------------------------------------------------------------------------------------ pull

    def _candidates(self, records: list[dict[str, Any]]) -> dict[int, set[int]]:
        """Infobip id → the mirror persons holding its Infobip id, externalId, an email or a phone."""
        realm = self.realm
        ids = [int(r["id"]) for r in records]
        keys = {int(r["id"]): record_keys(r) for r in records}
        externals = [k[0] for k in keys.values() if k[0]]
        emails = [e.lower() for k in keys.values() for e in k[1]]
        phones = [p for k in keys.values() for p in k[2]]
        local_by_infobip = dict(Person.objects.filter(realm=realm, infobip_id__in=ids).values_list("infobip_id", "pk"))
        local_by_external = dict(
            Person.objects.filter(realm=realm, external_id__in=externals).values_list("external_id", "pk")
        )
        local_by_email = dict(
            PersonEmail.objects.filter(realm=realm)
            .annotate(laddress=Lower("address"))
            .filter(laddress__in=emails)
            .values_list("laddress", "person_id")
        )
        local_by_phone = dict(
            PersonPhone.objects.filter(realm=realm, number__in=phones).values_list("number", "person_id")
        )
        candidates: dict[int, set[int]] = defaultdict(set)
        for infobip_id, (external_id, r_emails, r_phones) in keys.items():
            found = candidates[infobip_id]
            if infobip_id in local_by_infobip:
                found.add(local_by_infobip[infobip_id])
            if external_id in local_by_external:
                found.add(local_by_external[external_id])
            found.update(local_by_email[e.lower()] for e in r_emails if e.lower() in local_by_email)
            found.update(local_by_phone[p] for p in r_phones if p in local_by_phone)
        return candidates

    def _outbox_state(self, wanted: set[int], ids: list[int]) -> tuple[set[int], set[int]]:
        """(persons with undelivered changes, Infobip ids whose delete is still on its way out)."""
        undelivered = [OutboxStatus.PENDING, OutboxStatus.DEAD]
        rows = OutboxEntry.objects.filter(realm=self.realm, entity=OutboxEntity.PERSON, status__in=undelivered)
        busy = {
            int(e) for e in rows.filter(entity_id__in=[str(pk) for pk in wanted]).values_list("entity_id", flat=True)
        }
        leaving = set(
            rows.filter(op=OutboxOp.DELETE, payload__infobipId__in=ids).values_list("payload__infobipId", flat=True)
        )
        return busy, leaving

    def _skip(self, infobip_id: int, kind: str, message: str, **data: Any) -> None:
        self.counts["pull"]["skipped"] += 1
        self.excluded.add(infobip_id)
        self.conflict("pull", kind, message, infobipId=infobip_id, **data)

    def _known(self, infobip_id: int, found: set[int], local: dict[int, Person]) -> Person | None:
        """The one mirror person an Infobip person is, or None (skipped and reported) when that is unclear."""
        if len(found) > 1:
            self._skip(
                infobip_id, "two_local_persons",
                f"Infobip person {infobip_id}'s identifiers belong to persons {sorted(found)} here: merge them.",
                persons=sorted(found),
            )  # fmt: skip
            return None
        person = local[next(iter(found))]
        if person.merged_into_id:
            self._skip(
                infobip_id, "merged", f"Infobip person {infobip_id} was merged here; its merge is on its way out.",
                person=person.pk,
            )  # fmt: skip
            return None
        if person.infobip_id not in (None, infobip_id):
            self._skip(
                infobip_id, "other_infobip_person",
                f"Person {person.pk} here is Infobip person {person.infobip_id}, but shares identifiers with "
                f"Infobip person {infobip_id}.",
                person=person.pk,
            )  # fmt: skip
            return None
        return person

    def pull(self, records: list[dict[str, Any]]) -> None:
        counts = self.counts["pull"]
        counts["seen"] += len(records)
        candidates = self._candidates(records)
        wanted = {pk for found in candidates.values() for pk in found}
        local = {
            p.pk: p
            for p in Person.objects.select_for_update(of=("self",))
            .filter(pk__in=wanted)
            .prefetch_related("tags", "phones", "emails", "channel_profiles")
        }
        busy, leaving = self._outbox_state(wanted, [int(r["id"]) for r in records])
        tags = self._tags({t for r in records for t in r.get("tags") or ()})
        new_records = []
        for record in records:
            infobip_id = int(record["id"])
            found = candidates.get(infobip_id) or set()
            if infobip_id in leaving:
                self._skip(infobip_id, "deleting", f"Infobip person {infobip_id} is being deleted here.")
                continue
            if not found:
                new_records.append(record)
                continue
            person = self._known(infobip_id, found, local)
            if person is None:
                continue
            if person.infobip_id is None:
                person.infobip_id = infobip_id
                self.dirty[person.pk].add("infobip_id")
                counts["linked"] += 1
            self.persons[infobip_id] = person
            if person.pk in busy:
                counts["unchanged"] += 1  # our change in flight is newer: linked only
                continue
            self._merge_into(person, record, tags)
        self._create(new_records, tags)

    # --------------------------------------------------------------------------------------- step 1

    def step1(self, page: Page, proposals: dict[str, tuple[int, int]], ambiguous: dict[str, list[int]]) -> None:
        """Link orphan identities to the page's persons (proposals computed and checked before the transaction)."""
        counts = self.counts["step1"]
        for identity_id, infobip_ids in ambiguous.items():
            counts["conflicts"] += 1
            self.excluded.update(infobip_ids)
            self.conflict(
                "step1", "identity_matches_several_persons",
                f"Identity {identity_id} matches several Infobip persons {sorted(infobip_ids)}: not linked.",
                identity=identity_id, infobipIds=sorted(infobip_ids),
            )  # fmt: skip
        by_person: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for identity_id, (infobip_id, strength) in proposals.items():
            by_person[infobip_id].append((strength, identity_id))
        winners: dict[str, tuple[int, int]] = {}
        for infobip_id, claims in by_person.items():
            claims.sort(key=lambda c: (-c[0], self.index.created.get(c[1]) or self.now, c[1]))
            strength, winner = claims[0]
            winners[winner] = (infobip_id, strength)
            for _, loser in claims[1:]:
                counts["conflicts"] += 1
                self.conflict(
                    "step1", "two_identities_claim_one_person",
                    f"Identities {winner} and {loser} both claim Infobip person {infobip_id}; {winner} "
                    f"({STRENGTH_NAME[strength]}, the stronger or older claim) was linked, {loser} was not.",
                    identity=loser, winner=winner, infobipId=infobip_id,
                )  # fmt: skip
        if not winners:
            return
        still_orphan = set(
            Identity.objects.select_for_update()
            .filter(pk__in=list(winners), person__isnull=True)
            .values_list("pk", flat=True)
        )
        linked = []
        for identity_id, (infobip_id, strength) in winners.items():
            person = self.persons.get(infobip_id)
            if person is None:
                continue  # the pull skipped that Infobip person (reported there): the identity stays an orphan
            if identity_id not in still_orphan:
                self.index.remove(identity_id)  # linked meanwhile by someone else
                continue
            linked.append(Identity(pk=identity_id, person_id=person.pk, modified=self.now))
            counts["linked"] += 1
            counts[{EXTERNAL: "by_external_id", EMAIL: "by_email", PHONE: "by_phone"}[strength]] += 1
            self.index.remove(identity_id)
        bulk_set(Identity, linked, ["person", "modified"])

    # --------------------------------------------------------------------------------------- step 2

    def step2(self) -> list[Person]:
        """Persons linked to identities get the identity's id as externalId; returns the rest (for step 3)."""
        counts = self.counts["step2"]
        pks = {p.pk: p for p in self.persons.values()}
        linked: dict[int, list[str]] = defaultdict(list)
        for identity_id, person_id in (
            Identity.objects.filter(person_id__in=list(pks)).order_by("created", "id").values_list("id", "person_id")
        ):
            linked[person_id].append(identity_id)
        remaining = []
        wanted: dict[int, str] = {}
        for infobip_id, person in self.persons.items():
            ids = linked.get(person.pk)
            if ids:
                if person.external_id not in ids:
                    wanted[person.pk] = ids[0]
                continue
            if infobip_id in self.excluded:
                continue
            remaining.append(person)
        # A person whose externalId is an identity's id, but that identity is linked elsewhere: report it.
        claimed = dict(
            Identity.objects.filter(
                realm=self.realm, pk__in=[p.external_id for p in remaining if p.external_id and is_hex24(p.external_id)]
            ).values_list("id", "person_id")
        )
        rest = []
        for person in remaining:
            if person.external_id in claimed:
                counts["conflicts"] += 1
                self.conflict(
                    "step2", "identity_linked_elsewhere",
                    f"Infobip person {person.infobip_id} carries externalId {person.external_id}, an identity linked "
                    f"to person {claimed[person.external_id]}: merge the two persons.",
                    infobipId=person.infobip_id, identity=person.external_id,
                )  # fmt: skip
                continue
            rest.append(person)
        taken = dict(
            Person.objects.filter(realm=self.realm, external_id__in=list(wanted.values())).values_list(
                "external_id", "pk"
            )
        )
        for pk, identity_id in wanted.items():
            person = pks[pk]
            if taken.get(identity_id) not in (None, pk):
                counts["conflicts"] += 1
                self.conflict(
                    "step2", "external_id_taken",
                    f"Person {taken[identity_id]} here already has externalId {identity_id}; person {pk} "
                    "(linked to that identity) keeps its own.", identity=identity_id, person=pk,
                )  # fmt: skip
                continue
            self._set_external_id(person, identity_id)
            counts["external_ids_set"] += 1
        return rest

    def _set_external_id(self, person: Person, identity_id: str) -> None:
        person.external_id = identity_id
        person.modified = self.now
        self.dirty[person.pk].update({"external_id", "modified"})
        self.queue_push(person, fields=["external_id"])

    # --------------------------------------------------------------------------------------- step 3

    def step3(self, persons: list[Person]) -> None:
        if not persons:
            return
        identities = []
        for person in persons:
            identity = Identity(
                id=new_object_id(),
                realm=self.realm,
                owner=self.owner,
                type=IdentityType.PERSON,
                country=self.params.country,
                currency=self.params.currency,
                person=person,
                data={},
                created=self.now,
                modified=self.now,
            )
            identities.append(identity)
            self._set_external_id(person, identity.id)
        copy_insert(Identity, identities)
        self.counts["step3"]["identities_created"] += len(identities)

    # ----------------------------------------------------------------------------------------- save
