"""What every realm-scoped ModelAdmin shares: staff see only the realms they are members of.

Which realms a user may see is asked of the module the ADMIN_REALM_SCOPE setting names (identities.selectors):
core imports no app."""

from __future__ import annotations

from importlib import import_module

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect

from core.errors import DomainError

REALM_SCOPED_MODELS = {"person", "company", "tag", "identity", "customattributedefinition", "eventdefinition"}


def user_realm_ids(user) -> list[int] | None:
    """The realm ids the user may see; None means every realm (superusers)."""
    return import_module(settings.ADMIN_REALM_SCOPE).user_realm_ids(user)


def realms_for_user(user):
    return import_module(settings.ADMIN_REALM_SCOPE).realms_for_user(user)


class RealmScopedAdmin(admin.ModelAdmin):
    realm_field = "realm"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = user_realm_ids(request.user)
        return qs if ids is None else qs.filter(**{f"{self.realm_field}__in": ids})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related._meta.model_name == "realm":
            kwargs["queryset"] = realms_for_user(request.user)
        elif related._meta.model_name in REALM_SCOPED_MODELS:
            ids = user_realm_ids(request.user)
            if ids is not None:
                kwargs["queryset"] = related._default_manager.filter(realm__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        ids = user_realm_ids(request.user)
        if ids is not None and db_field.related_model._meta.model_name in REALM_SCOPED_MODELS:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(realm__in=ids)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def realm_filter_visible(self, request) -> bool:
        ids = user_realm_ids(request.user)
        return ids is None or len(ids) > 1


class RealmScopedReadOnlyAdmin(RealmScopedAdmin):
    """A record staff read but never add or edit in a form (the outbox, sync runs, merge records, suggestions):
    what can be done to it is an action or a button of its own, with its own permission."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RealmListFilter(admin.SimpleListFilter):
    """Realm filter listing only the realms the user may see."""

    title = "realm"
    parameter_name = "realm"

    def lookups(self, request, model_admin):
        return [(str(realm.pk), realm.name) for realm in realms_for_user(request.user)]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(realm_id=int(self.value()))
            except ValueError:
                return queryset.none()
        return queryset


class ServiceBackedAdmin(RealmScopedAdmin):
    """A ModelAdmin whose saves go through a service (in save_model/save_related). The forms check the same rules
    first; should a race still make the service refuse, nothing is written and the user is told why."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, f"Nothing was saved: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ServiceDryRunForm(forms.ModelForm):
    """Validates by running the service in a transaction that is rolled back, so the form shows exactly the
    service's errors; the admin's save_model then runs it for real. `error_fields` maps the service's field
    names (the API's spelling) to form fields; other errors go to the form as a whole."""

    error_fields: dict[str, str] = {}

    def run_service(self, cleaned_data: dict) -> None:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            with transaction.atomic():
                self.run_service(cleaned)
                transaction.set_rollback(True)
        except DomainError as exc:
            fields = getattr(exc, "fields", None) or {"non_field_errors": [exc.message]}
            for field, reasons in fields.items():
                target = self.error_fields.get(field.split(".")[0].split("[")[0])
                for reason in reasons:
                    self.add_error(target, reason if target else f"{field}: {reason}")
        return cleaned
