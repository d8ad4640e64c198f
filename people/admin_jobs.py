"""Bulk action jobs (people.bulk_jobs) in the admin: read-only; the change page is the progress page (a bar,
reloaded every two seconds while the job runs). Staff see the jobs they started; superusers every job."""

from __future__ import annotations

from django.contrib import admin

from people.models import BulkJob, BulkJobStatus


@admin.register(BulkJob)
class BulkJobAdmin(admin.ModelAdmin):
    list_display = ["id", "action", "status", "progress", "started_by", "created", "finished_at"]
    list_filter = ["status", "action"]
    fields = ["action", "params", "status", "progress", "error", "started_by", "created", "started_at", "finished_at"]
    readonly_fields = fields
    change_form_template = "admin/people/bulkjob/progress.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request).defer("person_ids")
        return qs if request.user.is_superuser else qs.filter(started_by_id=str(request.user.pk))

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress(self, obj):
        return f"{obj.done:,} / {obj.total:,} ({obj.percent} %)"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["job"] = obj
        context["running"] = obj is not None and obj.status in (BulkJobStatus.QUEUED, BulkJobStatus.RUNNING)
        return super().render_change_form(request, context, add, change, form_url, obj)
