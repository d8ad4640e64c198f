from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from companies import services
from companies.models import Company
from core.admin_mixins import RealmListFilter, ServiceBackedAdmin
from core.models import Folded
from identities.realms import realms_for_user
from people import forms as person_forms
from people.fields import COMPANY_ATTRIBUTES
from people.models import CustomAttributeDefinition, Person

COMPANY_FIELDS = list(COMPANY_ATTRIBUTES.values())


class CompanyAdminForm(forms.ModelForm):
    definitions: list = []

    class Meta:
        model = Company
        fields = ["realm", "name", "external_id", "tags", *COMPANY_FIELDS[2:]]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.update(
                person_forms.custom_attribute_initial(self.instance.custom_attributes, self.definitions)
            )
            if "realm" in self.fields:
                self.fields["realm"].disabled = True

    def clean(self):
        cleaned = super().clean()
        self.service_custom_attributes = person_forms.check_custom_attributes(self, self.definitions)
        realm = cleaned.get("realm") or (self.instance.realm if self.instance.pk else None)
        name = cleaned.get("name")
        if realm and name:
            taken = Company.objects.filter(realm=realm, name__iexact=name.strip()).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("name", f"A company named {name!r} already exists in this realm.")
        return cleaned


@admin.register(Company)
class CompanyAdmin(ServiceBackedAdmin):
    form = CompanyAdminForm
    list_display = ["name", "realm", "country", "industry", "customer_stage", "person_count", "sync_status", "created"]
    list_filter = [RealmListFilter, "country", "industry", "customer_stage", "sync_status"]
    search_fields = ["name", "=external_id", "=vat_number"]  # the box; the search itself: get_search_results
    search_help_text = "Part of the name (case and accents optional: “zelic” finds Želić), "
    "an externalId or a VAT number."
    autocomplete_fields = ["tags"]
    readonly_fields = ["infobip_id", "sync_status", "sync_error", "synced_at", "created", "modified", "persons_list"]

    def get_queryset(self, request):
        persons = Person.objects.filter(company=OuterRef("pk")).order_by().values("company").annotate(n=Count("*"))
        return super().get_queryset(request).select_related("realm").annotate(n_persons=Subquery(persons.values("n")))

    def get_search_results(self, request, queryset, search_term):
        """A name contains the term without case or accents, both ways (core.models.Folded); ids are exact. A
        realm holds about one company per thousand persons, so the name's scan stays small."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(folded_name__contains=Folded(Value(term))) | Q(external_id=term) | Q(vat_number=term)
        return queryset.annotate(folded_name=Folded("name")).filter(condition), False

    @admin.display(description="persons", ordering="n_persons")
    def person_count(self, obj):
        return obj.n_persons or 0

    def _definitions(self, request, obj):
        realm = obj.realm if obj else None
        if realm is None:
            realms = realms_for_user(request.user)
            wanted = request.POST.get("realm") or request.GET.get("realm")
            realm = realms.filter(pk=wanted).first() if wanted and str(wanted).isdigit() else None
        return list(CustomAttributeDefinition.objects.filter(realm=realm).order_by("name")) if realm else []

    def get_fieldsets(self, request, obj=None):
        definitions = self._definitions(request, obj)
        sets = [
            (None, {"fields": ["realm", "name", "external_id", "tags"]}),
            (
                "Details",
                {
                    "fields": [
                        ("country", "region"),
                        ("industry", "segment"),
                        ("customer_stage", "account_manager"),
                        "vat_number",
                        "domains",
                        "notes",
                    ]
                },
            ),
        ]
        if definitions:
            sets.append(("Custom attributes", {"fields": [person_forms.custom_field_name(d) for d in definitions]}))
        if obj:
            sets.append(("Persons", {"fields": ["persons_list"]}))
            sets.append(("Infobip sync", {"fields": [("sync_status", "synced_at"), "sync_error", "infobip_id"]}))
        return sets

    def get_form(self, request, obj=None, change=False, **kwargs):
        definitions = self._definitions(request, obj)
        attrs = {**person_forms.custom_attribute_fields(definitions), "definitions": definitions}
        kwargs["form"] = type("CompanyForm", (self.form,), attrs)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        """Nothing here: save_related writes the company and its tags in one service call."""

    def save_related(self, request, form, formsets, change):
        attributes = {field: form.cleaned_data.get(field) for field in COMPANY_FIELDS if field in form.cleaned_data}
        tags = [t.name for t in form.cleaned_data.get("tags") or []]
        if change:
            company = services.company_update(
                company=form.instance,
                attributes=attributes,
                tags=tags,
                custom_attributes=form.service_custom_attributes,
                replace_tags=True,
            )
        else:
            company = services.company_create(
                realm=form.cleaned_data["realm"],
                attributes=attributes,
                tags=tags,
                custom_attributes=form.service_custom_attributes,
            )
        form.instance.pk = company.pk
        form.instance._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        return [{"added": {}}] if add else [{"changed": {"fields": list(form.changed_data)}}]

    def delete_model(self, request, obj):
        services.company_delete(company=obj)

    def delete_queryset(self, request, queryset):
        for company in queryset:
            services.company_delete(company=company)

    @admin.display(description="persons of this company")
    def persons_list(self, obj):
        persons = list(obj.persons.order_by("-id")[:50])
        if not persons:
            return "No persons."
        return format_html(
            "<ul style='margin:0'>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a></li>',
                ((reverse("admin:people_person_change", args=[p.pk]), str(p)) for p in persons),
            ),
        )
