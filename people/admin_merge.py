"""Staff merge workflow in the person admin: the merge page and "find a profile to merge with" (merge records
and duplicate suggestions: people.admin_merge_records). Thin: every change is one call of people.merging or
people.duplicates."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.text import capfirst
from django.utils.translation import ngettext

from core.errors import Conflict, ValidationError
from people import selectors
from people.duplicates import duplicate_dismiss, duplicates_of_person
from people.merging import (
    MAX_PROFILES,
    MERGE_FIELDS,
    MSG_NO_CONTACT,
    FieldDecision,
    MergePlan,
    default_survivor,
    merge_plan,
    persons_merge,
)
from people.models import (
    ChannelProfile,
    MergeRecord,
    Person,
    PersonEvent,
)

MERGE_PERMISSION = "people.merge_person"
MSG_SELECT_RANGE = "Select between 2 and {limit} persons to merge (you selected {count})."
MSG_NOT_VISIBLE = "Some of these persons do not exist, are not in your realms, or were already merged: {ids}."
MSG_TWO_REALMS = "Persons of different realms cannot be merged."
MSG_PREVIEW_STALE = "The choices or the profiles changed since the preview: check the new preview and confirm again."


def field_label(field: str) -> str:
    """The person form's label of a merge field ("First name", "Birth date", "Company"), not its API name."""
    if field in MERGE_FIELDS:
        return capfirst(Person._meta.get_field(field).verbose_name)
    return f"{field} (custom attribute)"


def actor_of(request) -> str:
    return f"staff:{request.user.get_username()}"


def show_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# -------------------------------------------------------------------------------------------- merge form


class PersonMergeForm(forms.Form):
    """Survivor, one radio per conflicting field (pre-selected by Infobip's rules), checkboxes for the
    combined phones, emails, tags and channel profiles (all checked at first)."""

    survivor = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect)
    phones = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    emails = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    tags = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    channel_profiles = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Channel profiles"
    )

    def __init__(self, *args, plan: MergePlan, channel_labels: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        profiles = plan.profiles
        self.fields["survivor"].choices = [(p.pk, f"Person {p.pk}: {p}") for p in profiles]
        self.fields["survivor"].initial = plan.survivor.pk
        self.conflict_fields: list[tuple[str, FieldDecision]] = []
        for decision in plan.conflicts:
            name = self.choice_name(decision)
            label = field_label(decision.field) if decision in plan.fields else f"{decision.field} (custom attribute)"
            self.fields[name] = forms.TypedChoiceField(
                label=label,
                coerce=int,
                widget=forms.RadioSelect,
                initial=decision.chosen,
                choices=[(pid, f"{show_value(value)} (person {pid})") for pid, value in decision.values.items()],
            )
            self.conflict_fields.append((name, decision))
        for name, values in (
            ("phones", {n: f"{n} (person {owner})" for n, owner in plan.phones.items()}),
            ("emails", {a: f"{a} (person {owner})" for a, owner in plan.emails.items()}),
            ("tags", {t: f"{t} (person {', '.join(map(str, holders))})" for t, holders in plan.tags.items()}),
            ("channel_profiles", {pk: channel_labels.get(pk, str(pk)) for pk in plan.channel_profiles}),
        ):
            self.fields[name].choices = list(values.items())
            self.fields[name].initial = list(values)

    @staticmethod
    def choice_name(decision: FieldDecision) -> str:
        prefix = "" if decision.field in MERGE_FIELDS else "customAttributes."
        return f"choice__{prefix}{decision.field}"

    def conflict_bound_fields(self):
        return [self[name] for name, _ in self.conflict_fields]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("phones") and not cleaned.get("emails"):
            raise forms.ValidationError(MSG_NO_CONTACT, code="no_contact")
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "choices": {name.removeprefix("choice__"): data[name] for name, _ in self.conflict_fields},
            "keep_phones": data["phones"],
            "keep_emails": data["emails"],
            "keep_tags": data["tags"],
            "keep_channel_profiles": data["channel_profiles"],
        }


def preview_token(persons: list[Person], survivor_id: int, kwargs: dict[str, Any]) -> str:
    """Ties a confirmation to the preview staff saw: the same choices over the same profile versions."""
    state = {
        "survivor": survivor_id,
        "profiles": sorted((p.pk, p.modified.isoformat()) for p in persons),
        **{key: sorted(map(str, value)) if isinstance(value, list) else value for key, value in kwargs.items()},
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:32]


