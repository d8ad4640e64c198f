"""Every route of the REST API. /v1/identitites/... (the source documents' spelling) is an alias of
/v1/identities/...; /v1/imports is the people import; any other /v1/ URL answers the error envelope (404), never
an HTML page."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from companies import api as companies
from identities import api as identities
from identities import api_bulk as bulk
from identities import api_person as identity_person
from imports import api as imports
from infobip import api as sync
from people import api as people
from people import api_gdpr as gdpr
from people import api_segments as segments
from tracking import api_conversations as conversations
from tracking import api_mobile as mobile


class Hex24Converter:
    regex = "[0-9a-f]{24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ObjectIdConverter:
    """Integer ids that fit PostgreSQL's bigint (never an overflow further down)."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


class ContactKindConverter:
    regex = "phone|email"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(Hex24Converter, "hex24")
register_converter(ContactKindConverter, "contactkind")
register_converter(ObjectIdConverter, "objid")

# (route, view, name) under /v1/identities/ (and its misspelled alias); literal routes before <hex24:...> ones.
IDENTITY_ROUTES = [
    ("person", identities.PersonIdentityCreateView, "identity-person-create"),
    ("company", companies.CompanyCreateView, "company-create"),
    ("persons", people.PersonListView, "persons"),
    ("persons/sync", sync.PersonSyncView, "persons-sync"),
    ("persons/sync/<objid:run_id>", sync.PersonSyncRunView, "persons-sync-run"),
    ("persons/merge", people.PersonMergeView, "persons-merge"),
    ("persons/batch", bulk.PersonBatchView, "persons-batch"),
    ("persons/export", bulk.PersonExportView, "persons-export"),
    ("persons/merge/<objid:record_id>/undo", people.PersonMergeUndoView, "persons-merge-undo"),
    ("persons/<objid:person_id>", people.PersonDetailView, "person"),
    ("persons/<objid:person_id>/erase", gdpr.PersonEraseView, "person-erase"),
    ("persons/<objid:person_id>/export", gdpr.PersonDataExportView, "person-data-export"),
    ("persons/events/<str:definition_id>", people.PersonEventByIdentifierView, "persons-event-by-identifier"),
    ("companies", companies.CompanyListView, "companies"),
    ("companies/<objid:company_id>", companies.CompanyDetailView, "company"),
    ("companies/<objid:company_id>/persons", companies.CompanyPersonsView, "company-persons"),
    ("segments", segments.SegmentListView, "segments"),
    ("segments/<objid:segment_id>", segments.SegmentDetailView, "segment"),
    ("segments/<objid:segment_id>/persons", segments.SegmentPersonsView, "segment-persons"),
    ("tags", people.TagListView, "tags"),
    ("tags/<path:name>", people.TagDetailView, "tag"),
    ("customAttributes", people.CustomAttributeListView, "custom-attributes"),
    ("customAttributes/<path:name>", people.CustomAttributeDetailView, "custom-attribute"),
    ("events/definitions", people.EventDefinitionListView, "event-definitions"),
    ("events/definitions/<str:definition_id>", people.EventDefinitionDetailView, "event-definition"),
    ("<hex24:identity_id>", identities.IdentityDetailView, "identity"),
    ("<hex24:identity_id>/person", identities.IdentityPersonView, "identity-person"),
    ("<hex24:identity_id>/person/unassign", identities.IdentityPersonUnassignView, "identity-person-unassign"),
    (
        "<hex24:identity_id>/person/<objid:person_id>/assign",
        identities.IdentityPersonAssignView,
        "identity-person-assign",
    ),
    (
        "<hex24:identity_id>/person/event/<str:definition_id>",
        identities.IdentityPersonEventView,
        "identity-person-event",
    ),
    ("<hex24:identity_id>/company", identities.IdentityCompanyView, "identity-company"),
    ("<hex24:identity_id>/person/contacts", identity_person.PersonContactsView, "identity-person-contacts"),
    (
        "<hex24:identity_id>/person/contacts/<contactkind:kind>/<path:value>",
        identity_person.PersonContactView,
        "identity-person-contact",
    ),
    ("<hex24:identity_id>/person/tags", identity_person.PersonTagsView, "identity-person-tags"),
    ("<hex24:identity_id>/person/tags/<path:name>", identity_person.PersonTagView, "identity-person-tag"),
    ("<hex24:identity_id>/person/events", identity_person.PersonEventListView, "identity-person-events"),
]


def routes(table) -> list:
    return [path(route, view.as_view(), name=name) for route, view, name in table]


identity_routes = routes(IDENTITY_ROUTES)


class NotFoundView(APIView):
    """Unknown /v1/ URLs: the API's 404 envelope for every method."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise NotFound(f"No endpoint at {request.path}.")


class BenchPingView(APIView):
    """Internal, only with API_BENCH_ENDPOINT=1: a bare DRF endpoint returning constant JSON, the baseline of
    bench/api.py."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def get(self, request):
        return Response({"ok": True, "name": "ping"})


urlpatterns = [
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/identities", identities.IdentityListView.as_view(), name="identities"),
    path("v1/identities/", include((identity_routes, "api"), namespace="api")),
    path("v1/identitites", identities.IdentityListView.as_view(), name="identities-alias"),
    path("v1/identitites/", include((identity_routes, "api"), namespace="api-alias")),
    path("v1/imports", imports.ImportListView.as_view(), name="imports"),
    path("v1/imports/<objid:job_id>", imports.ImportDetailView.as_view(), name="import"),
    path("v1/imports/<objid:job_id>/errors.csv", imports.ImportErrorsCsvView.as_view(), name="import-errors-csv"),
    path("v1/imports/<objid:job_id>/errors.xlsx", imports.ImportErrorsXlsxView.as_view(), name="import-errors-xlsx"),
    path("v1/imports/<objid:job_id>/cancel", imports.ImportCancelView.as_view(), name="import-cancel"),
    # Mobile SDK scenarios (tracking.mobile: install, login with a confirmed identity, logout) and conversations
    path("v1/mobile/installations", mobile.InstallationListView.as_view(), name="mobile-installations"),
    path("v1/mobile/installations/login", mobile.InstallationLoginView.as_view(), name="mobile-login"),
    path("v1/mobile/installations/logout", mobile.InstallationLogoutView.as_view(), name="mobile-logout"),
    path("v1/conversations/events", conversations.ConversationEventView.as_view(), name="conversation-events"),
]
if settings.API_BENCH_ENDPOINT:
    urlpatterns.append(path("v1/_bench/ping", BenchPingView.as_view()))
urlpatterns.append(re_path(r"^v1/", NotFoundView.as_view()))
