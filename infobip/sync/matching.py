"""Step 1's matching before a page's transaction: the orphan identities' index, the claims a page's persons
answer, and their confirmation against what ``/persons/match`` says about the rest of Infobip."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from core.errors import ValidationError
from identities.models import Identity
from infobip.records import phone_digits, record_keys
from people import validation

EXTERNAL, EMAIL, PHONE = 3, 2, 1
STRENGTH_NAME = {EXTERNAL: "externalId", EMAIL: "email", PHONE: "phone"}


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
        digits = phone_digits(raw)
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