def profile_rows(plan: MergePlan) -> list[dict[str, Any]]:
    """The side-by-side table: one row per attribute with each profile's value."""
    profiles = plan.profiles
    ids = [p.pk for p in profiles]
    decided = {d.field: d for d in plan.fields}
    rows = []
    for name in MERGE_FIELDS:
        values = [getattr(p, name) for p in profiles]
        if name == "company_id":
            values = [p.company.name if p.company_id else None for p in profiles]
        decision = decided.get(name)
        rows.append(
            {
                "label": field_label(name),
                "values": [show_value(v) for v in values],
                "conflict": bool(decision and decision.conflict),
            }
        )
    for decision in plan.custom:
        rows.append(
            {
                "label": f"{decision.field} (custom attribute)",
                "values": [show_value(p.custom_attributes.get(decision.field)) for p in profiles],
                "conflict": decision.conflict,
            }
        )
    phones, emails = {pid: [] for pid in ids}, {pid: [] for pid in ids}
    for number, owner in plan.phones.items():
        phones[owner].append(number)
    for address, owner in plan.emails.items():
        emails[owner].append(address)
    events = dict(
        PersonEvent.objects.filter(person_id__in=ids).values_list("person_id").annotate(n=Count("id")).order_by()
    )
    identities = dict(
        Person.objects.filter(pk__in=ids).annotate(n=Count("identities")).values_list("pk", "n").order_by()
    )
    rows += [
        {"label": "Phones", "values": [", ".join(phones[pid]) or "—" for pid in ids]},
        {"label": "Emails", "values": [", ".join(emails[pid]) or "—" for pid in ids]},
        {"label": "Tags", "values": [", ".join(sorted(t.name for t in p.tags.all())) or "—" for p in profiles]},
        {"label": "Events", "values": [str(events.get(pid, 0)) for pid in ids]},
        {"label": "Identities", "values": [str(identities.get(pid, 0)) for pid in ids]},
        {"label": "Created", "values": [p.created.strftime("%Y-%m-%d %H:%M") for p in profiles]},
        {"label": "Last modified", "values": [p.modified.strftime("%Y-%m-%d %H:%M") for p in profiles]},
    ]
    return rows


# ---------------------------------------------------------------------------------- PersonAdmin mixin


