"""The three-step two-way sync of identities and Infobip persons (seed "Synchronize Orangepill and Infobip CDP").

Field mapping: ``identity.id`` ↔ Infobip ``externalId``; ``identity.person`` ↔ Infobip person ``id`` (through the
mirror: an identity points at our Person row, whose ``infobip_id`` is the Infobip id).

How a run goes. One :class:`~infobip.models.SyncRun` per run. The run pages through Infobip's persons
(``GET /people/2/persons``, 1000 a page, Infobip's order, the run's optional ``filter``; when the run gives
``limit``/``page`` that one slice is the whole run, ``limit`` defaulting to Infobip's 20 when only ``page`` is
given). Every page is fetched (and its step-1 matches checked with ``POST /people/2/persons/match``) with no
transaction open, then handled in **one transaction** that also advances the run's cursor
(``progress.next_page``): a crash loses at most the page in flight, a resumed run (the minute schedule resumes
runs whose heartbeat stopped; staff may resume failed ones) continues at the cursor and never repeats a
finished page. Calls go through the realm's client, so the shared rate limiter keeps them under Infobip's
limits. Per page:

* **Pull into the mirror.** Each Infobip person is found here by Infobip id, then externalId, then email, then
  phone; unknown ones become mirror persons. Known ones are merged with Infobip's own rules: empty values are
  filled from the other side, a Customer stays a Customer, otherwise the newer side wins a single-valued
  conflict (Infobip's ``modifiedAt`` against our ``modified``), phones, emails, tags and channel profiles are
  unioned, custom attributes per key like single values. What Infobip lacks goes back to it through the outbox.
  A person with undelivered local changes (pending or dead outbox rows) is only linked, not merged: our change
  in flight is newer, and merging Infobip's older state into it would resurrect what we just removed. Infobip
  persons whose delete or merge is still on its way out, and those whose identifiers belong to two different
  persons here, are skipped (and reported).
* **Step 1 — orphan identities get Infobip persons.** An identity without a person claims the page's persons
  whose externalId is its id (strongest), whose email is one of its emails, then whose phone is one of its
  phones. An identity's emails and phones are in its free-form ``data``: ``email``/``emails`` and
  ``phone``/``phones`` (a string or a list; phones compared as international digits, read with the identity's
  country when they have no ``+``). A claim below externalId strength is confirmed with ``/persons/match`` so
  that a stronger (or an equally strong, different) match anywhere in Infobip is not missed.
* **Step 2 — orphan Infobip persons get identities.** A page person whose externalId is not the id of an
  identity linked to it gets the id of its (oldest) linked identity as externalId, here and — through the
  outbox — in Infobip.
* **Step 3 — new identities.** The remaining page persons get a new identity (type ``person``, the run's
  ``country``/``currency`` or the realm's, owned by the run's owner), linked to them, and their externalId
  becomes the new identity's id (so the next run sees them as linked).

Ambiguity is resolved conservatively: nothing is linked on a guess, and a person involved in an unresolved
match never gets a new identity (that would duplicate the customer); every case is in ``run.errors``.

* *Two identities claiming one person*: the stronger claim wins (externalId, then email, then phone); between
  equally strong claims the oldest identity wins (Infobip's own rule: the earliest profile is the primary).
  The others stay orphans and are reported.
* *One identity matching two persons*: its strongest level decides; two different persons at that level (on
  the page or, by ``/persons/match``, anywhere in Infobip) is ambiguous: not linked, reported, and those
  persons get no new identity. A stronger match elsewhere in Infobip wins over a weaker one on this page: the
  identity is linked when that page comes, and the weaker person waits (reported, no new identity).
* *Identities without email and phone* can only be matched by externalId (their id on an Infobip person);
  without one they stay orphans and are counted as unmatched. The sync never creates Infobip persons for
  identities: that is ``POST /v1/identities/{id}/person``.
* A person whose externalId is the id of an identity already linked to another person is reported, not given
  a new identity (merge the two persons).

Running twice changes nothing the second time: linked identities are no longer orphans, pushed externalIds
name linked identities, and equal values are never written. Persons deleted in Infobip are not deleted here
(a person list cannot prove absence); a page that shifts because Infobip deleted persons meanwhile may leave
some for the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core import iso
from core.bulk import bulk_set, copy_insert, reserve_ids
from core.errors import ValidationError
from identities.ids import is_hex24, new_object_id
from identities.models import ApiKey, Identity, IdentityType
from infobip.client import InfobipClient, client_for_realm
from infobip.models import OutboxEntity, OutboxEntry, OutboxOp, OutboxStatus, SyncRun, SyncRunStatus
from infobip.outbox import _kick_drain
from people import validation
from people.fields import PERSON_ATTRIBUTES
from people.models import (
    ADDRESS_MAX,
    CITY_MAX,
    COUNTRY_MAX,
    EXTERNAL_ID_MAX,
    MIDDLE_NAME_MAX,
    NAME_MAX,
    PROFILE_PICTURE_MAX,
    Channel,
    ChannelProfile,
    Gender,
    Origin,
    Person,
    PersonEmail,
    PersonPhone,
    PersonType,
    SyncStatus,
    Tag,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
MAX_ERRORS = 500
EXTERNAL, EMAIL, PHONE = 3, 2, 1
STRENGTH_NAME = {EXTERNAL: "externalId", EMAIL: "email", PHONE: "phone"}
LIMITS = {
    "external_id": EXTERNAL_ID_MAX,
    "first_name": NAME_MAX,
    "last_name": NAME_MAX,
    "middle_name": MIDDLE_NAME_MAX,
    "address": ADDRESS_MAX,
    "city": CITY_MAX,
    "country": COUNTRY_MAX,
    "profile_picture": PROFILE_PICTURE_MAX,
}
PHONE_RE = re.compile(r"^[1-9][0-9]{5,18}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2})?$")
NAME_FORBIDDEN = re.compile(r"[&<>\"/\\:(){}=;#\r\n]")
INFOBIP_TIME = "%Y-%m-%dT%H:%M:%S"
ORIGINS = frozenset(Origin.values)
PERSON_TYPES = frozenset(PersonType.values)
GENDERS = frozenset(Gender.values)


class SyncCancelled(Exception):
    pass


def _empty_counts() -> dict[str, dict[str, int]]:
    return {
        "pull": {"seen": 0, "created": 0, "updated": 0, "unchanged": 0, "linked": 0, "pushed_back": 0, "skipped": 0},
        "step1": {"linked": 0, "by_external_id": 0, "by_email": 0, "by_phone": 0, "conflicts": 0, "unmatched": 0},
        "step2": {"external_ids_set": 0, "conflicts": 0},
        "step3": {"identities_created": 0},
    }


# ---------------------------------------------------------------------------------------------- parameters


@dataclass
class RunParams:
    country: str
    currency: str
    limit: int | None
    page: int | None
    filter: Any

    @property
    def bounded(self) -> bool:
        return self.limit is not None or self.page is not None


def run_params(run: SyncRun) -> RunParams:
    params = run.params or {}

    def number(name: str) -> int | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError.single(name, "must be an integer") from None

    limit, page = number("limit"), number("page")
    if limit is not None and not 1 <= limit <= PAGE_SIZE:
        raise ValidationError.single("limit", f"must be between 1 and {PAGE_SIZE}")
    if page is not None and page < 1:
        raise ValidationError.single("page", "must be 1 or more")
    if page is not None and limit is None:
        limit = 20  # Infobip's default page size
    if limit is not None and page is None:
        page = 1
    country = str(params.get("country") or run.realm.default_country).upper()
    currency = str(params.get("currency") or run.realm.default_currency).upper()
    if not iso.is_country(country):
        raise ValidationError.single("country", f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    if not iso.is_currency(currency):
        raise ValidationError.single("currency", f"{currency!r} is not an ISO 4217 currency code")
    return RunParams(
        country=country,
        currency=currency,
        limit=limit,
        page=page,
        filter=params.get("filter") or None,
    )


# -------------------------------------------------------------------------------------- identity contacts


def _digits(value: str) -> str:
    compact = re.sub(r"[^\d+]", "", value)
    if compact.startswith("00"):
        compact = compact[2:]
    return compact.lstrip("+")


def identity_contacts(data: Any, country: str) -> tuple[list[str], list[str]]:
    """(lower-cased emails, phones as international digits) an identity's free-form data names."""
    if not isinstance(data, dict):
        return [], []

    def values(*keys: str) -> list[str]:
        out = []
        for key in keys:
            value = data.get(key)
            items = value if isinstance(value, list) else [value]
            out += [str(v).strip() for v in items if isinstance(v, str | int) and str(v).strip()]
        return out

    emails = list(dict.fromkeys(e.lower() for e in values("email", "emails") if "@" in e))
    phones: list[str] = []
    for raw in values("phone", "phones"):
        with contextlib.suppress(ValidationError):  # not a valid number: its digits may still match
            phones.append(validation.normalize_phone(raw, country))
        digits = _digits(raw)
        if digits:
            phones.append(digits)
    return emails, list(dict.fromkeys(phones))


