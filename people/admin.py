"""The person admin: the changelist (filters, badges, a paginator for large tables) and the change form with
its contact inlines, custom attributes, linked identities, push log and events; saves go through people.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from core.admin_mixins import RealmListFilter, RealmScopedAdmin
from core.errors import ErrorCollector, ValidationError
from core.paginator import LargeTablePaginator
from identities.models import Identity, Realm
from identities.realms import realms_for_user, user_realm_ids
from infobip.selectors import person_push_log
from people import admin_jobs, admin_merge_records, admin_reference, admin_segments, selectors, services, validation  # noqa: F401 - they register their ModelAdmins
from people import forms as person_forms
from people.admin_actions import BULK_ACTIONS, PersonBulkActionsMixin
from people.admin_columns import PersonColumnsMixin
from people.admin_contacts import ChannelProfileInline, EmailFormSet, EmailInline, PhoneFormSet, PhoneInline
from people.admin_merge import PersonMergeAdminMixin
from people.fields import PERSON_ATTRIBUTES
from people.models import (
    CustomAttributeDefinition,
    Origin,
    Person,
    SyncStatus,
    Tag,
)

# ------------------------------------------------------------------------------------------ list filters


class TagListFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"
    max_choices = 100

    def lookups(self, request, model_admin):
        tags = Tag.objects.order_by("name")
        ids = user_realm_ids(request.user)
        if ids is not None:
            tags = tags.filter(realm_id__in=ids)
        return [(str(pk), name) for pk, name in tags.values_list("pk", "name")[: self.max_choices]]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(tags__id=int(self.value()))
            except ValueError:
                return queryset.none()
        return queryset


class CountryListFilter(admin.SimpleListFilter):
    """The most common countries. Counting them reads every person, so the list is cached for ten minutes."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        ids = user_realm_ids(request.user)
        key = f"person-countries:{sorted(ids) if ids is not None else 'all'}"
        choices = cache.get(key)
        if choices is None:
            qs = Person.objects.exclude(country="")
            if ids is not None:
                qs = qs.filter(realm_id__in=ids)
            top = qs.values_list("country").annotate(n=Count("pk")).order_by("-n")[:30]
            choices = sorted(country for country, _ in top)
            cache.set(key, choices, 600)
        return [(c, c) for c in choices]

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class OriginListFilter(admin.SimpleListFilter):
    """Infobip's origin names (WEB_SDK, not “Web Sdk”), only those that occur; cached like the countries."""

    title = "origin"
    parameter_name = "origin__exact"

    def lookups(self, request, model_admin):
        ids = user_realm_ids(request.user)
        key = f"person-origins:{sorted(ids) if ids is not None else 'all'}"
        choices = cache.get(key)
        if choices is None:
            qs = Person.objects.all() if ids is None else Person.objects.filter(realm_id__in=ids)
            choices = sorted(qs.order_by().values_list("origin", flat=True).distinct())
            cache.set(key, choices, 600)
        return [(origin, origin) for origin in choices]

    def queryset(self, request, queryset):
        return queryset.filter(origin=self.value()) if self.value() else queryset


class ProfileStateFilter(admin.SimpleListFilter):
    """Merged persons are aliases of their survivor: hidden unless asked for. Django's own first choice
    ("All", no parameter) is the default view, active persons; the choices say what each shows."""

    title = "profile"
    parameter_name = "profile"

    def lookups(self, request, model_admin):
        return [("merged", "Merged into another (aliases)"), ("all", "All")]

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        choices[0]["display"] = "Active (not merged)"
        return choices

    def queryset(self, request, queryset):
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(merged_into__isnull=True)


# ------------------------------------------------------------------------------------------- contacts


