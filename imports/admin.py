"""The Import people wizard (upload → map → analyze → choose → import → result) as views of the ImportJob
admin, like UserAdmin.user_change_password: each is wrapped in admin_site.admin_view, checks the import
permission (imports.add_importjob) and the realm, and calls one service. The changelist is the history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core import charts
from core.admin_mixins import RealmListFilter, RealmScopedAdmin
from core.errors import DomainError, ValidationError
from imports import forms as import_forms
from imports import readers, reports, selectors, services
from imports.models import FINISHED_STATUSES, ImportJob, ImportStatus
from people.models import Tag
from people.services import custom_attribute_definitions

COUNT_COLORS = {
    "created": "#2e7d32",
    "updated": "#1565c0",
    "unchanged": "#90a4ae",
    "merged": "#6a1b9a",
    "discarded": "#b26a00",
    "invalid": "#c62828",
}

JOB_STEPS = {
    ImportStatus.UPLOADED: "map",
    ImportStatus.ANALYZING: "analyze",
    ImportStatus.ANALYZED: "choose",
    ImportStatus.QUEUED: "import",
    ImportStatus.RUNNING: "import",
}


@admin.register(ImportJob)
class ImportJobAdmin(RealmScopedAdmin):
    """History of imports; every row opens its job page."""

    list_display = [
        "id", "file_link", "realm", "started_by", "strategy", "status", "rows_total", "created_count",
        "updated_count", "merged_count", "discarded_count", "invalid_count", "duration_display", "created",
    ]  # fmt: skip
    list_display_links = None
    list_filter = [RealmListFilter, "status", "strategy"]
    list_select_related = ["realm"]
    search_fields = ["original_name", "started_by"]
    date_hierarchy = "created"

    # ------------------------------------------------------------------ permissions and scoping

    def has_change_permission(self, request, obj=None):
        return False

    def _job(self, request, job_id: int) -> ImportJob:
        return get_object_or_404(self.get_queryset(request), pk=job_id)

    def _require_import(self, request) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def _require_view(self, request) -> None:
        if not (self.has_view_permission(request) or self.has_add_permission(request)):
            raise PermissionDenied

    # ------------------------------------------------------------------ list

    @admin.display(description="file", ordering="original_name")
    def file_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:imports_importjob_job", args=[obj.pk]), obj.original_name
        )

    @admin.display(description="duration")
    def duration_display(self, obj):
        duration = obj.duration
        return f"{duration.total_seconds():.1f} s" if duration else "—"

    def add_view(self, request, form_url="", extra_context=None):
        return self.upload_view(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404
        return self.job_view(request, int(object_id))

    def changelist_view(self, request, extra_context=None):
        for job in (
            self.get_queryset(request)
            .filter(created_by=request.user, notified_at__isnull=True)
            .filter(status__in=FINISHED_STATUSES)[:5]
        ):
            self._notify(request, job)
        return super().changelist_view(request, extra_context)

    # ------------------------------------------------------------------ wizard

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.upload_view), name="imports_importjob_upload"),
            path("<int:job_id>/map/", wrap(self.map_view), name="imports_importjob_map"),
            path("<int:job_id>/job/", wrap(self.job_view), name="imports_importjob_job"),
            path("<int:job_id>/progress/", wrap(self.progress_view), name="imports_importjob_progress"),
            path("<int:job_id>/cancel/", wrap(require_POST(self.cancel_view)), name="imports_importjob_cancel"),
            path("<int:job_id>/resume/", wrap(require_POST(self.resume_view)), name="imports_importjob_resume"),
            path("<int:job_id>/report.<str:fmt>", wrap(self.report_view), name="imports_importjob_report"),
            *super().get_urls(),
        ]

    def _context(self, request, title: str, job: ImportJob | None = None, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "job": job,
            **extra,
        }

    def upload_view(self, request):
        self._require_import(request)
        form = import_forms.UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                job = services.import_job_create(
                    realm=form.cleaned_data["realm"], uploaded_file=form.cleaned_data["file"], user=request.user
                )
            except readers.FileRefused as exc:
                form.add_error("file", exc.message)
            else:
                self.log_addition(request, job, [{"added": {}}])
                return HttpResponseRedirect(reverse("admin:imports_importjob_map", args=[job.pk]))
        return TemplateResponse(
            request,
            "admin/imports/importjob/upload.html",
            self._context(
                request, "Import people", form=form, max_mb=readers.max_bytes() // (1024 * 1024), step="upload"
            ),
        )

    def map_view(self, request, job_id: int):
        self._require_import(request)
        job = self._job(request, job_id)
        if job.status not in (ImportStatus.UPLOADED, ImportStatus.ANALYZED):
            return HttpResponseRedirect(reverse("admin:imports_importjob_job", args=[job.pk]))
        definitions = custom_attribute_definitions(job.realm)
        read_form = import_forms.ReadOptionsForm(
            initial={"encoding": job.effective_encoding, "delimiter": job.effective_delimiter}
        )
        form = import_forms.MappingForm(job=job, definitions=definitions)
        errors: list[str] = []
        if request.method == "POST" and "reread" in request.POST:
            read_form = import_forms.ReadOptionsForm(request.POST)
            if read_form.is_valid():
                try:
                    services.import_job_configure(
                        job=job,
                        encoding=read_form.cleaned_data["encoding"],
                        delimiter=read_form.cleaned_data["delimiter"],
                    )
                except DomainError as exc:
                    messages.error(request, exc.message)
                return HttpResponseRedirect(request.path)
        elif request.method == "POST":
            form = import_forms.MappingForm(request.POST, job=job, definitions=definitions)
            if form.is_valid():
                try:
                    services.import_job_map(
                        job=job, mapping=form.mapping(), default_type=form.cleaned_data["default_type"]
                    )
                    services.import_job_request_analysis(job=job)
                except ValidationError as exc:
                    errors = [
                        f"{key}: {'; '.join(reasons)}" if key != "mapping" else "; ".join(reasons)
                        for key, reasons in exc.fields.items()
                    ]
                except DomainError as exc:
                    errors = [exc.message]
                else:
                    return HttpResponseRedirect(reverse("admin:imports_importjob_job", args=[job.pk]))
        try:
            _, sample = services.import_job_preview(job)
        except readers.FileRefused as exc:
            sample = []
            errors.append(exc.message)
        columns = [
            (header, field, country, [row[index] for row in sample if index < len(row)])
            for index, (header, field, country) in enumerate(form.columns)
        ]
        return TemplateResponse(
            request,
            "admin/imports/importjob/map.html",
            self._context(
                request,
                f"Map the columns of {job.original_name}",
                job,
                form=form,
                read_form=read_form,
                columns=columns,
                errors=errors,
                step="map",
            ),
        )

    def job_view(self, request, job_id: int):
        self._require_view(request)
        job = self._job(request, job_id)
        start_form = import_forms.StartForm(request.POST or None)
        if request.method == "POST":
            self._require_import(request)
            if start_form.is_valid():
                try:
                    services.import_job_start(
                        job=job, strategy=start_form.cleaned_data["strategy"], tags=start_form.tag_names()
                    )
                except ValidationError as exc:
                    for reasons in exc.fields.values():
                        start_form.add_error("tags", "; ".join(reasons))
                except DomainError as exc:
                    messages.error(request, exc.message)
                else:
                    return HttpResponseRedirect(request.path)
        if job.is_finished:
            self._notify(request, job)
        context = {
            "start_form": start_form,
            "progress": selectors.import_job_progress(job),
            "step": JOB_STEPS.get(job.status, "result"),
        }
        if job.is_finished:
            counts = job.counts()
            context["chart"] = charts.bar_chart(
                [(name.capitalize(), counts[name]) for name in COUNT_COLORS],
                colors=list(COUNT_COLORS.values()),
                label_every_bar=True,
                label="Rows by outcome",
                height=160,
            )
            context["counts"] = [(name, counts[name], color) for name, color in COUNT_COLORS.items()]
            tag = Tag.objects.filter(realm=job.realm, name=job.import_tag).first() if job.import_tag else None
            if tag:
                context["persons_url"] = reverse("admin:people_person_changelist") + f"?tag={tag.pk}"
        if job.status in (*FINISHED_STATUSES, ImportStatus.RUNNING):
            context["applied"] = selectors.applied_rows(job)
        if job.status in (ImportStatus.ANALYZED, *FINISHED_STATUSES):
            context["issues"] = selectors.issues_page(job)
        return TemplateResponse(
            request,
            "admin/imports/importjob/job.html",
            self._context(request, f"Import #{job.pk}: {job.original_name}", job, **context),
        )

    def progress_view(self, request, job_id: int):
        self._require_view(request)
        return JsonResponse(selectors.import_job_progress(self._job(request, job_id)))

    def cancel_view(self, request, job_id: int):
        self._require_import(request)
        job = self._job(request, job_id)
        try:
            services.import_job_cancel(job=job)
            messages.info(request, f"Import #{job.pk} stops after the batch it is applying.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:imports_importjob_job", args=[job.pk]))

    def resume_view(self, request, job_id: int):
        self._require_import(request)
        job = self._job(request, job_id)
        try:
            services.import_job_resume(job=job)
        except DomainError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:imports_importjob_job", args=[job.pk]))

    def report_view(self, request, job_id: int, fmt: str):
        self._require_view(request)
        job = self._job(request, job_id)
        if fmt not in reports.FORMATS:
            raise Http404
        path = reports.import_error_report_write(job=job, fmt=fmt)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=f"import-{job.pk}-errors.{fmt}")

    def _notify(self, request, job: ImportJob) -> None:
        if job.created_by_id != request.user.pk or not services.import_job_mark_notified(job=job):
            return
        counts = job.counts()
        summary = ", ".join(f"{counts[name]} {name}" for name in COUNT_COLORS)
        level = {ImportStatus.SUCCEEDED: messages.SUCCESS, ImportStatus.CANCELLED: messages.WARNING}.get(
            job.status, messages.ERROR
        )
        messages.add_message(
            request, level, f"Import #{job.pk} ({job.original_name}) {job.get_status_display().lower()}: {summary}."
        )
