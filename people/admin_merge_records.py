"""Merge records (with undo) and duplicate suggestions in the admin. Thin: every change is one call of
people.merging or people.duplicates."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import ngettext

from core.admin_mixins import RealmListFilter, RealmScopedReadOnlyAdmin
from core.errors import DomainError
from identities.realms import realms_for_user
from people.admin_merge import MERGE_PERMISSION, actor_of, show_value
from people.duplicates import duplicate_dismiss, duplicate_scan_request
from people.merging import (
    FIELD_LABELS,
    MERGE_FIELDS,
    merge_undo,
    merge_undo_check,
)
from people.models import (
    DuplicateCandidate,
    DuplicateScan,
    DuplicateStatus,
    MergeRecord,
    NotDuplicate,
    Person,
)

# ---------------------------------------------------------------------------------------- merge records


@admin.register(MergeRecord)
class MergeRecordAdmin(RealmScopedReadOnlyAdmin):
    """Read-only audit of merges; Undo is a separate page (like a password change), permission merge_person."""

    list_display = ["__str__", "created", "realm", "survivor_link", "absorbed", "actor", "source", "undone"]
    list_filter = [RealmListFilter, "source", ("undone_at", admin.EmptyFieldListFilter)]
    list_select_related = ["realm"]
    search_fields = ["=survivor__id", "actor"]
    date_hierarchy = "created"
    change_form_template = "admin/people/mergerecord/change_form.html"
    fields = ["summary", "choices_table", "snapshots_table", "undo_state"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(MERGE_PERMISSION) or super().has_view_permission(request, obj)

    def get_urls(self):
        return [
            path("<int:object_id>/undo/", self.admin_site.admin_view(self.undo_view), name="people_mergerecord_undo"),
            *super().get_urls(),
        ]

    @admin.display(description="survivor", ordering="survivor_id")
    def survivor_link(self, obj):
        if obj.survivor_id is None:
            return f"deleted (person {obj.snapshots[0]['id'] if obj.snapshots else '?'})"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:people_person_change", args=[obj.survivor_id]), obj.survivor_id
        )

    @admin.display(description="absorbed")
    def absorbed(self, obj):
        return ", ".join(str(pid) for pid in obj.absorbed_ids)

    @admin.display(description="undone", boolean=True)
    def undone(self, obj):
        return obj.undone_at is not None

    @admin.display(description="merge")
    def summary(self, obj):
        return format_html(
            "<p>{} merged {} {} into person {} on {} (source: {}).</p>",
            obj.actor or "Someone",
            ngettext("person", "persons", len(obj.absorbed_ids or [])),
            self.absorbed(obj),
            self.survivor_link(obj),
            obj.created.strftime("%Y-%m-%d %H:%M:%S"),
            obj.source,
        )

    @admin.display(description="choices")
    def choices_table(self, obj):
        values = {s["id"]: s for s in obj.snapshots}
        rows = []
        chosen = obj.choices.get("fields", {})
        for name, pid in sorted(chosen.items(), key=lambda item: MERGE_FIELDS.index(item[0])):
            value = values.get(pid, {}).get("attributes", {}).get(name)
            rows.append((FIELD_LABELS.get(name, name), show_value(value), pid))
        for name, pid in obj.choices.get("customAttributes", {}).items():
            rows.append(
                (f"custom: {name}", show_value(values.get(pid, {}).get("custom_attributes", {}).get(name)), pid)
            )
        kept = [
            ("phones kept", ", ".join(obj.choices.get("phones", [])) or "—", ""),
            ("emails kept", ", ".join(obj.choices.get("emails", [])) or "—", ""),
            ("tags kept", ", ".join(obj.choices.get("tags", [])) or "—", ""),
            ("channel profile ids kept", ", ".join(map(str, obj.choices.get("channelProfiles", []))) or "—", ""),
        ]
        return format_html(
            '<table id="merge-choices"><thead><tr><th>Field</th><th>Value</th><th>From person</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", [*rows, *kept]),
        )

    @admin.display(description="profiles before the merge")
    def snapshots_table(self, obj):
        snapshots = obj.snapshots
        if not snapshots:
            return "—"
        lines = [
            (FIELD_LABELS[name], [show_value(s["attributes"].get(name)) for s in snapshots]) for name in MERGE_FIELDS
        ]
        custom_names = sorted({k for s in snapshots for k in s.get("custom_attributes", {})})
        lines += [
            (f"custom: {k}", [show_value(s["custom_attributes"].get(k)) for s in snapshots]) for k in custom_names
        ]
        lines += [
            ("phones", [", ".join(s.get("phones", [])) or "—" for s in snapshots]),
            ("emails", [", ".join(s.get("emails", [])) or "—" for s in snapshots]),
            ("tags", [", ".join(s.get("tags", [])) or "—" for s in snapshots]),
            ("channel profiles", [str(len(s.get("channel_profiles", []))) for s in snapshots]),
            ("events", [str(len(s.get("events", []))) for s in snapshots]),
            ("identities", [", ".join(map(str, s.get("identities", []))) or "—" for s in snapshots]),
            ("Infobip id", [show_value(s.get("infobip_id")) for s in snapshots]),
            ("created", [s.get("created", "")[:19].replace("T", " ") for s in snapshots]),
            ("modified", [s.get("modified", "")[:19].replace("T", " ") for s in snapshots]),
        ]
        head = format_html_join(
            "",
            "<th>Person {}{}</th>",
            ((s["id"], " (survivor)" if i == 0 else "") for i, s in enumerate(snapshots)),
        )
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            ((label, format_html_join("", "<td>{}</td>", ((v,) for v in values))) for label, values in lines),
        )
        return format_html(
            '<table id="merge-snapshots"><thead><tr><th></th>{}</tr></thead><tbody>{}</tbody></table>', head, body
        )

    @admin.display(description="undo")
    def undo_state(self, obj):
        if obj.undone_at:
            report = obj.undo_report or {}
            extra = [*report.get("kept", []), *report.get("notes", [])]
            return format_html(
                "<p>Undone on {} by {}.</p>{}",
                obj.undone_at.strftime("%Y-%m-%d %H:%M:%S"),
                obj.undone_by or "?",
                format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in extra)))
                if extra
                else "",
            )
        return "Not undone."

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_undo": request.user.has_perm(MERGE_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context)

    def undo_view(self, request, object_id):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        record = self.get_queryset(request).filter(pk=object_id).first()
        if record is None:
            raise Http404("No such merge record in your realms.")
        record_url = reverse("admin:people_mergerecord_change", args=[record.pk])
        if request.method == "POST":
            try:
                plan = merge_undo(record=record, actor=actor_of(request))
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                restored = ", ".join(str(p.pk) for p in plan.absorbed)
                person_admin = self.admin_site._registry[Person]
                person_admin.log_change(
                    request, plan.survivor, f"Undid merge #{record.pk}: persons {restored} restored."
                )
                for person in plan.absorbed:
                    person_admin.log_change(request, person, f"Restored by the undo of merge #{record.pk}.")
                self.message_user(
                    request,
                    f"Merge #{record.pk} undone: "
                    + ngettext("person %(ids)s is back.", "persons %(ids)s are back.", len(plan.absorbed))
                    % {"ids": restored}
                    + (
                        ngettext(
                            " %(n)d value changed since the merge was kept.",
                            " %(n)d values changed since the merge were kept.",
                            len(plan.kept),
                        )
                        % {"n": len(plan.kept)}
                        if plan.kept
                        else ""
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(record_url)
        plan = merge_undo_check(record=record)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Undo merge #{record.pk}",
            "record": record,
            "plan": plan,
            "record_url": record_url,
        }
        return TemplateResponse(request, "admin/people/mergerecord/undo.html", context)


# ---------------------------------------------------------------------------------- duplicate suggestions


class MergePermissionReadOnlyAdmin(RealmScopedReadOnlyAdmin):
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(MERGE_PERMISSION) or super().has_view_permission(request, obj)

    def has_merge_permission(self, request) -> bool:
        return request.user.has_perm(MERGE_PERMISSION)


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(MergePermissionReadOnlyAdmin):
    list_display = ["pair", "score", "why", "status", "merge_link", "modified"]
    list_filter = [RealmListFilter, "status"]
    list_select_related = ["person_a", "person_b"]
    search_fields = ["=person_a__id", "=person_b__id"]
    actions = ["mark_not_duplicate"]
    change_list_template = "admin/people/duplicatecandidate/change_list.html"

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(person_a__merged_into=None, person_b__merged_into=None)

    def get_urls(self):
        return [
            path("rescan/", self.admin_site.admin_view(self.rescan_view), name="people_duplicatecandidate_rescan"),
            *super().get_urls(),
        ]

    @admin.display(description="persons")
    def pair(self, obj):
        return format_html(
            '<a href="{}">{}</a> (id {}) ~ <a href="{}">{}</a> (id {})',
            reverse("admin:people_person_change", args=[obj.person_a_id]),
            obj.person_a,
            obj.person_a_id,
            reverse("admin:people_person_change", args=[obj.person_b_id]),
            obj.person_b,
            obj.person_b_id,
        )

    @admin.display(description="reasons")
    def why(self, obj):
        return format_html_join(
            "", "<div>{}{}</div>", ((r["label"], f": {r['detail']}" if r.get("detail") else "") for r in obj.reasons)
        )

    @admin.display(description="")
    def merge_link(self, obj):
        if obj.status != DuplicateStatus.OPEN:
            return ""
        url = reverse("admin:people_person_merge") + "?" + urlencode({"ids": f"{obj.person_a_id},{obj.person_b_id}"})
        return format_html('<a class="button" href="{}">Merge…</a>', url)

    @admin.action(description="Not a duplicate (never suggest again)", permissions=["merge"])
    def mark_not_duplicate(self, request, queryset):
        count = 0
        for candidate in queryset.select_related("person_a", "person_b"):
            duplicate_dismiss(person_a=candidate.person_a, person_b=candidate.person_b, actor=actor_of(request))
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d pair marked as not duplicates.", "%(n)d pairs marked as not duplicates.", count)
            % {"n": count},
        )

    def changelist_view(self, request, extra_context=None):
        realms = list(realms_for_user(request.user))
        scans = {}
        for scan in DuplicateScan.objects.filter(realm__in=realms).order_by("realm_id", "-created"):
            scans.setdefault(scan.realm_id, scan)
        extra_context = {
            **(extra_context or {}),
            "rescan_realms": [(realm, scans.get(realm.pk)) for realm in realms]
            if self.has_merge_permission(request)
            else [],
        }
        return super().changelist_view(request, extra_context)

    def rescan_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_merge_permission(request):
            raise PermissionDenied
        realm = realms_for_user(request.user).filter(pk=request.POST.get("realm") or 0).first()
        if realm is None:
            raise Http404("No such realm.")
        scan = duplicate_scan_request(realm=realm, started_by=actor_of(request))
        self.message_user(request, f"Rescan of {realm} queued (scan #{scan.pk}); suggestions refresh when it ends.")
        return HttpResponseRedirect(reverse("admin:people_duplicatecandidate_changelist"))


@admin.register(DuplicateScan)
class DuplicateScanAdmin(MergePermissionReadOnlyAdmin):
    list_display = ["__str__", "realm", "status", "started_by", "created", "finished_at", "found", "error"]
    list_filter = [RealmListFilter, "status"]
    readonly_fields = ["realm", "status", "started_by", "counts", "error", "created", "started_at", "finished_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="candidates")
    def found(self, obj):
        return obj.counts.get("candidates", "—")


@admin.register(NotDuplicate)
class NotDuplicateAdmin(MergePermissionReadOnlyAdmin):
    """Deleting a decision lets the pair be suggested again by the next rescan."""

    list_display = ["__str__", "realm", "decided_by", "created"]
    list_filter = [RealmListFilter]
    search_fields = ["=person_a__id", "=person_b__id"]
    readonly_fields = ["realm", "person_a", "person_b", "decided_by", "created"]

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(MERGE_PERMISSION)
