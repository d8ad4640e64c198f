"""Companies endpoints: single, batch and person membership."""

from __future__ import annotations

from typing import Any

from infobip.sandbox import store as st
from infobip.sandbox.handlers.base import (
    ApiError,
    Request,
    Response,
    _batch_errors,
    _bool,
    _items,
    batch_response,
    from_store_error,
)


class CompaniesHandlers:
    """Handlers of /people/2/companies*."""

    store: st.Store

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
        return batch_response(results, failed)

    def _batch_company(self, item: Any) -> dict[str, Any]:
        query = item.get("query") if isinstance(item, dict) else None
        if not isinstance(query, dict):
            raise st.Invalid({"query": ["must not be null"]}, "query is required")
        company = self.store.company_by_selector(query)
        if company is None:
            raise st.StoreError(409, self.store.describe_selector(query))
        return company

    def companies_batch_update(self, req: Request) -> Response:
        companies = _items(req.json_object(), "companies")
        results = []
        for index, item in enumerate(companies):
            query = _company_query(item)
            try:
                company = self._batch_company(item)
                data = self.store.parse_company(item.get("update") or {}, require_name=False, prefix="update.")
                self.store.update_company(company["id"], data)
            except st.StoreError as exc:
                status = 409 if isinstance(exc, st.Duplicate) else exc.status
                results.append({"errors": _batch_errors(exc), "status": status, "query": query, "index": index})
        return batch_response(results, bool(results))

    def companies_batch_delete(self, req: Request) -> Response:
        companies = _items(req.json_object(), "companies")
        results = []
        for item in companies:
            query = _company_query(item)
            try:
                company = self._batch_company(item)
                self.store.delete_company(company["id"])
            except st.StoreError as exc:
                results.append({"errors": _batch_errors(exc), "status": exc.status, "query": query})
        return batch_response(results, bool(results))

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


def _company_query(item: Any) -> dict[str, Any]:
    """The query echoed in a batch result: the item's company selectors (id, externalId, name, domain) only."""
    query = item.get("query") if isinstance(item, dict) else None
    if not isinstance(query, dict):
        return {}
    return {k: v for k, v in query.items() if k in st.COMPANY_SELECTORS and v not in (None, "")}
