"""What an outbox row says about its change: the only way to build a payload and to read one back.

A payload carries only what the mirror cannot tell later (removed contacts and tags, changed field names, the
company a person left, identifiers of deleted rows); the engine reads the entity's current state when it sends.
``from_json`` accepts rows written before a key existed (missing keys read as empty)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_KINDS = ("phones", "emails", "tags")


@dataclass(frozen=True)
class Sets:
    """Phone numbers, email addresses and tag names (added to or removed from a person)."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, phones: Iterable[str] = (), emails: Iterable[str] = (), tags: Iterable[str] = ()) -> Sets:
        return cls(tuple(phones), tuple(emails), tuple(tags))

    @classmethod
    def from_json(cls, data: Any) -> Sets:
        data = data if isinstance(data, dict) else {}
        return cls(*(tuple(data.get(kind) or ()) for kind in _KINDS))

    def to_json(self) -> dict[str, list[str]]:
        return {kind: list(getattr(self, kind)) for kind in _KINDS}

    def __bool__(self) -> bool:
        return bool(self.phones or self.emails or self.tags)


@dataclass(frozen=True)
class CompanyMove:
    """A person changed company: local company ids (None: no company)."""

    from_id: int | None
    to_id: int | None


@dataclass(frozen=True)
class PersonChange:
    """A person's update (op ``update``): which fields changed, what was added and removed, the company it left."""

    fields: tuple[str, ...] = ()
    added: Sets = field(default_factory=Sets)
    removed: Sets = field(default_factory=Sets)
    company: CompanyMove | None = None
    source: str = ""  # "sync": pulled from Infobip (what it must still be told)
    reason: str = ""  # "merge_undo"
    merge_record: int | None = None

    @classmethod
    def build(
        cls,
        *,
        fields: Iterable[str] = (),
        added: Sets | None = None,
        removed: Sets | None = None,
        company: CompanyMove | None = None,
        source: str = "",
        reason: str = "",
        merge_record: int | None = None,
    ) -> PersonChange:
        return cls(tuple(fields), added or Sets(), removed or Sets(), company, source, reason, merge_record)

    @classmethod
    def from_json(cls, payload: Any) -> PersonChange:
        payload = payload if isinstance(payload, dict) else {}
        company = payload.get("company")
        return cls(
            fields=tuple(payload.get("fields") or ()),
            added=Sets.from_json(payload.get("added")),
            removed=Sets.from_json(payload.get("removed")),
            company=CompanyMove(company.get("from"), company.get("to")) if isinstance(company, dict) else None,
            source=payload.get("source") or "",
            reason=payload.get("reason") or "",
            merge_record=payload.get("mergeRecord"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fields": list(self.fields),
            "added": self.added.to_json(),
            "removed": self.removed.to_json(),
        }
        if self.company is not None:
            out["company"] = {"from": self.company.from_id, "to": self.company.to_id}
        if self.source:
            out["source"] = self.source
        if self.reason:
            out["reason"] = self.reason
        if self.merge_record is not None:
            out["mergeRecord"] = self.merge_record
        return out


@dataclass(frozen=True)
class PersonCreate:
    """A person's create (op ``create``). A plain create says nothing; a person restored by a merge undo carries
    its events (sent to its new profile) and the Infobip id it had before the merge."""

    events: tuple[int, ...] = ()
    reason: str = ""
    merge_record: int | None = None
    previous_infobip_id: int | None = None

    @classmethod
    def from_json(cls, payload: Any) -> PersonCreate:
        payload = payload if isinstance(payload, dict) else {}
        return cls(
            events=tuple(payload.get("events") or ()),
            reason=payload.get("reason") or "",
            merge_record=payload.get("mergeRecord"),
            previous_infobip_id=payload.get("previousInfobipId"),
        )

    def to_json(self) -> dict[str, Any]:
        if not (self.events or self.reason or self.merge_record is not None or self.previous_infobip_id):
            return {}
        return {
            "reason": self.reason,
            "mergeRecord": self.merge_record,
            "previousInfobipId": self.previous_infobip_id,
            "events": list(self.events),
        }


@dataclass(frozen=True)
class PersonGone:
    """How Infobip can find a person once it is gone here (op ``delete``; also an absorbed person of a merge)."""

    infobip_id: int | None = None
    external_id: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, payload: Any) -> PersonGone:
        payload = payload if isinstance(payload, dict) else {}
        return cls(
            infobip_id=payload.get("infobipId"),
            external_id=payload.get("externalId"),
            phones=tuple(payload.get("phones") or ()),
            emails=tuple(payload.get("emails") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "infobipId": self.infobip_id,
            "externalId": self.external_id,
            "phones": list(self.phones),
            "emails": list(self.emails),
        }


@dataclass(frozen=True)
class Absorbed:
    """One person a merge absorbed: how to find its Infobip profile, and its events (moved to the survivor)."""

    id: int
    identifiers: PersonGone
    events: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Absorbed:
        return cls(data.get("id"), PersonGone.from_json(data), tuple(data.get("events") or ()))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.identifiers.to_json(), "events": list(self.events)}


@dataclass(frozen=True)
class MergeChange:
    """A merge (entity ``merge``, op ``merge``): the survivor's local id and the persons it absorbed."""

    survivor: int | None
    absorbed: tuple[Absorbed, ...] = ()

    @classmethod
    def from_json(cls, payload: Any) -> MergeChange:
        payload = payload if isinstance(payload, dict) else {}
        return cls(payload.get("survivor"), tuple(Absorbed.from_json(a) for a in payload.get("absorbed") or ()))

    def to_json(self) -> dict[str, Any]:
        return {"survivor": self.survivor, "absorbed": [a.to_json() for a in self.absorbed]}


@dataclass(frozen=True)
class CompanyChange:
    """A company's update: the changed fields, and whether its tags replace Infobip's (else they are added)."""

    fields: tuple[str, ...] = ()
    replace_tags: bool = False

    @classmethod
    def from_json(cls, payload: Any) -> CompanyChange:
        payload = payload if isinstance(payload, dict) else {}
        return cls(tuple(payload.get("fields") or ()), bool(payload.get("replaceTags")))

    def to_json(self) -> dict[str, Any]:
        return {"fields": list(self.fields), "replaceTags": self.replace_tags}


@dataclass(frozen=True)
class CompanyGone:
    """How Infobip can find a company once it is gone here (op ``delete``)."""

    infobip_id: int | None = None
    name: str = ""
    external_id: str | None = None

    @classmethod
    def from_json(cls, payload: Any) -> CompanyGone:
        payload = payload if isinstance(payload, dict) else {}
        return cls(payload.get("infobipId"), payload.get("name") or "", payload.get("externalId"))

    def to_json(self) -> dict[str, Any]:
        return {"infobipId": self.infobip_id, "name": self.name, "externalId": self.external_id}