class PersonAdminForm(forms.ModelForm):
    definitions: list[CustomAttributeDefinition] = []

    class Meta:
        model = Person
        fields = [
            "realm", "type", "external_id", "company", "first_name", "middle_name", "last_name", "nick_name",
            "gender",
            "birth_date", "preferred_language", "address", "city", "country", "profile_picture", "tags",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.update(
                person_forms.custom_attribute_initial(self.instance.custom_attributes, self.definitions)
            )
        if "realm" in self.fields and self.instance.pk:
            self.fields["realm"].disabled = True

    def clean(self):
        cleaned = super().clean()
        attributes = {field: cleaned.get(field) for field in PERSON_ATTRIBUTES.values() if field in self.fields}
        errors = ErrorCollector()
        self.service_attributes = validation.clean_person_attributes(attributes, errors)
        if errors:
            person_forms.add_service_errors(self, ValidationError(errors.fields), self.definitions)
        self.service_custom_attributes = person_forms.check_custom_attributes(self, self.definitions)
        return cleaned


@admin.register(Person)
class PersonAdmin(PersonColumnsMixin, PersonBulkActionsMixin, PersonMergeAdminMixin, RealmScopedAdmin):
    form = PersonAdminForm
    actions = ["merge_persons", *BULK_ACTIONS]
    list_display = [
        "id", "display_name", "first_email", "first_phone", "type", "tag_list", "country", "sync_badge", "created",
    ]  # fmt: skip
    fixed_columns = list_display[:2]
    default_columns = list_display[2:]
    optional_columns = {
        "first_email": "Email", "first_phone": "Phone", "type": "Type", "tag_list": "Tags", "country": "Country",
        "city": "City", "realm": "Realm", "company": "Company", "sync_badge": "Sync", "created": "Created",
        "modified": "Modified",
    }  # fmt: skip
    list_display_links = ["display_name"]
    list_filter = [
        RealmListFilter, "type", TagListFilter, CountryListFilter, OriginListFilter, "sync_status", ProfileStateFilter,
        admin_segments.SegmentListFilter,
    ]  # fmt: skip
    list_select_related = ["company"]
    search_fields = ["last_name"]  # the box is shown; the search itself is selectors.person_search
    search_help_text = (
        "Email, phone (any format), externalId, or the start of a name (“Smi”, “Jane Smi”; accents optional: “juric”)."
    )
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 100
    autocomplete_fields = ["tags", "company"]
    inlines = [PhoneInline, EmailInline, ChannelProfileInline]
    readonly_fields = [
        "origin_name", "modified_from_name", "infobip_id", "sync_status", "sync_error", "synced_at", "created",
        "modified", "linked_identities", "events_timeline", "merged_into", "push_log", "custom_attributes_table",
    ]  # fmt: skip
    base_fieldsets = [
        (None, {"fields": ["realm", "type", "external_id", "company"]}),
        (
            "Standard attributes",
            {
                "fields": [
                    ("first_name", "middle_name", "last_name", "nick_name"),
                    ("gender", "birth_date", "preferred_language"),
                    "address",
                    ("city", "country"),
                    "profile_picture",
                ]
            },
        ),
        ("Tags", {"fields": ["tags"]}),
    ]
    tail_fieldsets = [
        ("Identities", {"fields": ["linked_identities"]}),
        ("Events (newest first)", {"fields": ["events_timeline"]}),
        (
            "Infobip sync",
            {
                "fields": [
                    ("sync_status", "synced_at"),
                    "sync_error",
                    "infobip_id",
                    ("origin_name", "modified_from_name"),
                    "push_log",
                ]
            },
        ),
        ("History", {"classes": ["collapse"], "fields": [("created", "modified"), "merged_into"]}),
    ]

    # ------------------------------------------------------------------ changelist

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("realm")

    def get_search_results(self, request, queryset, search_term):
        default_country = None
        ids = user_realm_ids(request.user)
        if ids and len(ids) == 1:
            default_country = Realm.objects.filter(pk=ids[0]).values_list("default_country", flat=True).first()
        return selectors.person_search(queryset, search_term, default_country=default_country), False

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not self.realm_filter_visible(request):
            filters.remove(RealmListFilter)
        return filters

    def get_changelist(self, request, **kwargs):
        class PersonChangeList(ChangeList):
            def get_results(self, request):
                self.queryset = selectors.with_list_columns(self.queryset)
                super().get_results(request)

        return PersonChangeList

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle" aria-label="Select all">'))
    def action_checkbox(self, obj):
        """Django renders this through the form widget machinery, a template per row; a page of 100 rows
        spends more time there than in its queries. Same markup, written directly."""
        return format_html(
            '<input type="checkbox" name="_selected_action" value="{}" class="action-select" aria-label="Select {}">',
            obj.pk,
            obj,
        )

    @admin.display(description="name", ordering="last_name")
    def display_name(self, obj):
        return " ".join(p for p in (obj.first_name, obj.last_name) if p) or "—"

    @admin.display(description="email")
    def first_email(self, obj):
        return getattr(obj, "first_email", None) or "—"

    @admin.display(description="phone")
    def first_phone(self, obj):
        return getattr(obj, "first_phone", None) or "—"

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(getattr(obj, "tag_names", None) or []) or "—"

    @admin.display(description="sync", ordering="sync_status")
    def sync_badge(self, obj):
        colors = {SyncStatus.SYNCED: "#2e7d32", SyncStatus.PENDING: "#b26a00", SyncStatus.FAILED: "#c62828"}
        return format_html(
            '<span style="color:{}" title="{}">{}</span>',
            colors.get(obj.sync_status, "#666"),
            obj.sync_error,
            obj.get_sync_status_display(),
        )

    # ---------------------------------------------------------------- change form

    @admin.display(description="origin")
    def origin_name(self, obj):
        return obj.origin  # Infobip's own name (API, WEB_SDK …), as in the API and Infobip's portal

    @admin.display(description="modified from")
    def modified_from_name(self, obj):
        return obj.modified_from

    @admin.display(description="custom attributes")
    def custom_attributes_table(self, obj):
        """Read-only pages: each attribute by its name with its value, in the edit form's order."""
        definitions = CustomAttributeDefinition.objects.filter(realm_id=obj.realm_id).order_by("name")
        values = obj.custom_attributes or {}
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((d.name, _attribute_text(values.get(d.name))) for d in definitions),
        )
        return format_html('<table class="cdp-attributes" id="custom-attributes"><tbody>{}</tbody></table>', rows)

    def _form_realm(self, request, obj) -> Realm | None:
        if obj is not None and obj.realm_id:
            return obj.realm
        cache_attr = "_cdp_form_realm"
        if hasattr(request, cache_attr):
            return getattr(request, cache_attr)
        realms = realms_for_user(request.user)
        wanted = request.POST.get("realm") or request.GET.get("realm")
        realm = None
        if wanted and str(wanted).isdigit():
            realm = realms.filter(pk=int(wanted)).first()
        elif realms.count() == 1:
            realm = realms.first()
        setattr(request, cache_attr, realm)
        return realm

    def _definitions(self, request, obj) -> list[CustomAttributeDefinition]:
        realm = self._form_realm(request, obj)
        if realm is None:
            return []
        key = f"_cdp_definitions_{realm.pk}"
        if not hasattr(request, key):
            setattr(request, key, list(CustomAttributeDefinition.objects.filter(realm=realm).order_by("name")))
        return getattr(request, key)

    def get_fieldsets(self, request, obj=None):
        definitions = self._definitions(request, obj)
        if obj is not None and definitions and not self.has_change_permission(request, obj):
            custom = [("Custom attributes", {"fields": ["custom_attributes_table"]})]
        else:
            custom = [
                (
                    "Custom attributes",
                    {
                        "fields": [person_forms.custom_field_name(d) for d in definitions],
                        "description": "" if definitions else "This realm defines no custom attributes yet.",
                    },
                )
            ]
        if not definitions and self._form_realm(request, obj) is None:
            custom = []
        tail = self.tail_fieldsets if obj is not None else []
        return [*self.base_fieldsets[:1], *self.merge_fieldsets(request, obj), *self.base_fieldsets[1:], *custom, *tail]

    def get_form(self, request, obj=None, change=False, **kwargs):
        definitions = self._definitions(request, obj)
        attrs = {**person_forms.custom_attribute_fields(definitions), "definitions": definitions}
        kwargs["form"] = type("PersonForm", (self.form,), attrs)
        return super().get_form(request, obj, change, **kwargs)

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, PhoneInline | EmailInline):
            kwargs["form_kwargs"] = {"realm": self._form_realm(request, obj)}
        return kwargs

    def save_model(self, request, obj, form, change):
        """Nothing here: save_related writes the person, contacts and tags in one service call."""

    def save_related(self, request, form, formsets, change):
        phones, emails = [], []
        for formset in formsets:
            if isinstance(formset, PhoneFormSet):
                phones = formset.values()
            elif isinstance(formset, EmailFormSet):
                emails = formset.values()
        tags = [tag.name for tag in form.cleaned_data.get("tags") or []]
        company = form.cleaned_data.get("company")
        if change:
            person = services.person_update(
                person=form.instance,
                attributes=form.service_attributes,
                custom_attributes=form.service_custom_attributes,
                phones=phones,
                emails=emails,
                tags=tags,
                company=company,
                replace=True,
                modified_from=Origin.PORTAL,
            )
        else:
            person = services.person_create(
                realm=form.cleaned_data["realm"],
                attributes=form.service_attributes,
                custom_attributes=form.service_custom_attributes,
                phones=phones,
                emails=emails,
                tags=tags,
                company=company,
                origin=Origin.PORTAL,
            )
        form.instance.pk = person.pk
        form.instance._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        if add:
            return [{"added": {}}]
        changed = list(form.changed_data)
        changed += [f"{formset.model._meta.verbose_name}s" for formset in formsets if formset.has_changed()]
        return [{"changed": {"fields": changed}}] if changed else []

    def delete_model(self, request, obj):
        services.person_delete(person=obj)

    def delete_queryset(self, request, queryset):
        for person in queryset:
            services.person_delete(person=person)

    @admin.display(description="linked identities")
    def linked_identities(self, obj):
        identities = list(Identity.objects.filter(person=obj).order_by("-created")[:50])
        if not identities:
            return "No identity is linked to this person."
        return format_html(
            "<ul style='margin:0'>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> — {} {} {}</li>',
                (
                    (reverse("admin:identities_identity_change", args=[i.pk]), i.pk, i.type, i.country, i.alias)
                    for i in identities
                ),
            ),
        )

    @admin.display(description="pushes to Infobip")
    def push_log(self, obj):
        """The latest outbox rows of this person and the latest calls made for them (infobip.selectors)."""
        log = person_push_log(obj.pk)
        if not log["entries"]:
            return "Nothing was pushed for this person (its realm may not push to Infobip)."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:infobip_outboxentry_change", args=[e.pk]),
                    e.pk,
                    e.op,
                    e.get_status_display(),
                    e.attempts,
                    e.last_error[:200] or "—",
                )
                for e in log["entries"]
            ),
        )
        calls = format_html_join(
            "",
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    a.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    a.request[:120],
                    a.status_code or "—",
                    a.duration_ms,
                    a.error[:200] or ("ok" if a.ok else "—"),
                )
                for a in log["attempts"]
            ),
        )
        link = (
            reverse("admin:infobip_outboxentry_changelist") + "?" + urlencode({"q": obj.pk, "entity__exact": "person"})
        )
        return format_html(
            "<table><thead><tr><th>Change</th><th>Op</th><th>Status</th><th>Attempts</th><th>Last error</th></tr>"
            "</thead><tbody>{}</tbody></table>"
            "<table><thead><tr><th>Call</th><th>Request</th><th>Status</th><th>Took</th><th>Error</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">Every change of this person in the outbox</a></p>',
            rows,
            calls,
            link,
        )

    @admin.display(description="events")
    def events_timeline(self, obj):
        events = selectors.person_timeline(obj)
        if not events:
            return "No events recorded."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    e.occurred_time.strftime("%Y-%m-%d %H:%M:%S"),
                    e.definition.definition_id,
                    e.source,
                    person_forms.pretty_json(e.properties)[:300],
                )
                for e in events
            ),
        )
        link = reverse("admin:people_personevent_changelist") + "?" + urlencode({"person__id__exact": obj.pk})
        return format_html(
            "<table><thead><tr><th>When</th><th>Event</th><th>Source</th><th>Properties</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">All events of this person</a></p>',
            rows,
            link,
        )


def _attribute_text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | dict):
        return person_forms.pretty_json(value)
    return str(value)


# ----------------------------------------------------------------------------------------- reference data