class OrphanIndex:
    """The realm's identities without a person, by id, email and phone (built once per run, kept current)."""

    def __init__(self, realm) -> None:
        self.created: dict[str, dt.datetime] = {}
        self.contacts: dict[str, tuple[list[str], list[str]]] = {}
        self.by_email: dict[str, set[str]] = defaultdict(set)
        self.by_phone: dict[str, set[str]] = defaultdict(set)
        rows = Identity.objects.filter(realm=realm, person__isnull=True).values_list("id", "created", "data", "country")
        for identity_id, created, data, country in rows.iterator(chunk_size=5000):
            self.created[identity_id] = created
            emails, phones = identity_contacts(data, country)
            self.contacts[identity_id] = (emails, phones)
            for email in emails:
                self.by_email[email].add(identity_id)
            for phone in phones:
                self.by_phone[phone].add(identity_id)

    def __contains__(self, identity_id: str) -> bool:
        return identity_id in self.created

    def __len__(self) -> int:
        return len(self.created)

    def remove(self, identity_id: str) -> None:
        if self.created.pop(identity_id, None) is None:
            return
        emails, phones = self.contacts.pop(identity_id, ([], []))
        for email in emails:
            self.by_email[email].discard(identity_id)
        for phone in phones:
            self.by_phone[phone].discard(identity_id)

    def claims(self, external_id: str | None, emails: Iterable[str], phones: Iterable[str]) -> dict[str, int]:
        """identity id → strength of its claim on a person with these identifiers."""
        out: dict[str, int] = {}
        for phone in phones:
            for identity_id in self.by_phone.get(phone, ()):
                out[identity_id] = max(out.get(identity_id, 0), PHONE)
        for email in emails:
            for identity_id in self.by_email.get(email.lower(), ()):
                out[identity_id] = max(out.get(identity_id, 0), EMAIL)
        if external_id and external_id in self.created:
            out[external_id] = EXTERNAL
        return out


