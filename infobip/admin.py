"""The Infobip screens: the outbox (backlog, throughput and failures per realm, dead letters with retry) and
sync runs (start one per realm, live progress, resume, cancel)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import ngettext

from core import charts, iso
from core.admin_mixins import RealmListFilter, RealmScopedReadOnlyAdmin
from core.errors import DomainError
from identities.realms import realms_for_user, user_realm_ids
from infobip import selectors, services
from infobip.models import OutboxAttempt, OutboxEntity, OutboxEntry, OutboxStatus, SyncRun, SyncRunStatus

STATUS_COLORS = {
    OutboxStatus.PENDING: "#b26a00",
    OutboxStatus.DONE: "#2e7d32",
    OutboxStatus.DEAD: "#c62828",
    OutboxStatus.SKIPPED: "#666",
    OutboxStatus.SUPERSEDED: "#666",
    SyncRunStatus.QUEUED: "#666",
    SyncRunStatus.RUNNING: "#b26a00",
    SyncRunStatus.SUCCEEDED: "#2e7d32",
    SyncRunStatus.FAILED: "#c62828",
    SyncRunStatus.CANCELLED: "#666",
}


# The three steps of a sync (infobip.sync), as staff read them on a run's page.
SYNC_STEPS = {
    "step1": "1. Identities without an Infobip person: linked to one",
    "step2": "2. Infobip persons without an externalId: given their identity's id",
    "step3": "3. Remaining Infobip persons: new identities created",
}


def _count_name(key: str) -> str:
    return key.replace("external_ids", "externalIds").replace("_", " ")


def counted(n: int, singular: str, plural: str) -> str:
    """'1 run queued', '2 runs queued': the message for n, `%(n)d` in both forms."""
    return ngettext(singular, plural, n) % {"n": n}


def _badge(value: str, label: str):
    return format_html('<strong style="color:{}">{}</strong>', STATUS_COLORS.get(value, "#333"), label)


class OutboxAttemptInline(admin.TabularInline):
    model = OutboxAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "duration_ms", "request", "status_code", "ok", "error"]
    readonly_fields = fields
    ordering = ["-started_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(RealmScopedReadOnlyAdmin):
    """The outbox: what still has to reach Infobip, what did, and the dead letters staff retry or discard."""

    change_list_template = "admin/infobip/outboxentry/change_list.html"
    list_display = [
        "id", "realm", "entity", "entity_link", "op", "status_badge", "attempts", "next_attempt_at", "error_short",
        "created", "processed_at",
    ]  # fmt: skip
    list_filter = [RealmListFilter, "status", "entity", "op"]
    list_select_related = ["realm"]
    search_fields = ["=entity_id"]
    search_help_text = "The id of the person, company, event … (a tag or attribute name)."
    inlines = [OutboxAttemptInline]
    readonly_fields = [f.name for f in OutboxEntry._meta.fields]
    actions = ["retry_selected", "discard_selected"]
    list_per_page = 100
    show_full_result_count = False

    def has_retry_permission(self, request):
        return request.user.has_perm("infobip.retry_outboxentry")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return _badge(obj.status, obj.get_status_display())

    @admin.display(description="entity id")
    def entity_link(self, obj):
        targets = {OutboxEntity.PERSON: "people_person", OutboxEntity.COMPANY: "companies_company"}
        target = targets.get(obj.entity)
        if target and obj.entity_id.isdigit():
            return format_html(
                '<a href="{}">{}</a>', reverse(f"admin:{target}_change", args=[obj.entity_id]), obj.entity_id
            )
        return obj.entity_id

    @admin.display(description="last error / reason")
    def error_short(self, obj):
        if not obj.last_error:
            return "—"
        return format_html('<span title="{}">{}</span>', obj.last_error, Truncator(obj.last_error).chars(90))

    @admin.action(description="Retry selected failed changes", permissions=["retry"])
    def retry_selected(self, request, queryset):
        entries = list(queryset.filter(status__in=[OutboxStatus.DEAD, OutboxStatus.SKIPPED]))
        count = services.outbox_retry(entries=entries)
        for entry in entries:
            self.log_change(request, entry, "Retried (back to pending).")
        self.message_user(
            request,
            counted(count, "%(n)d change will be pushed again.", "%(n)d changes will be pushed again."),
            messages.SUCCESS,
        )

    @admin.action(description="Discard selected dead letters (they will not reach Infobip)", permissions=["retry"])
    def discard_selected(self, request, queryset):
        entries = list(queryset.filter(status=OutboxStatus.DEAD))
        count = services.outbox_discard(entries=entries, reason=f"Discarded by {request.user.get_username()}.")
        for entry in entries:
            self.log_change(request, entry, "Discarded.")
        self.message_user(
            request, counted(count, "%(n)d dead letter discarded.", "%(n)d dead letters discarded."), messages.SUCCESS
        )

    def changelist_view(self, request, extra_context=None):
        realm_ids = user_realm_ids(request.user)
        throughput = selectors.outbox_throughput(realm_ids)
        context = {
            "outbox_overview": selectors.outbox_overview(realm_ids),
            "outbox_chart": charts.stacked_bars(throughput, [("delivered", "#417690"), ("failed calls", "#c62828")]),
            "delivered_24h": sum(values[0] for _, values in throughput),
            "failed_24h": sum(values[1] for _, values in throughput),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)


# ------------------------------------------------------------------------------------------------ sync runs


class SyncStartForm(forms.Form):
    realm = forms.ModelChoiceField(queryset=None)
    country = forms.CharField(
        max_length=2, required=False, help_text="Country of new identities (default: the realm's)."
    )
    currency = forms.CharField(
        max_length=3, required=False, help_text="Currency of new identities (default: the realm's)."
    )
    limit = forms.IntegerField(min_value=1, max_value=1000, required=False, help_text="Only this slice of Infobip…")
    page = forms.IntegerField(min_value=1, required=False, help_text="…at this page (both empty: every person).")
    filter = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='Infobip filter, e.g. {"lastName": "Horvat"}',
    )

    def __init__(self, *args, realms=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["realm"].queryset = realms

    def clean_country(self):
        value = (self.cleaned_data.get("country") or "").upper()
        if value and not iso.is_country(value):
            raise forms.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 code.")
        return value

    def clean_currency(self):
        value = (self.cleaned_data.get("currency") or "").upper()
        if value and not iso.is_currency(value):
            raise forms.ValidationError(f"{value!r} is not an ISO 4217 code.")
        return value

    def clean_filter(self):
        text = (self.cleaned_data.get("filter") or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from exc

    def params(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "realm" and v not in (None, "")}


@admin.register(SyncRun)
class SyncRunAdmin(RealmScopedReadOnlyAdmin):
    change_form_template = "admin/infobip/syncrun/change_form.html"
    change_list_template = "admin/infobip/syncrun/change_list.html"
    list_display = ["id", "realm", "status_badge", "progress_bar", "summary", "started_by", "created", "finished_at"]
    list_filter = [RealmListFilter, "status"]
    list_select_related = ["realm"]
    readonly_fields = [
        "realm", "status", "step_name", "owner_display", "started_by", "params_table", "errors_pretty", "created",
        "started_at", "heartbeat_at", "finished_at",
    ]  # fmt: skip
    fields = readonly_fields
    actions = ["resume_selected", "cancel_selected"]

    def has_delete_permission(self, request, obj=None):
        return False  # a run is the record of what happened; it is resumed or cancelled, never deleted

    def has_start_permission(self, request):
        return request.user.has_perm("infobip.start_syncrun")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return _badge(obj.status, obj.get_status_display())

    @admin.display(description="progress")
    def progress_bar(self, obj):
        info = selectors.sync_run_progress(obj)
        percent = info["percent"]
        seen = info["personsSeen"]
        persons = counted(seen, "%(n)d person", "%(n)d persons")
        if percent is None:
            return persons if seen else "—"
        return format_html(
            '<progress value="{}" max="100" style="width:8em"></progress> {}% ({})', percent, percent, persons
        )

    @admin.display(description="results")
    def summary(self, obj):
        counts = obj.counts or {}
        return format_html(
            "linked {} · externalIds set {} · new identities {} · conflicts {}",
            counts.get("step1", {}).get("linked", 0),
            counts.get("step2", {}).get("external_ids_set", 0),
            counts.get("step3", {}).get("identities_created", 0),
            len(obj.errors or []),
        )

    @staticmethod
    def _pretty(value):
        return format_html(
            '<pre style="margin:0;white-space:pre-wrap">{}</pre>', json.dumps(value, indent=2, default=str)
        )

    @admin.display(description="step")
    def step_name(self, obj):
        return SYNC_STEPS.get(f"step{obj.step}", obj.step) if obj.step else "—"

    @admin.display(description="owner (API user)")
    def owner_display(self, obj):
        return obj.owner or "— (started from the admin or a command)"

    @admin.display(description="parameters")
    def params_table(self, obj):
        if not obj.params:
            return "None: every Infobip person, the realm's country and currency."
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "", "<tr><th>{}</th><td>{}</td></tr>", ((k, json.dumps(v, default=str)) for k, v in obj.params.items())
            ),
        )

    @admin.display(description="errors and conflicts")
    def errors_pretty(self, obj):
        return self._pretty(obj.errors) if obj.errors else "None."

    @admin.action(description="Resume selected failed or stalled runs", permissions=["start"])
    def resume_selected(self, request, queryset):
        resumed = 0
        for run in queryset:
            try:
                services.sync_run_resume(run=run)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            self.log_change(request, run, "Resumed.")
            resumed += 1
        if resumed:
            self.message_user(
                request,
                counted(resumed, "%(n)d run queued to resume.", "%(n)d runs queued to resume."),
                messages.SUCCESS,
            )

    @admin.action(description="Cancel selected queued or running runs", permissions=["start"])
    def cancel_selected(self, request, queryset):
        for run in queryset:
            try:
                services.sync_run_cancel(run=run)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            self.log_change(request, run, "Cancelled.")
            self.message_user(request, f"Run #{run.pk} cancelled.", messages.SUCCESS)

    def get_urls(self):
        urls = [
            path("start/", self.admin_site.admin_view(self.start_view), name="infobip_syncrun_start"),
            path(
                "<int:run_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="infobip_syncrun_progress",
            ),
        ]
        return urls + super().get_urls()

    def start_view(self, request):
        """Sync now: pick a realm (and optional parameters), confirm, the run is queued."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        realms = realms_for_user(request.user).filter(cdp_enabled=True)
        initial = {}
        if request.GET.get("realm", "").isdigit():
            initial["realm"] = realms.filter(pk=int(request.GET["realm"])).first()
        form = SyncStartForm(request.POST or None, realms=realms, initial=initial)
        if request.method == "POST" and form.is_valid():
            realm = form.cleaned_data["realm"]
            try:
                run = services.sync_run_start(
                    realm=realm, owner="", started_by=request.user.get_username(), params=form.params()
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_addition(request, run, "Started from the admin.")
                self.message_user(request, f"Sync of {realm} queued (run #{run.pk}).", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:infobip_syncrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Sync identities and Infobip persons",
            "form": form,
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "realms_without_extension": realms_for_user(request.user).filter(cdp_enabled=False),
        }
        return TemplateResponse(request, "admin/infobip/syncrun/start.html", context)

    def progress_view(self, request, run_id: int):
        """The small JSON the run's page polls for its live progress."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(self.get_queryset(request), pk=run_id)
        return JsonResponse(selectors.sync_run_progress(run))

    def changelist_view(self, request, extra_context=None):
        extra = {"can_start": self.has_start_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "progress_url": reverse("admin:infobip_syncrun_progress", args=[object_id])
            if str(object_id).isdigit()
            else "",
            "step_names": json.dumps(SYNC_STEPS),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)
