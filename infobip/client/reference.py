"""Tags, custom attribute definitions, companies and events of Infobip's People API."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from infobip.client.errors import AlreadyExists, Conflict, NotFound
from infobip.client.transport import Transport
from infobip.contract.limits import MAX_EVENT_BATCH

Json = dict[str, Any]


class ReferenceEndpoints(Transport):
    # ----- tags -----

    def list_tags(
        self, *, limit: int = 20, page: int = 1, order_by: str | None = None, include_total_count: bool = False
    ) -> Json:
        """``{"tags": [...], "limit", "page", ...}`` whether Infobip answers an envelope or a bare array."""
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "includeTotalCount": "true" if include_total_count else None,
        }
        return self._list_envelope(self._request("GET", "/people/2/tags", params=params), "tags", limit, page)

    def create_tag(self, name: str) -> Json:
        return self._create_safely(
            lambda: self._request("POST", "/people/2/tags", json_body={"name": name}, retries=0),
            lambda: self._find(lambda: self.get_tag(name)),
        )

    def ensure_tag(self, name: str) -> Json:
        """The tag, created when missing."""
        try:
            return self.create_tag(name)
        except AlreadyExists:
            return self.get_tag(name)

    def get_tag(self, name: str) -> Json:
        return self._request("GET", "/people/2/tags/{name}", path_params={"name": name})

    def delete_tag(self, name: str) -> None:
        self._request("DELETE", "/people/2/tags/{name}", path_params={"name": name})

    def tag_persons(self, name: str, queries: Iterable[Mapping[str, Any]]) -> None:
        """Add tag ``name`` to persons (``queries`` = identity queries, ≤1000)."""
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        self._request(
            "PATCH", "/people/2/tags/{name}/persons", path_params={"name": name}, json_body={"people": people}
        )

    def untag_persons(self, name: str, queries: Iterable[Mapping[str, Any]]) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        self._request(
            "DELETE", "/people/2/tags/{name}/persons", path_params={"name": name}, json_body={"people": people}
        )

    # ----- custom attribute definitions -----

    def list_custom_attributes(
        self, *, limit: int = 20, page: int = 1, order_by: str | None = None, include_total_count: bool = False
    ) -> Json:
        params = {
            "limit": limit,
            "page": page,
            "orderBy": order_by,
            "includeTotalCount": "true" if include_total_count else None,
        }
        try:
            body = self._request("GET", "/people/2/customAttributes", params=params)
        except NotFound:  # reported by third parties when no attribute is defined yet
            body = {"customAttributes": []}
        return self._list_envelope(body, "customAttributes", limit, page)

    def create_custom_attribute(
        self, name: str, data_type: str, *, object_schema: Mapping[str, str] | None = None
    ) -> Json:
        body: Json = {"name": name, "dataType": data_type}
        if object_schema is not None:
            body["objectSchema"] = dict(object_schema)
        return self._create_safely(
            lambda: self._request("POST", "/people/2/customAttributes", json_body=body, retries=0),
            lambda: self._find(lambda: self.get_custom_attribute(name)),
        )

    def get_custom_attribute(self, name: str) -> Json:
        return self._request("GET", "/people/2/customAttributes/{name}", path_params={"name": name})

    def delete_custom_attribute(self, name: str) -> None:
        self._request("DELETE", "/people/2/customAttributes/{name}", path_params={"name": name})

    # ----- companies -----

    @staticmethod
    def _selector(id: Any = None, external_id: str | None = None, name: str | None = None, domain=None) -> Json:
        given = {"id": id, "externalId": external_id, "name": name, "domain": domain}
        given = {k: v for k, v in given.items() if v is not None}
        if len(given) != 1:
            raise ValueError("give exactly one of id, external_id, name, domain")
        return given

    def get_company(self, *, id: Any = None, external_id: str | None = None, name=None, domain=None) -> Json:
        """One company by selector; raises NotFound (also when Infobip answers an empty list)."""
        selector = self._selector(id, external_id, name, domain)
        body = self._request("GET", "/people/2/companies", params=selector)
        companies = body.get("companies") if isinstance(body, dict) else body
        if isinstance(companies, list):
            if not companies:
                raise NotFound(f"no company with {selector}", status=404, endpoint="GET /people/2/companies")
            return companies[0]
        return body

    def find_company(self, **selector: Any) -> Json | None:
        try:
            return self.get_company(**selector)
        except NotFound:
            return None

    def list_companies(
        self,
        *,
        limit: int = 20,
        page: int = 1,
        order_by: str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        include_total_count: bool = False,
    ) -> Json:
        params = self._list_params(limit, page, order_by, filter, include_total_count)
        body = self._request("GET", "/people/2/companies", params=params)
        return self._list_envelope(body, "companies", limit, page)

    def create_company(self, company: Mapping[str, Any]) -> Json:
        return self._create_safely(
            lambda: self._request("POST", "/people/2/companies", json_body=company, retries=0),
            lambda: self.find_company(name=company["name"]) if company.get("name") else None,
        )

    def update_company(
        self,
        changes: Mapping[str, Any],
        *,
        id: Any = None,
        external_id: str | None = None,
        name: str | None = None,
        domain: str | None = None,
        replace_tags: bool = False,
        replace_domains: bool = False,
    ) -> Json:
        params = self._selector(id, external_id, name, domain)
        params["replaceTags"] = "true" if replace_tags else None
        params["replaceDomains"] = "true" if replace_domains else None
        return self._request("PATCH", "/people/2/companies", params=params, json_body=changes)

    def delete_company(self, *, id: Any = None, external_id: str | None = None, name=None, domain=None) -> None:
        self._request("DELETE", "/people/2/companies", params=self._selector(id, external_id, name, domain))

    def create_companies(self, companies: Iterable[Mapping[str, Any]]) -> Json:
        """Batch create: ``{"results": [{"status": 200, "id", "index"} | {"status": 409, "errors", ...}]}``."""
        body = self._request(
            "POST", "/people/2/companies/batch", json_body={"companies": self._check_batch(companies)}, retries=0
        )
        result = dict(body or {"results": []})
        result["partial"] = any(r.get("status") != 200 for r in result.get("results") or [])
        return result

    def update_companies(self, updates: Iterable[Mapping[str, Any]]) -> Json:
        """Batch PATCH: ``[{"query": {"name"|"id"|"externalId"|"domain": ...}, "update": {...}}]``."""
        body = self._request("PATCH", "/people/2/companies/batch", json_body={"companies": self._check_batch(updates)})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def delete_companies(self, queries: Iterable[Mapping[str, Any]]) -> Json:
        companies = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        body = self._request("DELETE", "/people/2/companies/batch", json_body={"companies": companies})
        result = dict(body or {"results": []})
        result["partial"] = bool(result.get("results"))
        return result

    def add_persons_to_company(self, queries: Iterable[Mapping[str, Any]], **selector: Any) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        params = self._selector(**selector)
        self._request("PATCH", "/people/2/companies/persons", params=params, json_body={"people": people})

    def remove_persons_from_company(self, queries: Iterable[Mapping[str, Any]], **selector: Any) -> None:
        people = [{"query": dict(q)} for q in self._check_batch(list(queries))]
        params = self._selector(**selector)
        self._request("DELETE", "/people/2/companies/persons", params=params, json_body={"people": people})

    # ----- events -----

    def list_event_definitions(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        order_field: str | None = None,
        order_type: str | None = None,
        category: Iterable[str] | None = None,
        search_text: str | None = None,
    ) -> list[Json]:
        params = {
            "offset": offset,
            "limit": limit,
            "orderField": order_field,
            "orderType": order_type,
            "category": ",".join(category) if category else None,
            "searchText": search_text,
        }
        try:
            body = self._request("GET", "/peopleevents/2/definitions", params=params)
        except NotFound:  # the spec's "No matches"
            return []
        if isinstance(body, dict):
            for key in ("definitions", "results", "items"):
                if isinstance(body.get(key), list):
                    return body[key]
            return []
        return list(body or [])

    def create_event_definition(self, definition: Mapping[str, Any]) -> Json:
        """201 definition; a duplicate ``definitionId`` raises AlreadyExists (409)."""
        definition_id = definition.get("definitionId")

        def create() -> Any:
            try:
                return self._request("POST", "/peopleevents/2/definitions", json_body=definition, retries=0)
            except Conflict as exc:
                if isinstance(exc, AlreadyExists):
                    raise
                raise AlreadyExists(
                    exc.message, status=exc.status, code=exc.code, details=exc.details, body=exc.body
                ) from exc

        return self._create_safely(
            create, lambda: self._find(lambda: self.get_event_definition(definition_id)) if definition_id else None
        )

    def get_event_definition(self, definition_id: str) -> Json:
        return self._request(
            "GET", "/peopleevents/2/definitions/{definitionId}", path_params={"definitionId": definition_id}
        )

    def update_event_definition(self, definition_id: str, changes: Mapping[str, Any]) -> Json:
        return self._request(
            "POST",
            "/peopleevents/2/definitions/{definitionId}",
            path_params={"definitionId": definition_id},
            json_body=changes,
            idempotent=True,
        )

    def send_event(
        self,
        definition_id: str,
        identifier: Any,
        *,
        identifier_type: str = "ID",
        properties: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        create_person: bool = False,
        sender: str | None = None,
    ) -> Json:
        """Send one event (201). Safe to retry: an ``eventId`` is generated when not given and Infobip
        records an eventId once."""
        body = {"eventId": event_id or uuid.uuid4().hex, "properties": dict(properties or {})}
        params = {
            "identifierType": identifier_type,
            "createPerson": "true" if create_person else None,
            "sender": sender,
        }
        return self._request(
            "POST",
            "/peopleevents/2/persons/{personId}/definitions/{definitionId}/events",
            path_params={"personId": identifier, "definitionId": definition_id},
            params=params,
            json_body=body,
            idempotent=True,
        )

    def send_events(self, events: Iterable[Mapping[str, Any]]) -> list[Json]:
        """Batch events (≤5000, all or nothing, 202). Items without ``eventId`` get one so retries are safe;
        returns the items as sent."""
        items = []
        for event in self._check_batch(list(events), MAX_EVENT_BATCH):
            item = dict(event)
            item.setdefault("eventId", uuid.uuid4().hex)
            items.append(item)
        self._request("POST", "/people/3/events", json_body=items, idempotent=True)
        return items
