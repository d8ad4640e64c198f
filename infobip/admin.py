from django.contrib import admin

from cdpadmin.admin_mixins import RealmListFilter, RealmScopedAdmin
from infobip.models import OutboxAttempt, OutboxEntry, SyncRun


class OutboxAttemptInline(admin.TabularInline):
    model = OutboxAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "duration_ms", "request", "status_code", "ok", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(RealmScopedAdmin):
    list_display = ["id", "realm", "entity", "entity_id", "op", "status", "attempts", "next_attempt_at", "created"]
    list_filter = [RealmListFilter, "status", "entity", "op"]
    search_fields = ["=entity_id"]
    inlines = [OutboxAttemptInline]
    readonly_fields = [f.name for f in OutboxEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(RealmScopedAdmin):
    list_display = ["id", "realm", "status", "step", "started_by", "created", "finished_at"]
    list_filter = [RealmListFilter, "status"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
