from django.contrib import admin

from tracking.models import Form, FormSubmission, Site, TrackEvent, Visitor


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


@admin.register(TrackEvent)
class TrackEventAdmin(admin.ModelAdmin):
    """Read-only: events come from the website (the person page shows the newest ones)."""

    list_display = ["occurred_at", "kind", "name", "url", "visitor", "person"]
    list_filter = ["kind", "visitor__site__realm"]
    list_select_related = ["visitor", "person"]
    raw_id_fields = ["visitor", "session", "person"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
