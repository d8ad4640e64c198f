"""The People API endpoints: routing, request validation and response bodies as Infobip's spec has them.

Every handler takes a :class:`Request` and returns a :class:`Response` or raises :class:`ApiError`, which
the server renders in the error family of the endpoint (CONTRACT-NOTES §1.3): the classic v2 envelope
(``requestError.serviceException``), v3 ``{code, message, details}`` for ``/people/3/persons/*``, or
problem details for the events API. 401/403/429/5xx are the classic envelope everywhere, as in the spec.
"""

from __future__ import annotations

from urllib.parse import unquote

from infobip.sandbox import store as st
from infobip.sandbox.handlers.base import CLASSIC, PROBLEM, V3, ApiError, Request, Response, Route, from_store_error
from infobip.sandbox.handlers.companies import CompaniesHandlers
from infobip.sandbox.handlers.events import EventsHandlers
from infobip.sandbox.handlers.persons import PersonsHandlers
from infobip.sandbox.handlers.tags import TagsHandlers

__all__ = ["CLASSIC", "PROBLEM", "V3", "Api", "ApiError", "Request", "Response", "Route", "from_store_error"]


class Api(PersonsHandlers, CompaniesHandlers, TagsHandlers, EventsHandlers):
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

    def methods_for(self, path: str) -> list[str]:
        """The methods served on ``path`` (the ``Allow`` header of a 405)."""
        return [route.method for route in self.routes if route.regex.match(path)]
