"""Saved segments in the admin: built with a form (conditions of field, operator and value, joined by all/any)
that people.segments turns into Infobip's filter language, with a live count while it is edited (the page's
script asks `count/`), usable as a filter of the person changelist (SegmentListFilter) and exported from here
(CSV/XLSX of a segment's persons, the persons export)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_mixins import RealmListFilter, RealmScopedAdmin, user_realm_ids
from core.errors import ValidationError
from identities.realms import realms_for_user
from people import export, segments
from people.models import Segment

ROWS = 8  # conditions a segment's form offers
MATCH_CHOICES = [(segments.MATCH_ALL, "all conditions (and)"), (segments.MATCH_ANY, "any condition (or)")]
OPERATOR_CHOICES = [("", "—"), *segments.OPERATOR_LABELS.items()]


def _realm_ids(user) -> list[int]:
    ids = user_realm_ids(user)
    return list(realms_for_user(user).values_list("pk", flat=True)) if ids is None else ids


def conditions_of(data, prefix: str = "") -> tuple[str, list[tuple[str, str, str]]]:
    """The builder's (match, conditions) from a form's data (rows without a field are skipped)."""
    conditions = []
    for row in range(ROWS):
        name = (data.get(f"{prefix}cond_{row}_field") or "").strip()
        if name:
            op = data.get(f"{prefix}cond_{row}_op") or ""
            conditions.append((name, op, data.get(f"{prefix}cond_{row}_value") or ""))
    return data.get(f"{prefix}match") or segments.MATCH_ALL, conditions


class SegmentForm(forms.ModelForm):
    match = forms.ChoiceField(choices=MATCH_CHOICES, initial=segments.MATCH_ALL, label="Persons matching")

    class Meta:
        model = Segment
        fields = ["realm", "name"]

    def __init__(self, *args, fields_spec: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields_spec = fields_spec or {}
        field_choices = [("", "—"), *((key, spec["label"]) for key, spec in self.fields_spec.items())]
        for row in range(ROWS):
            self.fields[f"cond_{row}_field"] = forms.ChoiceField(choices=field_choices, required=False, label="Field")
            self.fields[f"cond_{row}_op"] = forms.ChoiceField(choices=OPERATOR_CHOICES, required=False, label="is")
            self.fields[f"cond_{row}_value"] = forms.CharField(required=False, label="Value", max_length=4096)
        self.unbuildable = False
        if self.instance.pk and not self.is_bound:
            built = segments.conditions_from_filter(self.instance.filter)
            if built is None:
                self.unbuildable = True  # saved over REST in a shape the form cannot show: kept unless rebuilt
            else:
                self.initial["match"] = built[0]
                for row, (name, op, value) in enumerate(built[1][:ROWS]):
                    self.initial.update({f"cond_{row}_field": name, f"cond_{row}_op": op, f"cond_{row}_value": value})

    def clean(self):
        cleaned = super().clean()
        match, conditions = conditions_of(cleaned)
        if not conditions and self.unbuildable:
            self.filter_text = self.instance.filter
            return cleaned
        try:
            self.filter_text = segments.filter_from_conditions(
                match=match, conditions=conditions, fields=self.fields_spec
            )
            realm = cleaned.get("realm") or (self.instance.realm if self.instance.realm_id else None)
            if realm is not None:
                segments.segment_check_filter(realm, self.filter_text)
        except ValidationError as exc:
            for key, reasons in exc.data.get("fields", {}).items():
                for reason in reasons:
                    self.add_error(None, f"{key}: {reason}")
        return cleaned


class SegmentListFilter(admin.SimpleListFilter):
    """The person changelist's "By segment": the persons matching a saved segment now."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        rows = Segment.objects.filter(realm_id__in=_realm_ids(request.user)).order_by("name")
        return [(str(s.pk), s.name) for s in rows.only("pk", "name")[:200]]

    def has_output(self) -> bool:
        return True  # also without segments of one's own: ?segment= of another realm's must filter to nothing

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        segment = Segment.objects.filter(pk=self.value(), realm_id__in=_realm_ids(request.user)).first()
        if segment is None:  # nothing; not .none(): the large-table paginator compiles the query to SQL
            return queryset.filter(pk__lt=0)
        return queryset.filter(realm=segment.realm_id).filter(segments.segment_q(segment.realm, segment.pk))