class PersonMergeAdminMixin:
    """Merge action, merge page, "find a profile to merge with", suggested duplicates, alias banner."""

    change_form_template = "admin/people/person/change_form.html"

    def has_merge_permission(self, request) -> bool:
        return request.user.has_perm(MERGE_PERMISSION)

    def _require_merge_permission(self, request) -> None:
        if not self.has_merge_permission(request):
            raise PermissionDenied

    @admin.action(description="Merge selected persons", permissions=["merge"])
    def merge_persons(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_PROFILES + 1])
        if not 2 <= len(ids) <= MAX_PROFILES:
            count = queryset.count()
            self.message_user(request, MSG_SELECT_RANGE.format(limit=MAX_PROFILES, count=count), messages.ERROR)
            return None
        url = reverse("admin:people_person_merge") + "?" + urlencode({"ids": ",".join(map(str, ids))})
        return HttpResponseRedirect(url)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("merge/", view(self.merge_view), name="people_person_merge"),
            path("<int:object_id>/merge-with/", view(self.merge_find_view), name="people_person_merge_find"),
            path(
                "<int:object_id>/not-duplicate/<int:other_id>/",
                view(self.not_duplicate_view),
                name="people_person_not_duplicate",
            ),
            *super().get_urls(),
        ]

    # ------------------------------------------------------------------------------ the merge page

    def _merge_persons(self, request, raw_ids: str) -> list[Person] | HttpResponseRedirect:
        changelist = reverse("admin:people_person_changelist")
        try:
            ids = list(dict.fromkeys(int(x) for x in raw_ids.split(",") if x.strip()))
        except ValueError:
            ids = []
        if not 2 <= len(ids) <= MAX_PROFILES:
            self.message_user(request, MSG_SELECT_RANGE.format(limit=MAX_PROFILES, count=len(ids)), messages.ERROR)
            return HttpResponseRedirect(changelist)
        persons = list(
            self.get_queryset(request)
            .active()
            .filter(pk__in=ids)
            .select_related("realm", "company")
            .prefetch_related("tags")
        )
        missing = sorted(set(ids) - {p.pk for p in persons})
        if missing:
            self.message_user(request, MSG_NOT_VISIBLE.format(ids=", ".join(map(str, missing))), messages.ERROR)
            return HttpResponseRedirect(changelist)
        if len({p.realm_id for p in persons}) > 1:
            self.message_user(request, MSG_TWO_REALMS, messages.ERROR)
            return HttpResponseRedirect(changelist)
        order = {pid: i for i, pid in enumerate(ids)}
        return sorted(persons, key=lambda p: order[p.pk])

    def merge_view(self, request):
        self._require_merge_permission(request)
        raw_ids = request.POST.get("ids") or request.GET.get("ids") or ""
        persons = self._merge_persons(request, raw_ids)
        if isinstance(persons, HttpResponseRedirect):
            return persons
        by_id = {p.pk: p for p in persons}
        wanted = request.POST.get("survivor", "")
        survivor = by_id.get(int(wanted)) if wanted.isdigit() else None
        survivor = survivor or default_survivor(persons)
        others = [p for p in persons if p.pk != survivor.pk]
        plan = merge_plan(survivor=survivor, others=others)
        channel_labels = {
            c.pk: f"{c.channel}: {c.identifier or c.application_id} (person {c.person_id})"
            for c in ChannelProfile.objects.filter(pk__in=list(plan.channel_profiles))
        }
        bound = request.method == "POST"
        form = PersonMergeForm(request.POST if bound else None, plan=plan, channel_labels=channel_labels)
        preview = token = None
        if bound and form.is_valid():
            kwargs = form.service_kwargs()
            token = preview_token(persons, survivor.pk, kwargs)
            confirm = "_confirm" in request.POST
            if confirm and request.POST.get("preview_token") != token:
                self.message_user(request, MSG_PREVIEW_STALE, messages.WARNING)
                confirm = False
            try:
                if confirm:
                    return self._merge_confirmed(request, survivor, others, kwargs)
                preview = persons_merge(
                    survivor=survivor, others=others, actor=actor_of(request), dry_run=True, **kwargs
                )
            except ValidationError as exc:
                for reasons in exc.fields.values():
                    for reason in reasons:
                        form.add_error(None, reason)
                token = None
            except Conflict as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:people_person_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Merge {len(persons)} persons",
            "persons": plan.profiles,
            "plan": plan,
            "rows": profile_rows(plan),
            "form": form,
            "single_source": [
                {
                    "label": field_label(d.field),
                    "value": show_value(d.value),
                    "source": d.chosen,
                }
                for d in plan.single_source
            ],
            "ids": ",".join(str(p.pk) for p in persons),
            "preview": preview,
            "preview_rows": self._preview_rows(preview, survivor) if preview else None,
            "preview_token": token if preview else None,
        }
        return TemplateResponse(request, "admin/people/person/merge.html", context)

    def _preview_rows(self, record: MergeRecord, survivor: Person) -> list[tuple[str, str, bool]]:
        """(label, value after the merge, whether it differs from the survivor today)."""
        result = record.result
        attributes = dict(result["attributes"])
        if attributes.get("company_id"):
            company_model = Person._meta.get_field("company").related_model
            attributes["company_id"] = (
                company_model.objects.filter(pk=attributes["company_id"]).values_list("name", flat=True).first()
                or attributes["company_id"]
            )
        before = {name: getattr(survivor, name) for name in MERGE_FIELDS}
        before["company_id"] = survivor.company.name if survivor.company_id else None
        rows = [
            (
                field_label(name),
                show_value(attributes.get(name)),
                show_value(attributes.get(name)) != show_value(before[name]),
            )
            for name in MERGE_FIELDS
        ]
        custom_before = survivor.custom_attributes or {}
        rows += [
            (field_label(k), show_value(v), show_value(v) != show_value(custom_before.get(k)))
            for k, v in sorted(result["custom_attributes"].items())
        ]
        phones_before = sorted(survivor.phones.values_list("number", flat=True))
        emails_before = sorted(survivor.emails.values_list("address", flat=True))
        tags_before = sorted(survivor.tags.values_list("name", flat=True))
        rows += [
            ("Phones", ", ".join(result["phones"]) or "—", sorted(result["phones"]) != phones_before),
            ("Emails", ", ".join(result["emails"]) or "—", sorted(result["emails"]) != emails_before),
            ("Tags", ", ".join(result["tags"]) or "—", sorted(result["tags"]) != tags_before),
        ]
        if result["channel_profiles"]:
            rows.append(("Channel profiles", str(len(result["channel_profiles"])), False))
        return rows

    def _merge_confirmed(self, request, survivor: Person, others: list[Person], kwargs: dict[str, Any]):
        record = persons_merge(survivor=survivor, others=others, actor=actor_of(request), source="admin", **kwargs)
        absorbed = ", ".join(str(pid) for pid in record.absorbed_ids)
        persons = ngettext("person", "persons", len(record.absorbed_ids))
        self.log_change(request, survivor, f"Merged {persons} {absorbed} into this person (merge #{record.pk}).")
        link = reverse("admin:people_mergerecord_change", args=[record.pk])
        self.message_user(
            request,
            format_html(
                'Merged {} {} into person {}. <a href="{}">Merge #{}</a> keeps the details and can undo it.',
                persons,
                absorbed,
                survivor.pk,
                link,
                record.pk,
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:people_person_change", args=[survivor.pk]))

    # ------------------------------------------------------------------- find a profile to merge with

    def merge_find_view(self, request, object_id):
        self._require_merge_permission(request)
        person = self.get_queryset(request).active().filter(pk=object_id).first()
        if person is None:
            raise Http404("No such active person in your realms.")
        term = request.GET.get("q", "").strip()
        results = []
        if term:
            pool = self.get_queryset(request).active().filter(realm_id=person.realm_id).exclude(pk=person.pk)
            found = selectors.person_search(pool, term, default_country=person.realm.default_country)
            results = list(selectors.with_list_columns(found).order_by("-id")[:25])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Find a profile to merge with {person}",
            "person": person,
            "term": term,
            "results": results,
            "suggestions": duplicates_of_person(person),
            "limit": MAX_PROFILES - 1,
        }
        return TemplateResponse(request, "admin/people/person/merge_find.html", context)

    def not_duplicate_view(self, request, object_id, other_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require_merge_permission(request)
        visible = {p.pk: p for p in self.get_queryset(request).filter(pk__in=[object_id, other_id])}
        if len(visible) != 2:
            raise Http404("No such persons in your realms.")
        try:
            duplicate_dismiss(person_a=visible[object_id], person_b=visible[other_id], actor=actor_of(request))
        except ValidationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Persons {object_id} and {other_id} are not duplicates: remembered.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:people_person_change", args=[object_id])
        return HttpResponseRedirect(target)

    # ---------------------------------------------------------------------------- the person page

    def merge_fieldsets(self, request, obj=None) -> list:
        if obj is not None and obj.merged_into_id is None and self.has_merge_permission(request):
            return [("Suggested duplicates", {"fields": ["duplicate_suggestions"]})]
        return []

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "duplicate_suggestions"] if obj is not None else fields

    def has_change_permission(self, request, obj=None):
        # An absorbed person is an alias of its survivor: shown, never edited.
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="suggested duplicates")
    def duplicate_suggestions(self, obj):
        pairs = duplicates_of_person(obj)
        if not pairs:
            return "No suggestions. The nightly rescan (or Duplicate suggestions › Rescan) looks for them."
        merge_url = reverse("admin:people_person_merge")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a> (id {})</td><td class="dup-score">{}</td><td>{}</td>'
            '<td><a class="button" href="{}?{}">Merge…</a> '
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>'
            "Not a duplicate</button></td></tr>",
            (
                (
                    reverse("admin:people_person_change", args=[other.pk]),
                    other,
                    other.pk,
                    candidate.score,
                    "; ".join(
                        f"{r['label']}{' (' + r['detail'] + ')' if r.get('detail') else ''}" for r in candidate.reasons
                    )
                    or "similar names",
                    merge_url,
                    urlencode({"ids": f"{obj.pk},{other.pk}"}),
                    reverse("admin:people_person_not_duplicate", args=[obj.pk, other.pk]),
                )
                for candidate, other in pairs
            ),
        )
        return format_html(
            '<table id="duplicate-suggestions"><thead><tr><th>Person</th><th>Score</th><th>Why</th><th></th>'
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        person = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if person is not None:
            extra_context["can_merge"] = person.merged_into_id is None and self.has_merge_permission(request)
            if person.merged_into_id:
                final = selectors.person_resolve(person.realm, person.pk)
                record = (
                    MergeRecord.objects.filter(absorbed_ids__contains=[person.pk], undone_at__isnull=True)
                    .order_by("-created")
                    .first()
                )
                extra_context["alias"] = {"into": person.merged_into_id, "final": final, "record": record}
        return super().change_view(request, object_id, form_url, extra_context)
