from django.contrib import admin

from tracking.models import Site, Visitor


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
