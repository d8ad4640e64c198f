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

identity_routes = [
    path("person", identities.PersonIdentityCreateView.as_view(), name="identity-person-create"),
    path("company", companies.CompanyCreateView.as_view(), name="company-create"),
    path("persons", people.PersonListView.as_view(), name="persons"),
    path("persons/sync", sync.PersonSyncView.as_view(), name="persons-sync"),
    path("persons/sync/<objid:run_id>", sync.PersonSyncRunView.as_view(), name="persons-sync-run"),
    path("persons/merge", people.PersonMergeView.as_view(), name="persons-merge"),
    path("persons/batch", bulk.PersonBatchView.as_view(), name="persons-batch"),
    path("persons/export", bulk.PersonExportView.as_view(), name="persons-export"),
    path("persons/merge/<objid:record_id>/undo", people.PersonMergeUndoView.as_view(), name="persons-merge-undo"),
    path("persons/<objid:person_id>", people.PersonDetailView.as_view(), name="person"),
    path("persons/<objid:person_id>/erase", gdpr.PersonEraseView.as_view(), name="person-erase"),
    path("persons/<objid:person_id>/export", gdpr.PersonDataExportView.as_view(), name="person-data-export"),
    path(
        "persons/events/<str:definition_id>",
        people.PersonEventByIdentifierView.as_view(),
        name="persons-event-by-identifier",
    ),
    path("companies", companies.CompanyListView.as_view(), name="companies"),
    path("companies/<objid:company_id>", companies.CompanyDetailView.as_view(), name="company"),
    path("companies/<objid:company_id>/persons", companies.CompanyPersonsView.as_view(), name="company-persons"),
    path("segments", segments.SegmentListView.as_view(), name="segments"),
    path("segments/<objid:segment_id>", segments.SegmentDetailView.as_view(), name="segment"),
    path("segments/<objid:segment_id>/persons", segments.SegmentPersonsView.as_view(), name="segment-persons"),
    path("tags", people.TagListView.as_view(), name="tags"),
    path("tags/<path:name>", people.TagDetailView.as_view(), name="tag"),
    path("customAttributes", people.CustomAttributeListView.as_view(), name="custom-attributes"),
    path("customAttributes/<path:name>", people.CustomAttributeDetailView.as_view(), name="custom-attribute"),
    path("events/definitions", people.EventDefinitionListView.as_view(), name="event-definitions"),
    path(
        "events/definitions/<str:definition_id>",
        people.EventDefinitionDetailView.as_view(),
        name="event-definition",
    ),
    path("<hex24:identity_id>", identities.IdentityDetailView.as_view(), name="identity"),
    path("<hex24:identity_id>/person", identities.IdentityPersonView.as_view(), name="identity-person"),
    path(
        "<hex24:identity_id>/person/unassign",
        identities.IdentityPersonUnassignView.as_view(),
        name="identity-person-unassign",
    ),
    path(
        "<hex24:identity_id>/person/<objid:person_id>/assign",
        identities.IdentityPersonAssignView.as_view(),
        name="identity-person-assign",
    ),
    path(
        "<hex24:identity_id>/person/event/<str:definition_id>",
        identities.IdentityPersonEventView.as_view(),
        name="identity-person-event",
    ),
    path("<hex24:identity_id>/company", identities.IdentityCompanyView.as_view(), name="identity-company"),
    path(
        "<hex24:identity_id>/person/contacts",
        identity_person.PersonContactsView.as_view(),
        name="identity-person-contacts",
    ),
    path(
        "<hex24:identity_id>/person/contacts/<contactkind:kind>/<path:value>",
        identity_person.PersonContactView.as_view(),
        name="identity-person-contact",
    ),
    path("<hex24:identity_id>/person/tags", identity_person.PersonTagsView.as_view(), name="identity-person-tags"),
    path(
        "<hex24:identity_id>/person/tags/<path:name>",
        identity_person.PersonTagView.as_view(),
        name="identity-person-tag",
    ),
    path(
        "<hex24:identity_id>/person/events",
        identity_person.PersonEventListView.as_view(),
        name="identity-person-events",
    ),
]


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