# ------------------------------------------------------------------------------------------- Infobip data


def record_keys(record: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    contacts = record.get("contactInformation") or {}
    emails = [e["address"] for e in contacts.get("email") or () if e.get("address")]
    phones = [_digits(p["number"]) for p in contacts.get("phone") or () if p.get("number")]
    return record.get("externalId") or None, emails, phones


def parse_infobip_time(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def record_attributes(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Infobip's standard attributes as model values our constraints accept, and what had to be dropped."""
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for api, name in PERSON_ATTRIBUTES.items():
        raw = record.get(api)
        if name == "type":
            values[name] = raw if raw in PERSON_TYPES else PersonType.CUSTOMER
            continue
        if raw in (None, ""):
            values[name] = None if name in ("external_id", "birth_date") else ""
            continue
        if name == "birth_date":
            try:
                values[name] = dt.date.fromisoformat(str(raw))
            except ValueError:
                dropped.append(api)
                values[name] = None
            continue
        text = str(raw)
        acceptable = (
            (name != "gender" or text in GENDERS)
            and (name != "preferred_language" or LANGUAGE_RE.match(text))
            and (name not in ("first_name", "last_name", "middle_name") or not NAME_FORBIDDEN.search(text))
            and (name not in LIMITS or len(text) <= LIMITS[name])
        )
        if not acceptable:  # Infobip allows what our constraints do not: keep ours empty, say so
            dropped.append(api)
            text = ""
        values[name] = text or (None if name == "external_id" else "")
    return values, dropped


def _comparable(name: str, value: Any) -> Any:
    if value in (None, ""):
        return ""
    return value.isoformat() if name == "birth_date" else value


# ------------------------------------------------------------------------------------------------ the page


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


class PageWork:
    """Everything one page does to the database, inside the page's transaction."""

    def __init__(self, run: SyncRun, params: RunParams, index: OrphanIndex, owner: str) -> None:
        self.run = run
        self.realm = run.realm
        self.params = params
        self.index = index
        self.owner = owner
        self.counts = _empty_counts()
        self.errors: list[dict[str, Any]] = []
        self.now = timezone.now()
        self.push: dict[int, dict[str, Any]] = {}  # person pk → outbox payload being built
        self.persons: dict[int, Person] = {}  # infobip id → mirror person (the page's)
        self.excluded: set[int] = set()  # infobip ids that must not get a new identity
        self.dirty: dict[int, set[str]] = defaultdict(set)  # person pk → fields to save

    def conflict(self, step: str, kind: str, message: str, **data: Any) -> None:
        self.errors.append({"step": step, "kind": kind, "message": message, **data})

    def queue_push(self, person: Person, *, fields: Iterable[str] = (), added: dict[str, list[str]] | None = None):
        payload = self.push.setdefault(
            person.pk,
            {"fields": [], "added": {"phones": [], "emails": [], "tags": []}, "removed": {}, "source": "sync"},
        )
        for name in fields:
            if name not in payload["fields"]:
                payload["fields"].append(name)
        for kind, values in (added or {}).items():
            payload["added"][kind] += [v for v in values if v not in payload["added"][kind]]

    # ------------------------------------------------------------------------------------------ pull

    def pull(self, records: list[dict[str, Any]]) -> None:
        realm = self.realm
        counts = self.counts["pull"]
        counts["seen"] += len(records)
        ids = [int(r["id"]) for r in records]
        keys = {int(r["id"]): record_keys(r) for r in records}
        externals = [k[0] for k in keys.values() if k[0]]
        emails = [e.lower() for k in keys.values() for e in k[1]]
        phones = [p for k in keys.values() for p in k[2]]

        candidates: dict[int, set[int]] = defaultdict(set)
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
        for infobip_id, (external_id, r_emails, r_phones) in keys.items():
            found = candidates[infobip_id]
            if infobip_id in local_by_infobip:
                found.add(local_by_infobip[infobip_id])
            if external_id in local_by_external:
                found.add(local_by_external[external_id])
            found.update(local_by_email[e.lower()] for e in r_emails if e.lower() in local_by_email)
            found.update(local_by_phone[p] for p in r_phones if p in local_by_phone)

        wanted = {pk for found in candidates.values() for pk in found}
        local = {
            p.pk: p
            for p in Person.objects.select_for_update(of=("self",))
            .filter(pk__in=wanted)
            .prefetch_related("tags", "phones", "emails", "channel_profiles")
        }
        busy = {
            int(e)
            for e in OutboxEntry.objects.filter(
                realm=realm,
                entity=OutboxEntity.PERSON,
                entity_id__in=[str(pk) for pk in wanted],
                status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
            ).values_list("entity_id", flat=True)
        }
        leaving = set(
            OutboxEntry.objects.filter(
                realm=realm,
                entity=OutboxEntity.PERSON,
                op=OutboxOp.DELETE,
                status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
                payload__infobipId__in=ids,
            ).values_list("payload__infobipId", flat=True)
        )
        tags = self._tags({t for r in records for t in r.get("tags") or ()})

        new_records = []
        for record in records:
            infobip_id = int(record["id"])
            found = candidates.get(infobip_id) or set()
            if infobip_id in leaving:
                counts["skipped"] += 1
                self.excluded.add(infobip_id)
                self.conflict(
                    "pull", "deleting", f"Infobip person {infobip_id} is being deleted here.", infobipId=infobip_id
                )
                continue
            if not found:
                new_records.append(record)
                continue
            if len(found) > 1:
                counts["skipped"] += 1
                self.excluded.add(infobip_id)
                self.conflict(
                    "pull",
                    "two_local_persons",
                    f"Infobip person {infobip_id}'s identifiers belong to persons {sorted(found)} here: merge them.",
                    infobipId=infobip_id,
                    persons=sorted(found),
                )
                continue
            person = local[next(iter(found))]
            if person.merged_into_id:
                counts["skipped"] += 1
                self.excluded.add(infobip_id)
                self.conflict(
                    "pull", "merged", f"Infobip person {infobip_id} was merged here; its merge is on its way out.",
                    infobipId=infobip_id, person=person.pk,
                )  # fmt: skip
                continue
            if person.infobip_id not in (None, infobip_id):
                counts["skipped"] += 1
                self.excluded.add(infobip_id)
                self.conflict(
                    "pull",
                    "other_infobip_person",
                    f"Person {person.pk} here is Infobip person {person.infobip_id}, but shares identifiers with "
                    f"Infobip person {infobip_id}.",
                    infobipId=infobip_id,
                    person=person.pk,
                )
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

    def _tags(self, names: set[str]) -> dict[str, Tag]:
        if not names:
            return {}
        lower = {n.lower(): n for n in names}
        existing = {
            t.name.lower(): t
            for t in Tag.objects.filter(realm=self.realm).annotate(lname=Lower("name")).filter(lname__in=list(lower))
        }
        missing = [Tag(realm=self.realm, name=name) for key, name in lower.items() if key not in existing]
        if missing:  # they exist in Infobip already: no outbox rows
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {
                t.name.lower(): t
                for t in Tag.objects.filter(realm=self.realm)
                .annotate(lname=Lower("name"))
                .filter(lname__in=list(lower))
            }
        return existing

    def _merge_into(self, person: Person, record: dict[str, Any], tags: dict[str, Tag]) -> None:
        counts = self.counts["pull"]
        remote_time = parse_infobip_time(record.get("modifiedAt"))
        infobip_newer = remote_time is not None and remote_time > person.modified
        values, dropped = record_attributes(record)
        changed, push_fields = set(), []
        for name, remote in values.items():
            local = getattr(person, name)
            if _comparable(name, local) == _comparable(name, remote):
                continue
            if name == "type":
                winner = PersonType.CUSTOMER if PersonType.CUSTOMER in (local, remote) else remote
            elif _comparable(name, remote) == "":
                winner = local  # fill Infobip's empty value from ours
            elif _comparable(name, local) == "" or infobip_newer:
                winner = remote
            else:
                winner = local
            if winner == local:
                if name not in [API_FIELD.get(d) for d in dropped]:
                    push_fields.append(name)
            else:
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

        # Multi-valued: the union of both sides.
        _, r_emails, r_phones = record_keys(record)
        local_phones = {p.number for p in person.phones.all()}
        local_emails = {e.address.lower(): e.address for e in person.emails.all()}
        local_tags = {t.name.lower(): t for t in person.tags.all()}
        new_phones = [p for p in dict.fromkeys(r_phones) if p not in local_phones and PHONE_RE.match(p)]
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
        if new_phones:
            PersonPhone.objects.bulk_create(
                [PersonPhone(realm=self.realm, person=person, number=p) for p in new_phones]
            )
        if new_emails:
            PersonEmail.objects.bulk_create(
                [PersonEmail(realm=self.realm, person=person, address=e) for e in new_emails]
            )
        if new_tags:
            Person.tags.through.objects.bulk_create(
                [Person.tags.through(person_id=person.pk, tag_id=t.pk) for t in new_tags], ignore_conflicts=True
            )
        self._channel_profiles(person, record)
        remote_phone_set = set(r_phones)
        remote_email_set = {e.lower() for e in r_emails}
        back = {
            "phones": [p for p in local_phones if p not in remote_phone_set],
            "emails": [a for low, a in local_emails.items() if low not in remote_email_set],
            "tags": [t.name for low, t in local_tags.items() if low not in remote_tags],
        }
        multi_changed = bool(new_phones or new_emails or new_tags)
        if changed or multi_changed:
            self.dirty[person.pk].update(changed | {"modified", "infobip_modified_at", "modified_from"})
            person.modified = self.now
            person.infobip_modified_at = remote_time
            person.modified_from = (
                record.get("modifiedFrom") if record.get("modifiedFrom") in ORIGINS else person.modified_from
            )
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

    def _create(self, records: list[dict[str, Any]], tags: dict[str, Tag]) -> None:
        """Mirror persons for Infobip persons we did not know (in bulk: no outbox rows, Infobip has them)."""
        if not records:
            return
        persons, phones, emails, memberships, profiles = [], [], [], [], []
        ids = reserve_ids(Person, len(records))
        seen_phones: set[str] = set()
        seen_emails: set[str] = set()
        for record, pk in zip(records, ids, strict=True):
            values, _ = record_attributes(record)
            remote_time = parse_infobip_time(record.get("modifiedAt"))
            created = parse_infobip_time(record.get("createdAt")) or self.now
            origin, modified_from = record.get("origin"), record.get("modifiedFrom")
            person = Person(
                pk=pk,
                realm=self.realm,
                infobip_id=int(record["id"]),
                sync_status=SyncStatus.SYNCED,
                synced_at=self.now,
                infobip_modified_at=remote_time,
                origin=origin if origin in ORIGINS else Origin.API,
                modified_from=modified_from if modified_from in ORIGINS else Origin.API,
                custom_attributes=dict(record.get("customAttributes") or {}),
                created=created,
                modified=self.now,
                **values,
            )
            persons.append(person)
            _, r_emails, r_phones = record_keys(record)
            for email in r_emails:
                # Infobip compares emails case-insensitively too; phones it compares as given, we as digits.
                if email.lower() not in seen_emails and "@" in email:
                    seen_emails.add(email.lower())
                    emails.append(PersonEmail(realm=self.realm, person=person, address=email[:255], created=self.now))
            for phone in r_phones:
                if phone not in seen_phones and PHONE_RE.match(phone):
                    seen_phones.add(phone)
                    phones.append(PersonPhone(realm=self.realm, person=person, number=phone, created=self.now))
            for name in dict.fromkeys(t.lower() for t in record.get("tags") or ()):
                if name in tags:
                    memberships.append(Person.tags.through(person_id=pk, tag_id=tags[name].pk))
            self._channel_profiles(person, record, bucket=profiles)
            self.persons[person.infobip_id] = person
        copy_insert(Person, persons)
        copy_insert(PersonPhone, phones)
        copy_insert(PersonEmail, emails)
        copy_insert(Person.tags.through, memberships)
        ChannelProfile.objects.bulk_create(profiles, batch_size=2000, ignore_conflicts=True)
        self.counts["pull"]["created"] += len(persons)

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

    def save(self) -> None:
        """Changed mirror fields and the outbox rows for what Infobip must learn, in the page's transaction."""
        by_pk = {p.pk: p for p in self.persons.values()}
        for pk in self.push:
            person = by_pk[pk]
            person.sync_status = SyncStatus.PENDING
            self.dirty[pk].add("sync_status")
        groups: dict[frozenset, list[Person]] = defaultdict(list)
        for pk, fields in self.dirty.items():
            groups[frozenset(fields)].append(by_pk[pk])
        for fields, persons in groups.items():
            plain = sorted(f for f in fields if f != "custom_attributes")
            bulk_set(Person, persons, plain)
            if "custom_attributes" in fields:  # JSON: Django's bulk_update (rare: pulled custom attributes)
                Person.objects.bulk_update(persons, ["custom_attributes"], batch_size=1000)
        if self.push and self.realm.cdp_enabled:
            copy_insert(
                OutboxEntry,
                [
                    OutboxEntry(
                        realm=self.realm,
                        entity=OutboxEntity.PERSON,
                        entity_id=str(pk),
                        op=OutboxOp.UPDATE,
                        payload=payload,
                        created=self.now,
                        next_attempt_at=self.now,
                    )
                    for pk, payload in self.push.items()
                ],
            )
            transaction.on_commit(_kick_drain)


API_FIELD = dict(PERSON_ATTRIBUTES)


# ------------------------------------------------------------------------------------------ before the page


def propose_links(records: list[dict[str, Any]], index: OrphanIndex) -> tuple[dict, dict, list[dict[str, str]]]:
    """Step 1's claims from the page alone: (identity → (infobip id, strength)), ambiguous identities, and the
    identifiers to confirm with /persons/match (stronger or equally strong keys of weaker claims)."""
    edges: dict[str, dict[int, int]] = defaultdict(dict)
    for record in records:
        external_id, emails, phones = record_keys(record)
        for identity_id, strength in index.claims(external_id, emails, phones).items():
            edges[identity_id][int(record["id"])] = strength
    proposals, ambiguous, queries = {}, {}, []
    for identity_id, persons in edges.items():
        best = max(persons.values())
        top = [pid for pid, s in persons.items() if s == best]
        if len(top) > 1:
            ambiguous[identity_id] = top
            continue
        proposals[identity_id] = (top[0], best)
        if best < EXTERNAL:
            queries.append({"type": "EXTERNAL_ID", "identifier": identity_id})
            emails, phones = index.contacts.get(identity_id, ([], []))
            queries += [{"type": "EMAIL", "identifier": e} for e in emails]
            if best == PHONE:
                queries += [{"type": "PHONE", "identifier": p} for p in phones]
    return proposals, ambiguous, queries


def confirm_links(
    proposals: dict[str, tuple[int, int]],
    ambiguous: dict[str, list[int]],
    verified: dict[tuple[str, str], int],
    index: OrphanIndex,
) -> list[dict[str, Any]]:
    """Drop claims that Infobip shows to have a stronger or another equally strong match; returns the notes."""
    notes = []
    for identity_id, (infobip_id, strength) in list(proposals.items()):
        if strength == EXTERNAL:
            continue
        emails, phones = index.contacts.get(identity_id, ([], []))
        keys = [(EXTERNAL, ("EXTERNAL_ID", identity_id))] + [(EMAIL, ("EMAIL", e)) for e in emails]
        if strength == PHONE:
            keys += [(PHONE, ("PHONE", p)) for p in phones]
        others = {(s, verified[k]) for s, k in keys if k in verified and verified[k] != infobip_id}
        if not others:
            continue
        del proposals[identity_id]
        stronger = [pid for s, pid in others if s > strength]
        if stronger:
            notes.append(
                {
                    "step": "step1",
                    "kind": "stronger_match_elsewhere",
                    "message": f"Identity {identity_id} matches Infobip person {infobip_id} by "
                    f"{STRENGTH_NAME[strength]}, but Infobip person {stronger[0]} more strongly: linked when its "
                    "page comes; the weaker one gets no new identity.",
                    "identity": identity_id,
                    "infobipIds": [infobip_id, stronger[0]],
                }
            )
        else:
            ambiguous[identity_id] = [infobip_id, *sorted({pid for _, pid in others})]
    return notes


# ------------------------------------------------------------------------------------------------ the run


def _owner_for(run: SyncRun) -> str:
    if is_hex24(run.owner):
        return run.owner
    owner = run.progress.get("owner") if isinstance(run.progress, dict) else None
    if is_hex24(owner):
        return owner
    key_owner = (
        ApiKey.objects.filter(realm=run.realm, revoked_at__isnull=True)
        .order_by("created")
        .values_list("owner", flat=True)
        .first()
    )
    return key_owner or new_object_id()


def _claim_run(run_id: int, *, resume: bool) -> SyncRun | None:
    stale = dt.timedelta(seconds=float(getattr(settings, "INFOBIP_SYNC_STALE_SECONDS", 300)))
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("realm").filter(pk=run_id).first()
        if run is None:
            logger.warning("sync run %s no longer exists", run_id)
            return None
        if run.status in (SyncRunStatus.SUCCEEDED, SyncRunStatus.CANCELLED):
            return None
        if run.status == SyncRunStatus.FAILED and not resume:
            return None
        if run.status == SyncRunStatus.RUNNING and run.heartbeat_at and now - run.heartbeat_at < stale and not resume:
            return None  # another worker is on it
        other = (
            SyncRun.objects.filter(realm_id=run.realm_id, status=SyncRunStatus.RUNNING, heartbeat_at__gte=now - stale)
            .exclude(pk=run.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if other:
            run.progress = {**run.progress, "waiting_for": other}
            run.save(update_fields=["progress"])
            return None
        progress = dict(run.progress or {})
        progress.pop("waiting_for", None)
        progress.setdefault("owner", _owner_for(run))
        if run.started_at and run.status != SyncRunStatus.QUEUED:
            progress["resumed"] = progress.get("resumed", 0) + 1
        run.progress = progress
        run.status = SyncRunStatus.RUNNING
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.finished_at = None
        if not run.counts:
            run.counts = _empty_counts()
        run.save(update_fields=["progress", "status", "started_at", "heartbeat_at", "finished_at", "counts"])
        return run


def _fetch(client: InfobipClient, params: RunParams, page_number: int, *, first: bool) -> Page:
    limit = params.limit if params.bounded else PAGE_SIZE
    page = params.page if params.bounded else page_number
    body = client.list_persons(limit=limit, page=page, filter=params.filter, include_total_count=first)
    return Page(number=page_number, records=list(body.get("persons") or []), total=body.get("totalCount"))


def _add_counts(total: dict[str, dict[str, int]], part: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {step: dict(values) for step, values in (total or {}).items()}
    for step, values in part.items():
        bucket = out.setdefault(step, {})
        for key, value in values.items():
            bucket[key] = bucket.get(key, 0) + value
    return out


def execute_run(
    run_id: int,
    *,
    resume: bool = False,
    after_page: Callable[[int], None] | None = None,
    max_seconds: float | None = None,
) -> SyncRun | None:
    """Run (or resume) sync run ``run_id`` to its end. ``after_page(n)`` is called after page n committed.

    ``max_seconds``: hand the run over to a new task after that long (a task has a timeout; a run of millions
    of persons outlives it): the run stays running, its heartbeat is cleared, and the successor continues."""
    run = _claim_run(run_id, resume=resume)
    if run is None:
        return None
    realm = run.realm
    try:
        if not realm.cdp_enabled:
            raise ValidationError("The realm's Infobip CDP extension is off: enable it to sync.")
        params = run_params(run)
        client = client_for_realm(realm)
        owner = run.progress["owner"]
        index = OrphanIndex(realm)
        began = time.monotonic()
        while True:
            progress = run.progress
            next_page = int(progress.get("next_page", 1))
            if params.bounded and next_page > 1:
                break
            clock = time.monotonic()
            page = _fetch(client, params, next_page, first=next_page == 1 or "total" not in progress)
            proposals, ambiguous, queries = propose_links(page.records, index)
            verified: dict[tuple[str, str], int] = {}
            for start in range(0, len(queries), 1000):
                for match in client.match_persons(queries[start : start + 1000]):
                    key = (
                        match["type"],
                        str(match["identifier"]).lower() if match["type"] == "EMAIL" else str(match["identifier"]),
                    )
                    verified[key] = int(match["personId"])
            notes = confirm_links(proposals, ambiguous, verified, index)
            fetched = time.monotonic()
            run = _commit_page(run, params, index, owner, page, proposals, ambiguous, notes, fetched - clock)
            _refresh_statistics(run.progress.get("pages_done", 0))
            if after_page is not None:
                after_page(next_page)
            if params.bounded or len(page.records) < PAGE_SIZE:
                break
            if max_seconds is not None and time.monotonic() - began > max_seconds:
                _hand_over(run)  # at least one page per task: a run always moves on
                return SyncRun.objects.get(pk=run.pk)
        with transaction.atomic():
            run = SyncRun.objects.select_for_update().get(pk=run.pk)
            counts = run.counts
            counts.setdefault("step1", {})["unmatched"] = Identity.objects.filter(
                realm=realm, person__isnull=True
            ).count()
            run.counts = counts
            run.status = SyncRunStatus.SUCCEEDED
            run.step = 3
            run.finished_at = timezone.now()
            run.heartbeat_at = run.finished_at
            run.progress = {**run.progress, "phase": "done"}
            run.save()
        return run
    except SyncCancelled:
        return SyncRun.objects.get(pk=run.pk)
    except Exception as exc:
        logger.exception("sync run %s failed", run.pk)
        with transaction.atomic():
            failed = SyncRun.objects.select_for_update().get(pk=run.pk)
            failed.status = SyncRunStatus.FAILED
            failed.finished_at = timezone.now()
            message = exc.message if isinstance(exc, ValidationError) else str(exc) or repr(exc)
            failed.errors = [*failed.errors, {"step": "run", "kind": "failed", "message": message}][-MAX_ERRORS:]
            failed.progress = {**failed.progress, "phase": "failed"}
            failed.save()
        return failed


def _hand_over(run: SyncRun) -> None:
    """Let a fresh task continue the run at its cursor (see ``max_seconds``)."""
    SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(
        heartbeat_at=None, progress={**run.progress, "phase": "handed over to the next task"}
    )
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("infobip.tasks.sync_run_execute", run.pk, task_name=f"sync-run-{run.pk}-continued")
    )


def _commit_page(
    run: SyncRun,
    params: RunParams,
    index: OrphanIndex,
    owner: str,
    page: Page,
    proposals: dict,
    ambiguous: dict,
    notes: list[dict[str, Any]],
    fetch_seconds: float,
) -> SyncRun:
    clock = time.monotonic()
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().select_related("realm").get(pk=run.pk)
        if locked.status == SyncRunStatus.CANCELLED:
            raise SyncCancelled
        if int(locked.progress.get("next_page", 1)) != page.number or locked.status != SyncRunStatus.RUNNING:
            raise RuntimeError(f"sync run {run.pk} moved on elsewhere (page {page.number}); this worker stops")
        work = PageWork(locked, params, index, owner)
        work.errors.extend(notes)
        for note in notes:
            if note["kind"] == "stronger_match_elsewhere":
                work.excluded.add(note["infobipIds"][0])
        work.pull(page.records)
        work.step1(page, proposals, ambiguous)
        rest = work.step2()
        work.step3(rest)
        work.save()
        progress = dict(locked.progress)
        timings = dict(progress.get("timings") or {})
        timings["fetch_s"] = round(timings.get("fetch_s", 0) + fetch_seconds, 3)
        timings["write_s"] = round(timings.get("write_s", 0) + time.monotonic() - clock, 3)
        progress.update(
            {
                "phase": f"page {page.number} done",
                "next_page": page.number + 1,
                "pages_done": int(progress.get("pages_done", 0)) + 1,
                "persons_seen": int(progress.get("persons_seen", 0)) + len(page.records),
                "page_size": params.limit if params.bounded else PAGE_SIZE,
                "timings": timings,
            }
        )
        if page.total is not None:
            progress["total"] = min(page.total, params.limit) if params.bounded else page.total
        locked.progress = progress
        locked.counts = _add_counts(locked.counts, work.counts)
        locked.errors = [*locked.errors, *work.errors][-MAX_ERRORS:]
        locked.step = 3
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["progress", "counts", "errors", "step", "heartbeat_at"])
        return locked


MIRROR_TABLES = (
    "people_person",
    "people_personphone",
    "people_personemail",
    "people_person_tags",
    "identities_identity",
)


def _refresh_statistics(pages_done: int) -> None:
    """ANALYZE the mirror's tables after pages 1, 2, 4, 8 … of a run.

    A first sync fills empty tables fast; until autovacuum comes by, the planner still believes them empty and
    the foreign-key checks of every inserted phone and email scan the person table (quadratic). Refreshing the
    statistics each time the run doubles costs a few sampled reads and keeps every check an index lookup."""
    if pages_done < 1 or pages_done & (pages_done - 1):
        return
    with connection.cursor() as cursor:
        for table in MIRROR_TABLES:
            cursor.execute(f"ANALYZE {table}")


def sync_runs_resume_stale() -> list[int]:
    """Queue again runs whose worker died (running without heartbeat) or whose task never came (queued long)."""
    stale = dt.timedelta(seconds=float(getattr(settings, "INFOBIP_SYNC_STALE_SECONDS", 300)))
    now = timezone.now()
    ids = list(
        SyncRun.objects.filter(status=SyncRunStatus.RUNNING, heartbeat_at__lt=now - stale).values_list("pk", flat=True)
    )
    ids += list(
        SyncRun.objects.filter(status=SyncRunStatus.QUEUED, created__lt=now - dt.timedelta(minutes=2)).values_list(
            "pk", flat=True
        )
    )
    if ids:
        from django_q.tasks import async_task

        for run_id in ids:
            async_task("infobip.tasks.sync_run_execute", run_id, task_name=f"sync-run-{run_id}-resume")
    return ids


__all__ = ["execute_run", "identity_contacts", "run_params", "sync_runs_resume_stale"]
