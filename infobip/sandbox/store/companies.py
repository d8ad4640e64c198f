"""Companies: parsing, the name/externalId/domain indexes, writes and membership of persons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infobip.sandbox.store.contract import (
    COMPANY_SCALARS,
    COMPANY_SELECTORS,
    COMPANY_STRING_LIMITS,
    _check_string,
    _Errors,
    now_v2,
)
from infobip.sandbox.store.errors import Duplicate, Invalid, NotFound


class CompaniesMixin:
    """Company records, their indexes and person membership."""

    # ----- companies -----

    def parse_company(self, body: Any, *, require_name: bool, prefix: str = "") -> dict[str, Any]:
        errors = _Errors(prefix)
        if not isinstance(body, dict):
            raise Invalid({prefix or "body": ["must be a JSON object"]}, "Request body must be a JSON object")
        out: dict[str, Any] = {}
        for name, limit in COMPANY_STRING_LIMITS.items():
            if name in body:
                value = _check_string(errors, name, body[name], limit)
                if value is not None or body[name] in (None, ""):
                    out[name] = value or None
        if require_name and not out.get("name"):
            errors.add("name", "must not be empty")
        if "domains" in body:
            domains = body["domains"]
            if domains is None:
                out["domains"] = []
            elif not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
                errors.add("domains", "must be an array of non-empty strings")
            else:
                out["domains"] = list(dict.fromkeys(domains))
        if "tags" in body:
            tags = self._parse_tags(body["tags"], errors)
            if tags is not None:
                out["tags"] = tags
        if "customAttributes" in body:
            custom = self._parse_custom(body["customAttributes"], errors)
            if custom is not None:
                out["customAttributes"] = custom
        if "serviceData" in body and body["serviceData"] is not None:
            if not isinstance(body["serviceData"], dict):
                errors.add("serviceData", "must be an object")
            else:
                out["serviceData"] = body["serviceData"]
        if errors:
            raise Invalid(errors.map)
        return out

    def company_by_selector(self, selector: Mapping[str, Any]) -> dict[str, Any] | None:
        given = {k: v for k, v in selector.items() if k in COMPANY_SELECTORS and v not in (None, "")}
        if len(given) != 1:
            raise Invalid(
                {"query": ["exactly one of id, externalId, name, domain must be given"]},
                "Exactly one of the query parameters id, externalId, name, domain must be given",
            )
        ((kind, value),) = given.items()
        value = str(value)
        with self.lock:
            if kind == "id":
                try:
                    company_id: int | None = int(value)
                except ValueError:
                    raise Invalid({"id": ["must be a number"]}) from None
            elif kind == "name":
                company_id = self._company_name.get(value.lower())
            elif kind == "externalId":
                company_id = self._company_ext.get(value)
            else:
                company_id = self._company_domain.get(value.lower())
            return self.companies.get(company_id) if company_id is not None else None

    @staticmethod
    def describe_selector(selector: Mapping[str, Any]) -> str:
        kind, value = next((k, v) for k, v in selector.items() if k in COMPANY_SELECTORS and v not in (None, ""))
        return f'Company with {kind} "{value}" does not exist'

    def _company_conflict(self, record: Mapping[str, Any]) -> None:
        owner = self._company_name.get(record["name"].lower())
        if owner is not None and owner != record["id"]:
            raise Duplicate(f"Key (lower(name::text))=({record['name']}) already exists.", "name")
        ext = record.get("externalId")
        if ext and self._company_ext.get(ext, record["id"]) != record["id"]:
            raise Duplicate(f"Company with externalId {ext} already exists.", "externalId")
        for domain in record.get("domains", ()):
            if self._company_domain.get(domain.lower(), record["id"]) != record["id"]:
                raise Duplicate(f"Company with domain {domain} already exists.", "domains")

    def _store_company(self, record: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        if old:
            self._company_name.pop(old["name"].lower(), None)
            if old.get("externalId"):
                self._company_ext.pop(old["externalId"], None)
            for domain in old.get("domains", ()):
                self._company_domain.pop(domain.lower(), None)
        self._company_name[record["name"].lower()] = record["id"]
        if record.get("externalId"):
            self._company_ext[record["externalId"]] = record["id"]
        for domain in record.get("domains", ()):
            self._company_domain[domain.lower()] = record["id"]
        self._ensure_tags(record.get("tags", ()))
        self.companies[record["id"]] = record
        self._touch()

    @staticmethod
    def _company_record(company_id: int, data: Mapping[str, Any], created: str, stamp: str) -> dict[str, Any]:
        record: dict[str, Any] = {"createdAt": created, "modifiedAt": stamp, "id": company_id}
        for name in COMPANY_SCALARS:
            if data.get(name) is not None:
                record[name] = data[name]
        record["customAttributes"] = {k: v for k, v in (data.get("customAttributes") or {}).items() if v is not None}
        record["domains"] = list(data.get("domains") or [])
        record["tags"] = list(data.get("tags") or [])
        if data.get("serviceData"):
            record["serviceData"] = data["serviceData"]
        record["origin"] = "API"
        record["modifiedFrom"] = "API"
        return record

    def create_company(self, data: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            stamp = now_v2()
            record = self._company_record(next(self._company_ids), data, stamp, stamp)
            self._company_conflict(record)
            self._store_company(record, None)
            self.company_members[record["id"]] = set()
            self.effects["companies_created"] += 1
            return record

    def update_company(
        self, company_id: int, data: Mapping[str, Any], *, replace_tags: bool = False, replace_domains: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            old = self.companies.get(company_id)
            if old is None:
                raise NotFound(f"Company {company_id} not found")
            merged = {k: old.get(k) for k in COMPANY_SCALARS}
            merged.update({k: v for k, v in data.items() if k in COMPANY_SCALARS})
            if not merged.get("name"):
                raise Invalid({"name": ["must not be empty"]})
            custom = dict(old.get("customAttributes") or {})
            custom.update(data.get("customAttributes") or {})
            merged["customAttributes"] = custom
            tags, domains = list(old.get("tags", ())), list(old.get("domains", ()))
            if "tags" in data:
                tags = list(data["tags"]) if replace_tags else tags + [t for t in data["tags"] if t not in tags]
            if "domains" in data:
                new = data["domains"]
                domains = list(new) if replace_domains else domains + [d for d in new if d not in domains]
            merged["tags"], merged["domains"] = tags, domains
            merged["serviceData"] = data.get("serviceData", old.get("serviceData"))
            record = self._company_record(company_id, merged, old["createdAt"], now_v2())
            record["origin"] = old.get("origin", "API")
            self._company_conflict(record)
            self._store_company(record, old)
            self.effects["companies_updated"] += 1
            return record

    def delete_company(self, company_id: int) -> None:
        with self.lock:
            record = self.companies.pop(company_id, None)
            if record is None:
                raise NotFound(f"Company {company_id} not found")
            self._company_name.pop(record["name"].lower(), None)
            if record.get("externalId"):
                self._company_ext.pop(record["externalId"], None)
            for domain in record.get("domains", ()):
                self._company_domain.pop(domain.lower(), None)
            for person_id in self.company_members.pop(company_id, set()):
                self.person_company.pop(person_id, None)
            self.effects["companies_deleted"] += 1
            self._touch()

    def company_add_persons(self, company_id: int, person_ids: Iterable[int]) -> None:
        with self.lock:
            members = self.company_members.setdefault(company_id, set())
            for person_id in person_ids:
                previous = self.person_company.get(person_id)
                if previous is not None and previous != company_id:
                    self.company_members.get(previous, set()).discard(person_id)
                self.person_company[person_id] = company_id
                members.add(person_id)
            self._touch()

    def company_remove_persons(self, company_id: int, person_ids: Iterable[int]) -> None:
        with self.lock:
            members = self.company_members.setdefault(company_id, set())
            for person_id in person_ids:
                if self.person_company.get(person_id) == company_id:
                    del self.person_company[person_id]
                members.discard(person_id)
            self._touch()
