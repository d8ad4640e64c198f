"""The person list's column chooser: staff tick the columns they want; the choice is kept in their session
(per logged-in user, until they log out), so no table is needed. Only display names of PersonAdmin."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

SESSION_KEY = "cdp:person-columns"


class PersonColumnsMixin:
    """`fixed_columns` are always shown; `optional_columns` ({name: label}) can be switched on and off."""

    fixed_columns: list[str] = []
    optional_columns: dict[str, str] = {}
    default_columns: list[str] = []

    def chosen_columns(self, request) -> list[str]:
        chosen = request.session.get(SESSION_KEY)
        if not isinstance(chosen, list):
            return list(self.default_columns)
        return [name for name in self.optional_columns if name in chosen]

    def get_list_display(self, request):
        return [*self.fixed_columns, *self.chosen_columns(request)]

    def column_choices(self, request) -> list[tuple[str, str, bool]]:
        chosen = set(self.chosen_columns(request))
        return [(name, label, name in chosen) for name, label in self.optional_columns.items()]

    def columns_view(self, request):
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        if "reset" in request.POST:
            request.session.pop(SESSION_KEY, None)
        else:
            request.session[SESSION_KEY] = [n for n in request.POST.getlist("column") if n in self.optional_columns]
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:people_person_changelist")
        return HttpResponseRedirect(target)

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.columns_view))
        return [path("columns/", view, name="people_person_columns"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"column_choices": self.column_choices(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)
