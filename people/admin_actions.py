"""Staff actions on many persons at once (the person changelist's action menu): add or remove a tag, set the
type, set the company, push again to Infobip, export to CSV or XLSX.

Built like Django's `delete_selected`: the first POST shows a confirmation page with the action's form, the
second (with `apply`) runs it. Every change goes through people.services (one transaction per chunk, each
person's outbox row in it) and is permission-checked by @admin.action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.actors import staff_actor
from core.errors import DomainError
from people import bulk_jobs, erasure, export
from people.models import Person, PersonType

BULK_ACTIONS = [
    "bulk_add_tag", "bulk_remove_tag", "bulk_set_type", "bulk_set_company", "bulk_push_again",
    "bulk_export_csv", "bulk_export_xlsx", "bulk_erase",
]  # fmt: skip
ERASE_MAX = 100  # an erase cannot be undone: a whole filtered list is never erased by one click


class TagForm(forms.Form):
    tag = forms.CharField(max_length=256, label="Tag name")


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label="Erase these persons everywhere (GDPR): their profiles, contacts, events, merge records, import "
        "rows and tracking data here, and their profiles in Infobip. This cannot be undone.",
    )


class TypeForm(forms.Form):
    type = forms.ChoiceField(choices=PersonType.choices)


def company_form(realm_ids):
    """A form choosing a company of the selection's realm(s) (or none); the model is the person's FK's target."""
    company_model = Person._meta.get_field("company").related_model

    class CompanyForm(forms.Form):
        company = forms.ModelChoiceField(
            company_model.objects.filter(realm_id__in=realm_ids).order_by("name"),
            required=False,
            empty_label="(no company)",
        )

    return CompanyForm


def _params(cleaned: dict) -> dict:
    """An action form's data as a job stores it: model instances by id."""
    return {key: getattr(value, "pk", value) for key, value in cleaned.items()}


class PersonBulkActionsMixin:
    """Mixed into PersonAdmin; `actions` names BULK_ACTIONS."""

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("people.erase_person")

    def _confirm_or_apply(self, request, queryset, *, title: str, form_class, apply=None, verb: str):
        """The confirmation page, then the action: `apply(queryset, cleaned_data)` in the request, or for an
        operation of people.bulk_jobs (the action's own name) beyond BACKGROUND_MIN persons, a background job."""
        form = form_class(request.POST if "apply" in request.POST else None)
        action = request.POST.get("action")
        if "apply" in request.POST and form.is_valid():
            if apply is None and queryset.count() > bulk_jobs.BACKGROUND_MIN:
                job = bulk_jobs.bulk_job_start(
                    action=action, params=_params(form.cleaned_data), persons=queryset, actor=staff_actor(request.user)
                )
                self.message_user(request, f"{title}: {job.total} persons, running in the background.")
                return HttpResponseRedirect(reverse("admin:people_bulkjob_change", args=[job.pk]))
            try:
                if apply is None:
                    count = bulk_jobs.OPERATIONS[action](queryset, _params(form.cleaned_data))
                else:
                    count = apply(queryset, form.cleaned_data)
            except DomainError as exc:
                self.message_user(request, f"{title}: nothing more changed — {exc.message}", messages.ERROR)
                return None
            self.message_user(request, f"{verb} {count} person(s).", messages.SUCCESS)
            return None
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "count": count,
            "background": apply is None and count > bulk_jobs.BACKGROUND_MIN,
            "sample": list(queryset.order_by("pk")[:20]),
            "action": action,
            "select_across": request.POST.get("select_across", "0"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/people/person/bulk_action.html", context)

    @admin.action(description="Add a tag to selected persons", permissions=["change"])
    def bulk_add_tag(self, request, queryset):
        return self._confirm_or_apply(request, queryset, title="Add a tag", form_class=TagForm, verb="Tagged")

    @admin.action(description="Remove a tag from selected persons", permissions=["change"])
    def bulk_remove_tag(self, request, queryset):
        return self._confirm_or_apply(request, queryset, title="Remove a tag", form_class=TagForm, verb="Untagged")

    @admin.action(description="Set the type of selected persons", permissions=["change"])
    def bulk_set_type(self, request, queryset):
        return self._confirm_or_apply(request, queryset, title="Set the type", form_class=TypeForm, verb="Updated")

    @admin.action(description="Set the company of selected persons", permissions=["change"])
    def bulk_set_company(self, request, queryset):
        realm_ids = set(queryset.values_list("realm_id", flat=True).distinct())
        return self._confirm_or_apply(
            request, queryset, title="Set the company", form_class=company_form(realm_ids), verb="Moved"
        )

    @admin.action(description="Push selected persons to Infobip again", permissions=["change"])
    def bulk_push_again(self, request, queryset):
        return self._confirm_or_apply(
            request, queryset, title="Push to Infobip again", form_class=forms.Form, verb="Queued"
        )

    @admin.action(description="Export selected persons to CSV", permissions=["view"])
    def bulk_export_csv(self, request, queryset):
        return export.export_response(queryset, "csv")

    @admin.action(description="Export selected persons to XLSX", permissions=["view"])
    def bulk_export_xlsx(self, request, queryset):
        return export.export_response(queryset, "xlsx")

    @admin.action(description="Erase selected persons everywhere (GDPR)", permissions=["erase"])
    def bulk_erase(self, request, queryset):
        count = queryset.count()
        if count > ERASE_MAX:
            self.message_user(
                request, f"Erase at most {ERASE_MAX} persons at a time ({count} selected).", messages.ERROR
            )
            return None

        def apply(qs, data):
            done = 0
            for person in qs.filter(merged_into__isnull=True).select_related("realm").order_by("pk"):
                erasure.person_erase(person=person)  # one transaction per person; its aliases go with it
                done += 1
            return done

        return self._confirm_or_apply(
            request, queryset, title="Erase persons (GDPR)", form_class=EraseForm, verb="Erased", apply=apply
        )
