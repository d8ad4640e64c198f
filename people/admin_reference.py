"""Admin of the persons' reference data: tags, custom attribute and event definitions, and recorded events;
saves go through people.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery

from core.admin_mixins import RealmListFilter, RealmScopedAdmin, ServiceDryRunForm
from core.errors import ValidationError
from core.paginator import LargeTablePaginator
from people import services
from people.models import (
    CustomAttributeDefinition,
    EventDefinition,
    EventSource,
    PersonEvent,
    Tag,
)


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