@admin.register(Segment)
class SegmentAdmin(RealmScopedAdmin):
    form = SegmentForm
    list_display = ["name", "realm", "live_count", "persons_link", "modified"]
    list_filter = [RealmListFilter]
    search_fields = ["name"]
    readonly_fields = ["filter_text", "live_count"]
    actions = ["export_segment_csv", "export_segment_xlsx"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "realm"] if obj is not None else self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        rows = [(f"cond_{n}_field", f"cond_{n}_op", f"cond_{n}_value") for n in range(ROWS)]
        shown = [("Segment", {"fields": ["realm", "name", "match"]}), ("Conditions", {"fields": rows})]
        if obj is not None:
            shown.append(("Saved filter (Infobip's filter language)", {"fields": ["filter_text", "live_count"]}))
        return shown

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = ["realm", "name"]
        base = super().get_form(request, obj, change=change, **kwargs)
        spec = segments.builder_fields(_realm_ids(request.user))

        class Form(base):
            def __init__(self, *args, **inner):
                super().__init__(*args, fields_spec=spec, **inner)

        return Form

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        spec = segments.builder_fields(_realm_ids(request.user))
        context["builder_spec"] = {key: value["operators"] for key, value in spec.items()}
        context["count_url"] = reverse("admin:people_segment_count")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        """Through people.segments (checks, one transaction); the instance takes what the service saved."""
        if change:
            saved = segments.segment_update(segment=obj, name=form.cleaned_data["name"], filter_raw=form.filter_text)
        else:
            saved = segments.segment_create(realm=obj.realm, name=obj.name, filter_raw=form.filter_text)
        obj.pk, obj.filter, obj.name = saved.pk, saved.filter, saved.name
        obj._state.adding = False

    @admin.display(description="filter")
    def filter_text(self, obj):
        return obj.filter

    @admin.display(description="persons now")
    def live_count(self, obj):
        return f"{segments.segment_count(obj):,}"

    @admin.display(description="")
    def persons_link(self, obj):
        url = reverse("admin:people_person_changelist") + f"?segment={obj.pk}"
        return format_html('<a href="{}">Show persons</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.count_view)
        return [path("count/", view, name="people_segment_count"), *super().get_urls()]

    def count_view(self, request):
        """The live count of the form's conditions as they are now: {"count", "filter"} or {"error"}."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        realm = realms_for_user(request.user).filter(pk=request.GET.get("realm") or 0).first()
        if realm is None:
            return JsonResponse({"error": "choose a realm"})
        match, conditions = conditions_of(request.GET)
        try:
            text = segments.filter_from_conditions(
                match=match, conditions=conditions, fields=segments.builder_fields([realm.pk])
            )
            count = segments.filter_count(realm, text)
        except ValidationError as exc:
            reasons = [f"{key}: {'; '.join(r)}" for key, r in exc.data.get("fields", {}).items()]
            return JsonResponse({"error": " ".join(reasons) or exc.message})
        return JsonResponse({"count": count, "filter": json.loads(text)})

    def _export(self, queryset, fmt):
        segment_ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(segment_ids) != 1:
            return None
        segment = Segment.objects.select_related("realm").get(pk=segment_ids[0])
        return export.export_response(segments.segment_persons(segment), fmt)

    @admin.action(description="Export the persons of the selected segment to CSV", permissions=["view"])
    def export_segment_csv(self, request, queryset):
        response = self._export(queryset, "csv")
        if response is None:
            self.message_user(request, "Select exactly one segment to export.", messages.WARNING)
        return response

    @admin.action(description="Export the persons of the selected segment to XLSX", permissions=["view"])
    def export_segment_xlsx(self, request, queryset):
        response = self._export(queryset, "xlsx")
        if response is None:
            self.message_user(request, "Select exactly one segment to export.", messages.WARNING)
        return response
