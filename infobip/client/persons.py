"""The persons endpoints of Infobip's People API (v2 persons, contacts, batches, v3 match/upsert/merge)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from infobip.client.errors import InfobipError, NotFound, RateLimited
from infobip.client.transport import Transport

Json = dict[str, Any]


class PersonEndpoints(Transport):
    @staticmethod
    def _query(type_: str, identifier: Any, sender: str | None) -> dict[str, Any]:
        return {"type": type_, "identifier": str(identifier), "sender": sender}

    # ----- persons -----

    def get_person(self, type: str, identifier: Any, *, sender: str | None = None) -> Json:
        """One person by identifier (``type`` = ID, EXTERNAL_ID, EMAIL, PHONE, PUSH, ...). Raises NotFound."""
        return self._request("GET", "/people/2/persons", params=self._query(type, identifier, sender))

    def find_person(self, type: str, identifier: Any, *, sender: str | None = None) -> Json | None:
        """Like :meth:`get_person`, but None when there is no such person."""
        try:
            return self.get_person(type, identifier, sender=sender)
        except NotFound:
            return None

    def list_persons(
        self,
        *,
        limit: int = 20,
        page: int = 1,
        order_by: str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        include_total_count: bool = False,
    ) -> Json:
        """One page: ``{"persons": [...], "limit", "page", "orderBy"?, "totalCount"?}``."""
        params = self._list_params(limit, page, order_by, filter, include_total_count)
        body = self._request("GET", "/people/2/persons", params=params)
        return self._list_envelope(body, "persons", limit, page)

    def iter_persons(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        order_by: str | None = None,
        page_size: int = 1000,
        start_page: int = 1,
    ) -> Iterator[Json]:
        """Every person, page after page (stops at the first short page)."""
        page = start_page
        while True:
            persons = self.list_persons(limit=page_size, page=page, order_by=order_by, filter=filter)["persons"]
            yield from persons
            if len(persons) < page_size:
                return
            page += 1

    def create_person(self, person: Mapping[str, Any]) -> Json:
        """Create a person (``POST /people/2/persons``, 200). Safe to call once per intent: transient
        failures are retried only after checking the person does not exist already."""
        return self._create_safely(
            lambda: self._request("POST", "/people/2/persons", json_body=person, retries=0),
            lambda: self._lookup_created_person(person),
        )

    def _lookup_created_person(self, person: Mapping[str, Any]) -> Json | None:
        contacts = person.get("contactInformation") or {}
        candidates: list[tuple[str, str]] = []
        if person.get("externalId"):
            candidates.append(("EXTERNAL_ID", person["externalId"]))
        else:
            candidates += [("EMAIL", e["address"]) for e in contacts.get("email") or () if e.get("address")]
            candidates += [("PHONE", p["number"]) for p in contacts.get("phone") or () if p.get("number")]
        for type_, identifier in candidates:
            found = self.find_person(type_, identifier)
            if found is not None:
                return found
        return None

    def replace_person(self, type: str, identifier: Any, person: Mapping[str, Any], *, sender: str | None = None):
        """PUT: overwrite the profile (absent attributes cleared, tags and contacts replaced)."""
        return self._request("PUT", "/people/2/persons", params=self._query(type, identifier, sender), json_body=person)

    def update_person(self, type: str, identifier: Any, changes: Mapping[str, Any], *, sender: str | None = None):
        """PATCH: merge (absent attributes kept, tags and contacts appended)."""
        return self._request(
            "PATCH", "/people/2/persons", params=self._query(type, identifier, sender), json_body=changes
        )

    def delete_person(self, type: str, identifier: Any, *, sender: str | None = None) -> None:
        self._request("DELETE", "/people/2/persons", params=self._query(type, identifier, sender))

    def _contacts(self, method: str, type_: str, identifier: Any, contacts: Mapping[str, Any], sender: str | None):
        return self._request(
            method,
            "/people/2/persons/contactInformation",
            params=self._query(type_, identifier, sender),
            json_body={"contactInformation": contacts},
        )

    def add_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        """Add emails/phones: ``contacts`` = ``{"email": [{"address": ...}], "phone": [{"number": ...}]}``."""
        return self._contacts("PATCH", type, identifier, contacts, sender)

    def replace_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        return self._contacts("PUT", type, identifier, contacts, sender)

    def remove_contact_information(self, type: str, identifier: Any, contacts: Mapping[str, Any], *, sender=None):
        return self._contacts("DELETE", type, identifier, contacts, sender)

    @staticmethod
    def _has_identifier(person: Mapping[str, Any]) -> bool:
        contacts = person.get("contactInformation") or {}
        return bool(person.get("externalId") or contacts.get("email") or contacts.get("phone"))

    def create_persons(self, people: Iterable[Mapping[str, Any]]) -> Json:
        """Batch create (≤1000): ``{"results": [failed items only]}``; ``"partial"`` says if any failed.

        Retried after transient failures only when every person carries a unique identifier; then items
        a retry reports as existing may be ours from the lost attempt: ``"retried"`` is True in that case.
        """
        people = self._check_batch(list(people))
        safe = all(self._has_identifier(p) for p in people)
        retried = False
        attempt = 0
        while True:
            try:
                body = self._request("POST", "/people/2/persons/batch", json_body={"people": people}, retries=0)
                break
            except InfobipError as error:
                retryable = isinstance(error, RateLimited) or (safe and error.transient)
                if not retryable or attempt >= self.max_retries:
                    raise
                retried = retried or not isinstance(error, RateLimited)
                self.sleep(self._backoff_delay(attempt, error))
                attempt += 1
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        result["retried"] = retried
        return result

    def update_persons(self, updates: Iterable[Mapping[str, Any]]) -> Json:
        """Batch PATCH: items ``{"query": {"type", "identifier", "sender"?}, "update": {...}}``."""
        body = self._request("PATCH", "/people/2/persons/batch", json_body={"people": self._check_batch(updates)})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def delete_persons(self, queries: Iterable[Mapping[str, Any]]) -> Json:
        """Batch delete: ``queries`` = ``[{"type": ..., "identifier": ...}, ...]``."""
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        body = self._request("DELETE", "/people/2/persons/batch", json_body={"people": people})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def match_persons(self, identities: Iterable[Mapping[str, Any]]) -> list[Json]:
        """Map identities (``{"type", "identifier", "sender"?}``) to person ids; unmatched are absent."""
        body = self._request(
            "POST", "/people/2/persons/match", json_body={"identities": list(identities)}, idempotent=True
        )
        return list((body or {}).get("matches") or [])

    def upsert_persons(self, persons: Iterable[Mapping[str, Any]], *, partial: bool = True) -> Json:
        """v3 upsert (PATCH = partial, PUT = full replace): ``{"errors": [...], "results": [...]}``."""
        method = "PATCH" if partial else "PUT"
        body = self._request(method, "/people/3/persons/upsert", json_body={"persons": self._check_batch(persons)})
        return self._v3_result(body)

    def merge_persons(self, persons: Iterable[Mapping[str, Any]]) -> Json:
        """v3 merge; retried on transient failures because a repeated merge converges."""
        body = self._request(
            "POST", "/people/3/persons/merge", json_body={"persons": self._check_batch(persons)}, idempotent=True
        )
        return self._v3_result(body)

    @staticmethod
    def _v3_result(body: Any) -> Json:
        body = body or {}
        errors, results = body.get("errors") or [], body.get("results") or []
        return {  # the spec types these as objects but shows arrays: accept both
            "errors": errors if isinstance(errors, list) else [errors],
            "results": results if isinstance(results, list) else [results],
        }
