from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.cache import cache
from django.db.models import Count, OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from core.admin_mixins import RealmListFilter, RealmScopedAdmin, ServiceDryRunForm
from core.errors import ErrorCollector, ValidationError
from core.paginator import LargeTablePaginator
from identities.models import Identity, Realm
from identities.realms import realms_for_user, user_realm_ids
from people import forms as person_forms
from people import selectors, services, validation
from people.admin_merge import PersonMergeAdminMixin
from people.fields import PERSON_ATTRIBUTES
from people.models import (
    CONTACTS_PER_PERSON_MAX,
    ChannelProfile,
    CustomAttributeDefinition,
    EventDefinition,
    EventSource,
    Origin,
    Person,
    PersonEmail,
    PersonEvent,
    PersonPhone,
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


class ProfileStateFilter(admin.SimpleListFilter):
    """Merged persons are aliases of their survivor: hidden unless asked for."""

    title = "profile"
    parameter_name = "profile"

    def lookups(self, request, model_admin):
        return [("merged", "Merged into another (aliases)"), ("all", "All")]

    def queryset(self, request, queryset):
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(merged_into__isnull=True)


# ------------------------------------------------------------------------------------------- contacts


class ContactForm(forms.ModelForm):
    def __init__(self, *args, realm: Realm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.realm = realm


class PhoneForm(ContactForm):
    class Meta:
        model = PersonPhone
        fields = ["number"]

    def clean_number(self):
        raw = self.cleaned_data["number"]
        try:
            return validation.normalize_phone(raw, self.realm.default_country if self.realm else None)
        except ValidationError as exc:
            raise forms.ValidationError(exc.fields["phone"]) from exc


class EmailForm(ContactForm):
    class Meta:
        model = PersonEmail
        fields = ["address"]

    def clean_address(self):
        try:
            return validation.normalize_email(self.cleaned_data["address"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.fields["email"]) from exc


class ContactFormSet(forms.BaseInlineFormSet):
    value_field = ""
    kind = ""

    def values(self) -> list[str]:
        return [
            form.cleaned_data[self.value_field]
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and form.cleaned_data.get(self.value_field)
            and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        values = self.values()
        if len({v.lower() for v in values}) != len(values):
            raise forms.ValidationError(f"The same {self.kind} is listed twice.")
        if len(values) > CONTACTS_PER_PERSON_MAX:
            raise forms.ValidationError(f"A person can have at most {CONTACTS_PER_PERSON_MAX} {self.kind}s.")
        realm = self.form_kwargs.get("realm")
        if realm is None or not values:
            return
        owners = selectors.persons_by_contacts(
            realm, values if self.kind == "phone" else [], values if self.kind == "email" else []
        )
        owners.pop(self.instance.pk, None)
        for person_id, matched in owners.items():
            raise forms.ValidationError(
                f"{', '.join(sorted(matched))} already belongs to another person (id {person_id})."
            )


class PhoneFormSet(ContactFormSet):
    value_field, kind = "number", "phone"


class EmailFormSet(ContactFormSet):
    value_field, kind = "address", "email"


class PhoneInline(admin.TabularInline):
    model = PersonPhone
    form = PhoneForm
    formset = PhoneFormSet
    extra = 1
    max_num = CONTACTS_PER_PERSON_MAX
    verbose_name = "phone"
    fields = ["number"]


class EmailInline(admin.TabularInline):
    model = PersonEmail
    form = EmailForm
    formset = EmailFormSet
    extra = 1
    max_num = CONTACTS_PER_PERSON_MAX
    verbose_name = "email"
    fields = ["address"]


class ChannelProfileInline(admin.TabularInline):
    """Push registrations and chat app profiles: preview data set by channels, never edited here."""

    model = ChannelProfile
    extra = 0
    fields = ["channel", "application_id", "identifier", "preview"]
    readonly_fields = fields
    can_delete = False
    verbose_name = "channel profile (read-only)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="data")
    def preview(self, obj):
        return format_html("<pre style='margin:0;white-space:pre-wrap'>{}</pre>", person_forms.pretty_json(obj.data))


# --------------------------------------------------------------------------------------------- person


class PersonAdminForm(forms.ModelForm):
    definitions: list[CustomAttributeDefinition] = []

    class Meta:
        model = Person
        fields = [
            "realm", "type", "external_id", "company", "first_name", "middle_name", "last_name", "gender",
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
class PersonAdmin(PersonMergeAdminMixin, RealmScopedAdmin):
    form = PersonAdminForm
    actions = ["merge_persons"]
    list_display = [
        "id", "display_name", "first_email", "first_phone", "type", "tag_list", "country", "sync_badge", "created",
    ]  # fmt: skip
    list_display_links = ["display_name"]
    list_filter = [
        RealmListFilter, "type", TagListFilter, CountryListFilter, "origin", "sync_status", ProfileStateFilter,
    ]  # fmt: skip
    list_select_related = ["company"]
    search_fields = ["last_name"]  # the box is shown; the search itself is selectors.person_search
    search_help_text = "Email, phone (any format), externalId, or the start of a name (“Smi”, “Jane Smi”)."
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 100
    autocomplete_fields = ["tags", "company"]
    inlines = [PhoneInline, EmailInline, ChannelProfileInline]
    readonly_fields = [
        "origin", "modified_from", "infobip_id", "sync_status", "sync_error", "synced_at", "created", "modified",
        "linked_identities", "events_timeline", "merged_into", "push_log",
    ]  # fmt: skip
    base_fieldsets = [
        (None, {"fields": ["realm", "type", "external_id", "company"]}),
        (
            "Standard attributes",
            {
                "fields": [
                    ("first_name", "middle_name", "last_name"),
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
                    ("origin", "modified_from"),
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
        from django.contrib.admin.views.main import ChangeList

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
        from infobip.selectors import person_push_log

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


# ----------------------------------------------------------------------------------------- reference data


@admin.register(Tag)
class TagAdmin(RealmScopedAdmin):
    list_display = ["name", "realm", "person_count", "created"]
    list_filter = [RealmListFilter]
    search_fields = ["name"]
    ordering = ["name"]

    def get_queryset(self, request):
        persons = (
            Tag.persons.through.objects.filter(tag_id=OuterRef("pk")).order_by().values("tag_id").annotate(n=Count("*"))
        )
        return super().get_queryset(request).select_related("realm").annotate(n_persons=Subquery(persons.values("n")))

    def get_readonly_fields(self, request, obj=None):
        # Infobip has no rename: a tag's name is fixed once created.
        return ["name", "realm", "created"] if obj else ["created"]

    @admin.display(description="persons", ordering="n_persons")
    def person_count(self, obj):
        return obj.n_persons or 0

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.tag_create(realm=obj.realm, name=obj.name)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.tag_delete(tag=obj)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            services.tag_delete(tag=tag)


class CustomAttributeDefinitionForm(ServiceDryRunForm):
    error_fields = {"name": "name", "dataType": "data_type", "objectSchema": "object_schema"}

    class Meta:
        model = CustomAttributeDefinition
        fields = ["realm", "name", "data_type", "object_schema"]

    def run_service(self, cleaned_data):
        if self.instance.pk:
            return  # definitions are read-only once created
        services.custom_attribute_definition_create(
            realm=cleaned_data["realm"],
            name=cleaned_data["name"],
            data_type=cleaned_data["data_type"],
            object_schema=cleaned_data.get("object_schema") or None,
        )


@admin.register(CustomAttributeDefinition)
class CustomAttributeDefinitionAdmin(RealmScopedAdmin):
    form = CustomAttributeDefinitionForm
    list_display = ["name", "data_type", "realm", "created"]
    list_filter = [RealmListFilter, "data_type"]
    search_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        # Infobip has no update for definitions: delete and define again.
        return ["realm", "name", "data_type", "object_schema", "created"] if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.custom_attribute_definition_create(
                realm=obj.realm, name=obj.name, data_type=obj.data_type, object_schema=obj.object_schema or None
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.custom_attribute_definition_delete(definition=obj)

    def delete_queryset(self, request, queryset):
        for definition in queryset:
            services.custom_attribute_definition_delete(definition=definition)


class EventDefinitionForm(ServiceDryRunForm):
    error_fields = {"definitionId": "definition_id", "title": "title", "description": "description", "fields": "fields"}

    class Meta:
        model = EventDefinition
        fields = ["realm", "definition_id", "title", "description", "fields"]

    def run_service(self, cleaned_data):
        common = {
            "title": cleaned_data["title"],
            "description": cleaned_data.get("description", ""),
            "fields": cleaned_data.get("fields"),
        }
        if self.instance.pk:
            services.event_definition_update(definition=self.instance, **common)
        else:
            services.event_definition_create(
                realm=cleaned_data["realm"], definition_id=cleaned_data["definition_id"], **common
            )


@admin.register(EventDefinition)
class EventDefinitionAdmin(RealmScopedAdmin):
    form = EventDefinitionForm
    list_display = ["definition_id", "title", "realm", "field_count", "created"]
    list_filter = [RealmListFilter]
    search_fields = ["definition_id", "title"]

    def get_readonly_fields(self, request, obj=None):
        return ["realm", "definition_id", "created"] if obj else []

    @admin.display(description="fields")
    def field_count(self, obj):
        return len(obj.fields or [])

    def save_model(self, request, obj, form, change):
        cleaned = form.cleaned_data
        if change:
            services.event_definition_update(
                definition=obj, title=obj.title, description=obj.description, fields=cleaned.get("fields")
            )
        else:
            created = services.event_definition_create(
                realm=obj.realm,
                definition_id=obj.definition_id,
                title=obj.title,
                description=obj.description,
                fields=obj.fields,
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.event_definition_delete(definition=obj)


class PersonEventForm(forms.ModelForm):
    class Meta:
        model = PersonEvent
        fields = ["person", "definition", "occurred_time", "properties", "event_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "event_id" in self.fields:
            self.fields["event_id"].required = False
            self.fields["event_id"].help_text = "Leave empty to generate one."

    def clean(self):
        cleaned = super().clean()
        person, definition = cleaned.get("person"), cleaned.get("definition")
        if person and definition:
            if person.realm_id != definition.realm_id:
                self.add_error("definition", "The definition belongs to another realm than the person.")
            else:
                try:
                    services.check_event_properties(definition, cleaned.get("properties") or {})
                except ValidationError as exc:
                    for field, reasons in exc.fields.items():
                        for reason in reasons:
                            self.add_error("properties", f"{field}: {reason}")
        return cleaned


@admin.register(PersonEvent)
class PersonEventAdmin(RealmScopedAdmin):
    """Events are records of what happened: they are added, never changed."""

    form = PersonEventForm
    list_display = ["occurred_time", "definition", "person", "source", "event_id"]
    list_filter = [RealmListFilter, "source", "definition"]
    list_select_related = ["definition", "person"]
    search_fields = ["=event_id", "=person__id"]
    autocomplete_fields = ["person"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    date_hierarchy = "occurred_time"

    def get_readonly_fields(self, request, obj=None):
        return ["person", "definition", "occurred_time", "properties", "event_id", "source", "created"] if obj else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        event, _ = services.person_event_record(
            person=obj.person,
            definition_id=obj.definition.definition_id,
            properties=obj.properties,
            event_id=obj.event_id or None,
            occurred_time=obj.occurred_time,
            source=EventSource.ADMIN,
        )
        obj.pk = event.pk
