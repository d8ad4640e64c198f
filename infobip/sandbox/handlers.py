"""The People API endpoints: routing, request validation and response bodies as Infobip's spec has them.

Every handler takes a :class:`Request` and returns a :class:`Response` or raises :class:`ApiError`, which
the server renders in the error family of the endpoint (CONTRACT-NOTES §1.3): the classic v2 envelope
(``requestError.serviceException``), v3 ``{code, message, details}`` for ``/people/3/persons/*``, or
problem details for the events API. 401/403/429/5xx are the classic envelope everywhere, as in the spec.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from infobip.contract import filters
from infobip.sandbox import store as st

CLASSIC, V3, PROBLEM = "classic", "v3", "problem"

MESSAGE_IDS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "GENERAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
DEFAULT_TEXTS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests",
    500: "Something went wrong. Please contact support.",
    503: "Service temporarily unavailable. Please try again later.",
}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        family: str = CLASSIC,
        validation_errors: dict[str, list[str]] | None = None,
        code: int | None = None,
        details: list[dict[str, Any]] | None = None,
        problems: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message or DEFAULT_TEXTS.get(status, "Error")
        self.family = family if status not in (401, 403, 429) and status < 500 else CLASSIC
        self.validation_errors = validation_errors
        self.code = code
        self.details = details
        self.problems = problems
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        if self.family == V3:
            body: dict[str, Any] = {"code": self.code or int(f"{self.status}100"), "message": self.message}
            if self.details:
                body["details"] = self.details
            return body
        if self.family == PROBLEM:
            body = {
                "type": PROBLEM_TYPES.get(self.status, PROBLEM_TYPES[400]),
                "title": "One or more validation errors occurred." if self.status == 400 else self.message,
                "status": self.status,
                "traceId": uuid.uuid4().hex,
            }
            if self.problems is not None:
                body["errors"] = self.problems
            elif self.status == 400:
                body["errors"] = [{"index": -1, "code": self.code or 400501, "message": self.message}]
            return body
        exception: dict[str, Any] = {"messageId": MESSAGE_IDS.get(self.status, "ERROR"), "text": self.message}
        if self.validation_errors:
            exception["validationErrors"] = self.validation_errors
        return {"requestError": {"serviceException": exception}}


def from_store_error(exc: st.StoreError, family: str = CLASSIC) -> ApiError:
    status = 400 if isinstance(exc, st.Duplicate) else exc.status  # single writes: duplicates are 400s
    if family == V3:
        details = [{"property": k, "message": m} for k, msgs in exc.errors.items() for m in msgs]
        return ApiError(status, exc.message, family=V3, code=exc.code, details=details or None)
    if family == PROBLEM:
        details = [{"property": k, "message": m} for k, msgs in exc.errors.items() for m in msgs]
        problems = [{"index": -1, "code": 400501, "message": exc.message, **({"details": details} if details else {})}]
        return ApiError(exc.status, exc.message, family=PROBLEM, problems=problems if exc.status == 400 else None)
    return ApiError(status, exc.message, validation_errors=exc.errors or None)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    family: str = CLASSIC
    _json: Any = None
    _parsed: bool = False

    def json(self) -> Any:
        if not self._parsed:
            if not self.body.strip():
                self._json = None
            else:
                try:
                    self._json = json.loads(self.body)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    if self.family == V3:
                        raise ApiError(400, "Malformed JSON body, wrong syntax", family=V3, code=400103) from exc
                    if self.family == PROBLEM:
                        raise ApiError(
                            400,
                            "Invalid request. Please ensure the request body is a properly structured JSON.",
                            family=PROBLEM,
                            problems=[{"index": -1, "code": 400500, "message": f"Invalid JSON: {exc}"}],
                        ) from exc
                    raise ApiError(400, f"Malformed JSON: {exc}") from exc
            self._parsed = True
        return self._json

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object", family=self.family)
        return body


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-encodable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    method: str
    template: str
    handler: Callable[[Request], Response]
    family: str = CLASSIC
    creates: bool = False
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.regex = re.compile(f"^{pattern}/?$")

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        message = f"Parameter '{name}' must be an integer"
        raise ApiError(400, message, validation_errors={name: ["must be an integer"]}) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"Parameter '{name}' must be {bounds}", validation_errors={name: [f"must be {bounds}"]})
    return value


def _order_by(query: dict[str, str], allowed: tuple[str, ...]) -> str | None:
    raw = query.get("orderBy")
    if not raw:
        return None
    name, _, direction = raw.partition(":")
    direction = direction.lower() or "asc"
    if name not in allowed or direction not in ("asc", "desc"):
        message = f"orderBy must be <field>:asc|desc with field one of {', '.join(allowed)}"
        raise ApiError(400, f"Invalid orderBy '{raw}': {message}", validation_errors={"orderBy": [message]})
    return f"{name}:{direction}"


def _items(body: dict[str, Any], key: str, family: str = CLASSIC, limit: int = st.MAX_BATCH) -> list[Any]:
    items = body.get(key)
    if not isinstance(items, list):
        raise ApiError(400, f"'{key}' must be an array", family=family, validation_errors={key: ["must be an array"]})
    if not items:
        raise ApiError(400, f"'{key}' must not be empty", family=family, validation_errors={key: ["must not be empty"]})
    if len(items) > limit:
        message = f"size must be between 1 and {limit}"
        raise ApiError(400, f"'{key}' {message}", family=family, validation_errors={key: [message]})
    return items


def _batch_errors(exc: st.StoreError) -> list[dict[str, str]]:
    if isinstance(exc, st.Duplicate) or not exc.errors:
        return [{"message": exc.message}]
    return [{"message": f"{name}: {msg}"} for name, msgs in exc.errors.items() for msg in msgs]


class Api:
    """Routes + handlers over one :class:`~infobip.sandbox.store.Store`."""

    def __init__(self, store: st.Store, *, tags_list_style: str = "envelope") -> None:
        self.store = store
        self.tags_list_style = tags_list_style
        r = Route
        self.routes: list[Route] = [
            r("GET", "/people/2/persons", self.persons_get),
            r("POST", "/people/2/persons", self.person_create, creates=True),
            r("PUT", "/people/2/persons", self.person_replace),
            r("PATCH", "/people/2/persons", self.person_update),
            r("DELETE", "/people/2/persons", self.person_delete),
            r("PUT", "/people/2/persons/contactInformation", self.contacts_replace),
            r("PATCH", "/people/2/persons/contactInformation", self.contacts_add),
            r("DELETE", "/people/2/persons/contactInformation", self.contacts_remove),
            r("POST", "/people/2/persons/batch", self.persons_batch_create, creates=True),
            r("PATCH", "/people/2/persons/batch", self.persons_batch_update),
            r("DELETE", "/people/2/persons/batch", self.persons_batch_delete),
            r("POST", "/people/2/persons/match", self.persons_match),
            r("POST", "/people/3/persons/merge", self.persons_merge, family=V3, creates=True),
            r("PUT", "/people/3/persons/upsert", self.persons_upsert_full, family=V3, creates=True),
            r("PATCH", "/people/3/persons/upsert", self.persons_upsert_partial, family=V3, creates=True),
            r("GET", "/people/2/companies", self.companies_get),
            r("POST", "/people/2/companies", self.company_create, creates=True),
            r("PATCH", "/people/2/companies", self.company_update),
            r("DELETE", "/people/2/companies", self.company_delete),
            r("POST", "/people/2/companies/batch", self.companies_batch_create, creates=True),
            r("PATCH", "/people/2/companies/batch", self.companies_batch_update),
            r("DELETE", "/people/2/companies/batch", self.companies_batch_delete),
            r("PATCH", "/people/2/companies/persons", self.company_add_persons),
            r("DELETE", "/people/2/companies/persons", self.company_remove_persons),
            r("GET", "/people/2/tags", self.tags_list),
            r("POST", "/people/2/tags", self.tag_create, creates=True),
            r("GET", "/people/2/tags/{name}", self.tag_get),
            r("DELETE", "/people/2/tags/{name}", self.tag_delete),
            r("PATCH", "/people/2/tags/{name}/persons", self.tag_add_persons),
            r("DELETE", "/people/2/tags/{name}/persons", self.tag_remove_persons),
            r("GET", "/people/2/customAttributes", self.custom_attributes_list),
            r("POST", "/people/2/customAttributes", self.custom_attribute_create, creates=True),
            r("GET", "/people/2/customAttributes/{name}", self.custom_attribute_get),
            r("DELETE", "/people/2/customAttributes/{name}", self.custom_attribute_delete),
            r("GET", "/peopleevents/2/definitions", self.definitions_list, family=PROBLEM),
            r("POST", "/peopleevents/2/definitions", self.definition_create, family=PROBLEM, creates=True),
            r("GET", "/peopleevents/2/definitions/{definitionId}", self.definition_get, family=PROBLEM),
            r("POST", "/peopleevents/2/definitions/{definitionId}", self.definition_update, family=PROBLEM),
            r(
                "POST",
                "/peopleevents/2/persons/{personId}/definitions/{definitionId}/events",
                self.event_send,
                family=PROBLEM,
                creates=True,
            ),
            r("POST", "/people/3/events", self.events_batch, family=PROBLEM, creates=True),
        ]
        self.endpoints = {route.endpoint for route in self.routes}

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path known for another method)."""
        path_known = False
        for route in self.routes:
            found = route.regex.match(path)
            if found:
                path_known = True
                if route.method == method:
                    return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
        return None, {}, path_known

    # ----- persons -----

    def _person_query(self, req: Request) -> dict[str, Any]:
        q = req.query
        try:
            return self.store.get_person(q.get("type"), q.get("identifier"), q.get("sender"))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def persons_get(self, req: Request) -> Response:
        q = req.query
        if "identifier" in q or "type" in q:
            return Response(200, self._person_query(req))
        return Response(200, self._list(req, "persons", ("firstName", "lastName", "createdAt", "modifiedAt")))

    def _list(self, req: Request, kind: str, order_fields: tuple[str, ...]) -> dict[str, Any]:
        q = req.query
        limit = _int_param(q, "limit", 20, 1, 1000)
        page = _int_param(q, "page", 1, 1)
        order_by = _order_by(q, order_fields)
        filter_text = q.get("filter") or None
        node = None
        if filter_text:
            try:
                if kind == "persons":
                    node = filters.parse_person_filter(filter_text)
                else:
                    node = filters.parse_company_filter(filter_text)
            except filters.FilterError as exc:
                raise ApiError(400, f"Invalid filter: {exc}", validation_errors={"filter": [str(exc)]}) from exc
        records, total = self.store.list_records(
            kind,
            order_by=order_by,
            order_fields=order_fields,
            filter_text=filter_text,
            node=node,
            page=page,
            limit=limit,
        )
        body: dict[str, Any] = {kind: records, "limit": limit, "page": page}
        if order_by:
            body["orderBy"] = order_by
        if _bool(q.get("includeTotalCount")):
            body["totalCount"] = total
        return body

    def _parse_person(self, req: Request) -> st.PersonInput:
        try:
            return self.store.parse_person(req.json_object())
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def person_create(self, req: Request) -> Response:
        data = self._parse_person(req)
        try:
            return Response(200, self.store.create_person(data))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def _person_write(self, req: Request, mode: str) -> Response:
        person = self._person_query(req)
        data = self._parse_person(req)
        try:
            return Response(200, self.store.update_person(person["id"], data, mode))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def person_replace(self, req: Request) -> Response:
        return self._person_write(req, "replace")

    def person_update(self, req: Request) -> Response:
        return self._person_write(req, "merge")

    def person_delete(self, req: Request) -> Response:
        person = self._person_query(req)
        try:
            self.store.delete_person(person["id"])
        except st.StoreError as exc:
            raise from_store_error(exc) from exc
        return Response(200, None)

    def _contacts(self, req: Request, mode: str) -> Response:
        person = self._person_query(req)
        body = req.json_object()
        if "contactInformation" not in body or not isinstance(body["contactInformation"], dict):
            raise ApiError(
                400,
                "contactInformation is required",
                validation_errors={"contactInformation": ["must not be null"]},
            )
        try:
            data = self.store.parse_person({"contactInformation": body["contactInformation"]})
            return Response(200, self.store.change_contacts(person["id"], data, mode))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def contacts_replace(self, req: Request) -> Response:
        return self._contacts(req, "replace")

    def contacts_add(self, req: Request) -> Response:
        return self._contacts(req, "add")

    def contacts_remove(self, req: Request) -> Response:
        return self._contacts(req, "remove")

    @staticmethod
    def _batch_response(results: list[dict[str, Any]], failed: bool) -> Response:
        return Response(207 if failed else 200, {"results": results})

    def persons_batch_create(self, req: Request) -> Response:
        people = _items(req.json_object(), "people")
        results = []
        for index, body in enumerate(people):
            try:
                self.store.create_person(self.store.parse_person(body))
            except st.StoreError as exc:
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "index": index})
        return self._batch_response(results, bool(results))

    def _query_person(self, item: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        query = item.get("query") if isinstance(item, dict) else None
        if not isinstance(query, dict):
            raise st.Invalid({"query": ["must not be null"]}, "query is required")
        clean = {k: query[k] for k in ("type", "identifier", "sender") if query.get(k) is not None}
        return self.store.find_person(query.get("type"), query.get("identifier"), query.get("sender")), clean

    def persons_batch_update(self, req: Request) -> Response:
        people = _items(req.json_object(), "people")
        results = []
        for index, item in enumerate(people):
            query: dict[str, Any] = {}
            try:
                person, query = self._query_person(item)
                if person is None:
                    raise st.StoreError(409, "There is no person matching the query")
                data = self.store.parse_person(item.get("update") or {}, prefix=f"people[{index}].update.")
                self.store.update_person(person["id"], data, "merge")
            except st.StoreError as exc:
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "query": query, "isModified": False})
        return self._batch_response(results, bool(results))

    def persons_batch_delete(self, req: Request) -> Response:
        people = _items(req.json_object(), "people")
        results = []
        for item in people:
            query: dict[str, Any] = {}
            try:
                person, query = self._query_person(item)
                if person is None:
                    raise st.StoreError(409, "There is no person matching the query")
                self.store.delete_person(person["id"])
            except st.StoreError as exc:
                results.append({"errors": _batch_errors(exc), "status": exc.status, "query": query})
        return self._batch_response(results, bool(results))

    def persons_match(self, req: Request) -> Response:
        identities = _items(req.json_object(), "identities")
        matches, seen = [], set()
        for i, identity in enumerate(identities):
            if not isinstance(identity, dict) or not identity.get("type") or not identity.get("identifier"):
                raise ApiError(
                    400,
                    f"identities[{i}]: type and identifier are required",
                    validation_errors={f"identities[{i}]": ["type and identifier are required"]},
                )
            try:
                key = self.store.identity_key(identity["type"], identity["identifier"], identity.get("sender"))
                person = self.store.find_person(identity["type"], identity["identifier"], identity.get("sender"))
            except st.StoreError as exc:
                raise from_store_error(exc) from exc
            if person is None or key in seen:
                continue
            seen.add(key)
            match = {"personId": person["id"], "type": identity["type"], "identifier": identity["identifier"]}
            if identity.get("sender"):
                match["sender"] = identity["sender"]
            matches.append(match)
        return Response(200, {"matches": matches})

    # ----- v3 -----

    def _v3_persons(self, req: Request) -> list[Any]:
        body = req.json()
        if not isinstance(body, dict) or "persons" not in body:
            raise ApiError(
                400,
                "Missing required property 'persons'",
                family=V3,
                code=400104,
                details=[{"property": "persons", "message": "Required, but value is missing"}],
            )
        persons = body["persons"]
        if not isinstance(persons, list) or not 1 <= len(persons) <= st.MAX_BATCH:
            raise ApiError(
                400,
                "One or more properties of the request are invalid",
                family=V3,
                code=400101,
                details=[{"property": "persons", "message": f"size must be between 1 and {st.MAX_BATCH}"}],
            )
        return persons

    @staticmethod
    def _v3_error(index: int, exc: st.StoreError) -> dict[str, Any]:
        details = [{"property": k, "message": m} for k, msgs in exc.errors.items() for m in msgs]
        code = exc.code or (409100 if isinstance(exc, st.Duplicate) else 400100)
        message = exc.message if code != 400100 else "One or more properties of the person are invalid"
        error: dict[str, Any] = {"code": code, "message": message, "index": index}
        if details:
            error["details"] = details
        return error

    def _upsert(self, req: Request, mode: str) -> Response:
        errors, results = [], []
        for index, body in enumerate(self._v3_persons(req)):
            try:
                person_id, status = self.store.upsert(self.store.parse_person_v3(body, index), mode)
                results.append({"id": person_id, "index": index, "status": status})
            except st.StoreError as exc:
                errors.append(self._v3_error(index, exc))
        return Response(207, {"errors": errors, "results": results})

    def persons_upsert_full(self, req: Request) -> Response:
        return self._upsert(req, "replace")

    def persons_upsert_partial(self, req: Request) -> Response:
        return self._upsert(req, "merge")

    def persons_merge(self, req: Request) -> Response:
        errors, results = [], []
        for index, body in enumerate(self._v3_persons(req)):
            try:
                results.append({"id": self.store.merge(self.store.parse_person_v3(body, index)), "index": index})
            except st.StoreError as exc:
                errors.append(self._v3_error(index, exc))
        return Response(207, {"errors": errors, "results": results})

    # ----- companies -----

    def _company(self, selector: dict[str, Any]) -> dict[str, Any]:
        try:
            company = self.store.company_by_selector(selector)
        except st.StoreError as exc:
            raise from_store_error(exc) from exc
        if company is None:
            raise ApiError(404, self.store.describe_selector(selector))
        return company

    def companies_get(self, req: Request) -> Response:
        if any(req.query.get(k) for k in st.COMPANY_SELECTORS):
            return Response(200, {"companies": [self._company(req.query)]})
        return Response(200, self._list(req, "companies", ("name", "createdAt", "modifiedAt")))

    def company_create(self, req: Request) -> Response:
        try:
            return Response(200, self.store.create_company(self.store.parse_company(req.json(), require_name=True)))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def company_update(self, req: Request) -> Response:
        company = self._company(req.query)
        try:
            data = self.store.parse_company(req.json(), require_name=False)
            record = self.store.update_company(
                company["id"],
                data,
                replace_tags=_bool(req.query.get("replaceTags")),
                replace_domains=_bool(req.query.get("replaceDomains")),
            )
        except st.StoreError as exc:
            raise from_store_error(exc) from exc
        return Response(200, record)

    def company_delete(self, req: Request) -> Response:
        company = self._company(req.query)
        self.store.delete_company(company["id"])
        return Response(200, None)

    def companies_batch_create(self, req: Request) -> Response:
        companies = _items(req.json_object(), "companies")
        results, failed = [], False
        for index, body in enumerate(companies):
            try:
                record = self.store.create_company(
                    self.store.parse_company(body, require_name=True, prefix=f"companies[{index}].")
                )
                results.append({"status": 200, "id": record["id"], "index": index})
            except st.StoreError as exc:
                failed = True
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "index": index})
        return self._batch_response(results, failed)

    def _batch_company(self, item: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        query = item.get("query") if isinstance(item, dict) else None
        if not isinstance(query, dict):
            raise st.Invalid({"query": ["must not be null"]}, "query is required")
        company = self.store.company_by_selector(query)
        if company is None:
            raise st.StoreError(409, self.store.describe_selector(query))
        return company, query

    def companies_batch_update(self, req: Request) -> Response:
        companies = _items(req.json_object(), "companies")
        results = []
        for index, item in enumerate(companies):
            query = item.get("query") if isinstance(item, dict) and isinstance(item.get("query"), dict) else {}
            try:
                company, query = self._batch_company(item)
                data = self.store.parse_company(item.get("update") or {}, require_name=False, prefix="update.")
                self.store.update_company(company["id"], data)
            except st.StoreError as exc:
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "query": query, "index": index})
        return self._batch_response(results, bool(results))

    def companies_batch_delete(self, req: Request) -> Response:
        companies = _items(req.json_object(), "companies")
        results = []
        for item in companies:
            query = item.get("query") if isinstance(item, dict) and isinstance(item.get("query"), dict) else {}
            try:
                company, query = self._batch_company(item)
                self.store.delete_company(company["id"])
            except st.StoreError as exc:
                results.append({"errors": _batch_errors(exc), "status": exc.status, "query": query})
        return self._batch_response(results, bool(results))

    def _people_ids(self, req: Request) -> list[int]:
        """Person ids for a ``{"people": [{"query": IdentityQuery}]}`` body; unmatched queries are skipped."""
        ids = []
        for item in _items(req.json_object(), "people"):
            try:
                person, _ = self._query_person(item)
            except st.StoreError as exc:
                raise from_store_error(exc) from exc
            if person is not None:
                ids.append(person["id"])
        return ids

    def company_add_persons(self, req: Request) -> Response:
        company = self._company(req.query)
        self.store.company_add_persons(company["id"], self._people_ids(req))
        return Response(200, None)

    def company_remove_persons(self, req: Request) -> Response:
        company = self._company(req.query)
        self.store.company_remove_persons(company["id"], self._people_ids(req))
        return Response(200, None)

    # ----- tags -----

    def _paged(self, req: Request, items: list[dict[str, Any]], key: str) -> tuple[list[dict[str, Any]], dict]:
        q = req.query
        limit = _int_param(q, "limit", 20, 1, 1000)
        page = _int_param(q, "page", 1, 1)
        order_by = _order_by(q, ("name", "createdAt", "modifiedAt"))
        if order_by:
            name, _, direction = order_by.partition(":")
            items = sorted(items, key=lambda t: (t.get(name) or "", t.get("id", 0)), reverse=direction == "desc")
        envelope: dict[str, Any] = {"limit": limit, "page": page}
        if order_by:
            envelope["orderBy"] = order_by
        if _bool(q.get("includeTotalCount")):
            envelope["totalCount"] = len(items)
        return items[(page - 1) * limit : page * limit], envelope

    def tags_list(self, req: Request) -> Response:
        with self.store.lock:
            tags = list(self.store.tags.values())
        page, envelope = self._paged(req, tags, "tags")
        if self.tags_list_style == "array":
            return Response(200, page)
        return Response(200, {"tags": page, **envelope})

    def tag_create(self, req: Request) -> Response:
        try:
            return Response(200, self.store.create_tag(req.json_object().get("name")))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def _tag(self, req: Request) -> dict[str, Any]:
        tag = self.store.tags.get(req.path_params["name"])
        if tag is None:
            raise ApiError(404, f"Tag {req.path_params['name']} not found")
        return tag

    def tag_get(self, req: Request) -> Response:
        return Response(200, self._tag(req))

    def tag_delete(self, req: Request) -> Response:
        self._tag(req)
        self.store.delete_tag(req.path_params["name"])
        return Response(200, None)

    def tag_add_persons(self, req: Request) -> Response:
        tag = self._tag(req)
        for person_id in self._people_ids(req):
            self.store.set_person_tags(person_id, add=[tag["name"]])
        return Response(200, None)

    def tag_remove_persons(self, req: Request) -> Response:
        tag = self._tag(req)
        for person_id in self._people_ids(req):
            self.store.set_person_tags(person_id, remove=[tag["name"]])
        return Response(200, None)

    # ----- custom attributes -----

    def custom_attributes_list(self, req: Request) -> Response:
        with self.store.lock:
            items = list(self.store.custom_attributes.values())
        page, envelope = self._paged(req, items, "customAttributes")
        return Response(200, {**envelope, "customAttributes": page})

    def custom_attribute_create(self, req: Request) -> Response:
        try:
            return Response(200, self.store.create_custom_attribute(req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def custom_attribute_get(self, req: Request) -> Response:
        definition = self.store.custom_attributes.get(req.path_params["name"])
        if definition is None:
            raise ApiError(404, f"Custom attribute {req.path_params['name']} not found")
        return Response(200, definition)

    def custom_attribute_delete(self, req: Request) -> Response:
        try:
            self.store.delete_custom_attribute(req.path_params["name"])
        except st.StoreError as exc:
            raise from_store_error(exc) from exc
        return Response(200, None)

    # ----- event definitions -----

    def definitions_list(self, req: Request) -> Response:
        q = req.query
        offset = _int_param(q, "offset", 0, 0)
        limit = _int_param(q, "limit", 100, 0)
        with self.store.lock:
            items = list(self.store.definitions.values())
        categories = [c for c in (q.get("category") or "").split(",") if c]
        if categories:
            items = [d for d in items if d.get("category") in categories]
        if q.get("searchText"):
            needle = q["searchText"].lower()
            items = [
                d
                for d in items
                if any(needle in (d.get(k) or "").lower() for k in ("definitionId", "title", "description"))
            ]
        key = "title" if q.get("orderField") == "Title" else "definitionId"
        items.sort(key=lambda d: (d.get(key) or "").lower(), reverse=q.get("orderType") == "Desc")
        return Response(200, items[offset : offset + limit])

    def definition_create(self, req: Request) -> Response:
        try:
            return Response(201, self.store.create_definition(req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc

    def _definition(self, definition_id: str, family: str = PROBLEM) -> dict[str, Any]:
        definition = self.store.definitions.get(definition_id)
        if definition is None:
            raise ApiError(404, f"Event definition {definition_id} not found", family=family)
        return definition

    def definition_get(self, req: Request) -> Response:
        return Response(200, self._definition(req.path_params["definitionId"]))

    def definition_update(self, req: Request) -> Response:
        self._definition(req.path_params["definitionId"])
        try:
            return Response(200, self.store.update_definition(req.path_params["definitionId"], req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc

    # ----- events -----

    def _event_person(self, type_: str, identifier: str, sender: str | None, create: bool) -> dict[str, Any] | None:
        person = self.store.find_person(type_, identifier, sender)
        if person is None and create and type_ in st.AUTO_CREATE_TYPES:
            data = st.PersonInput()
            if type_ == "EXTERNAL_ID":
                data.scalars["externalId"] = identifier
            elif type_ == "EMAIL":
                data.emails = [identifier]
            else:
                data.phones = [identifier]
            person = self.store.create_person(data)
        return person

    def event_send(self, req: Request) -> Response:
        type_ = req.query.get("identifierType")
        identifier = req.path_params["personId"]
        if not type_:
            raise ApiError(400, "identifierType is required", family=PROBLEM)
        body = req.json()
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object", family=PROBLEM)
        event_id = body.get("eventId")
        if event_id is not None and (not isinstance(event_id, str) or not st._EVENT_ID_RE.match(event_id)):
            raise ApiError(
                400,
                "eventId must be 1-36 characters of letters, digits, _ and -",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400504,
                        "message": "Invalid event",
                        "details": [{"property": "eventId", "message": "Must only include A-Z, a-z, 0-9, _ and -."}],
                    }
                ],
            )
        definition = self.store.definitions.get(req.path_params["definitionId"])
        if definition is None:
            raise ApiError(404, f"Event definition {req.path_params['definitionId']} not found")
        if definition["isInternalDefinition"]:
            raise ApiError(
                400,
                "Internal events posting prohibited.",
                family=PROBLEM,
                problems=[{"index": -1, "code": 400506, "message": "Internal events posting prohibited."}],
            )
        problems = self.store.check_event_properties(definition, body.get("properties"))
        if problems:
            raise ApiError(
                400,
                "The event properties do not match the definition",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400501,
                        "message": "The event schema is invalid.",
                        "details": [{"property": p, "message": m} for p, m in problems],
                    }
                ],
            )
        try:
            person = self._event_person(
                type_, identifier, req.query.get("sender"), _bool(req.query.get("createPerson"))
            )
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc
        if person is None:
            raise ApiError(404, f"Person with {type_} {identifier} not found")
        event, _ = self.store.record_event(
            person["id"], definition["definitionId"], event_id, body.get("properties"), st.now_iso()
        )
        return Response(201, event)

    def events_batch(self, req: Request) -> Response:
        import datetime as dt

        items = req.json()
        if not isinstance(items, list):
            raise ApiError(
                400,
                "Invalid request",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400500,
                        "message": "Invalid request. Please ensure the request body is a properly structured JSON "
                        "array.",
                    }
                ],
            )
        if not items:
            raise ApiError(
                400,
                "Empty batch",
                family=PROBLEM,
                problems=[{"index": -1, "code": 400502, "message": "The batch cannot be empty."}],
            )
        if len(items) > st.MAX_EVENT_BATCH:
            raise ApiError(
                400,
                "Batch too large",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400503,
                        "message": f"The batch count exceeds the allowed limit of {st.MAX_EVENT_BATCH} items.",
                    }
                ],
            )
        now = dt.datetime.now(dt.UTC)
        problems: list[dict[str, Any]] = []
        accepted = []
        for index, item in enumerate(items):
            details = []
            if not isinstance(item, dict):
                problems.append({"index": index, "code": 400504, "message": "Each item must be a JSON object."})
                continue
            identifier = item.get("identifier") if isinstance(item.get("identifier"), dict) else {}
            if not item.get("definitionId"):
                details.append({"property": "definitionId", "message": "Must not be empty."})
            if not identifier.get("id"):
                details.append({"property": "identifier.id", "message": "Must not be empty."})
            if identifier.get("type") not in st.IDENTITY_TYPES:
                details.append({"property": "identifier.type", "message": "Must be a known identifier type."})
            event_id = item.get("eventId")
            if event_id is not None and (not isinstance(event_id, str) or not st._EVENT_ID_RE.match(event_id)):
                details.append({"property": "eventId", "message": "Must only include A-Z, a-z, 0-9, _ and -."})
            occurred = st._parse_iso(item.get("occurredTime"))
            if occurred is None:
                details.append({"property": "occurredTime", "message": "Must be yyyy-MM-dd'T'HH:mm:ss.SSSZ."})
            elif occurred < now - dt.timedelta(days=30):
                details.append({"property": "occurredTime", "message": "Must not be older than 30 days."})
            if details:
                problems.append(
                    {
                        "index": index,
                        "code": 400504,
                        "message": "One or more batch items contain invalid properties.",
                        "details": details,
                    }
                )
                continue
            definition = self.store.definitions.get(item["definitionId"])
            if definition is None:
                problems.append(
                    {
                        "index": index,
                        "code": 400501,
                        "message": f"The event schema is invalid. Details: definition {item['definitionId']} "
                        "does not exist.",
                    }
                )
                continue
            if definition["isInternalDefinition"]:
                problems.append({"index": index, "code": 400506, "message": "Internal events posting prohibited."})
                continue
            prop_problems = self.store.check_event_properties(definition, item.get("properties"))
            if prop_problems:
                problems.append(
                    {
                        "index": index,
                        "code": 400501,
                        "message": "The event schema is invalid.",
                        "details": [{"property": p, "message": m} for p, m in prop_problems],
                    }
                )
                continue
            try:
                person = self.store.find_person(identifier["type"], identifier["id"], identifier.get("sender"))
            except st.StoreError as exc:
                problems.append({"index": index, "code": 400504, "message": exc.message})
                continue
            if person is None and identifier["type"] not in st.AUTO_CREATE_TYPES:
                problems.append(
                    {"index": index, "code": 400505, "message": "Person with such identifier doesn't exist."}
                )
                continue
            occurred = min(occurred, now)
            accepted.append((item, identifier, occurred.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred:%f}"[:3] + "Z"))
        if problems:
            raise ApiError(400, "One or more validation errors occurred.", family=PROBLEM, problems=problems)
        with self.store.lock:  # all or nothing: validated above, applied together
            for item, identifier, occurred_text in accepted:
                person = self._event_person(identifier["type"], identifier["id"], identifier.get("sender"), True)
                assert person is not None
                self.store.record_event(
                    person["id"], item["definitionId"], item.get("eventId"), item.get("properties"), occurred_text
                )
        return Response(202, None)
