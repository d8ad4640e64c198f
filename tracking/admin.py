from django.contrib import admin

from tracking.models import Form, FormSubmission, Site, Visitor


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "realm", "key", "active", "created"]
    list_filter = ["realm", "active"]
    readonly_fields = ["key"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["anonymous_id", "site", "person", "created", "last_seen", "identified_at"]
    list_filter = ["site__realm"]
    raw_id_fields = ["person"]
    readonly_fields = ["site", "realm", "anonymous_id", "created", "last_seen", "identified_at"]


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    """A website form: its site's key posts it to /v1/forms/<slug>/submissions; the mapping is checked on save."""

    list_display = ["name", "slug", "site", "active", "created"]
    list_filter = ["site__realm", "active"]
    search_fields = ["name", "slug"]


@admin.register(FormSubmission)
class FormSubmissionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "form", "person", "outcome", "created"]
    list_filter = ["outcome", "form__site__realm"]
    list_select_related = ["form", "person"]
    raw_id_fields = ["person", "visitor"]
    readonly_fields = ["form", "person", "visitor", "data", "outcome", "created"]

    def has_add_permission(self, request) -> bool:
        return False  # submissions come from the website only
