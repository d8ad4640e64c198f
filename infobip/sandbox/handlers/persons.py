"""Persons endpoints: v2 single, contact information, batch and match; v3 upsert and merge."""

from __future__ import annotations

from typing import Any

from infobip.contract import filters
from infobip.sandbox import store as st
from infobip.sandbox.handlers.base import (
    V3,
    ApiError,
    Request,
    Response,
    _batch_errors,
    _bool,
    _int_param,
    _items,
    _order_by,
    batch_response,
    from_store_error,
)


class PersonsHandlers:
    """Handlers of /people/2/persons* and /people/3/persons/*."""

    store: st.Store

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

    def persons_batch_create(self, req: Request) -> Response:
        people = _items(req.json_object(), "people")
        results = []
        for index, body in enumerate(people):
            try:
                self.store.create_person(self.store.parse_person(body))
            except st.StoreError as exc:
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "index": index})
        return batch_response(results, bool(results))

    def _query_person(self, item: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        query = item.get("query") if isinstance(item, dict) else None
        if not isinstance(query, dict):
            raise st.Invalid({"query": ["must not be null"]}, "query is required")
        person = self.store.find_person(query.get("type"), query.get("identifier"), query.get("sender"))
        return person, _identity_query(query)

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
        return batch_response(results, bool(results))

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
        return batch_response(results, bool(results))

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


def _identity_query(query: dict[str, Any]) -> dict[str, str]:
    """The spec's ``IdentityQuery`` echoed in a batch result: strings only, whatever JSON type was sent
    (``{"type": "ID", "identifier": 5}`` is echoed with ``"5"``). Call after the query was found valid."""
    return {k: str(query[k]) for k in ("type", "identifier", "sender") if query.get(k) is not None}
