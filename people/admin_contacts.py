"""The contact inlines of the person admin: phones and emails checked like people.validation checks them
(per realm, normalised, no duplicates within a person), and the read-only channel profiles."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from core.errors import ValidationError
from identities.models import Realm
from people import forms as person_forms
from people import selectors, validation
from people.models import (
    CONTACTS_PER_PERSON_MAX,
    ChannelProfile,
    PersonEmail,
    PersonPhone,
)


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
    classes = ["cdp-no-original"]  # the number is the field itself: not again as the row's title


class EmailInline(admin.TabularInline):
    model = PersonEmail
    form = EmailForm
    formset = EmailFormSet
    extra = 1
    max_num = CONTACTS_PER_PERSON_MAX
    verbose_name = "email"
    fields = ["address"]
    classes = ["cdp-no-original"]


class ChannelProfileInline(admin.TabularInline):
    """Push registrations and chat app profiles: preview data set by channels, never edited here."""

    model = ChannelProfile
    extra = 0
    fields = ["channel", "application_id", "identifier", "preview"]
    readonly_fields = fields
    can_delete = False
    verbose_name = "channel profile (read-only)"
    verbose_name_plural = "channel profiles (read-only)"
    classes = ["cdp-no-original"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="data")
    def preview(self, obj):
        return format_html("<pre style='margin:0;white-space:pre-wrap'>{}</pre>", person_forms.pretty_json(obj.data))


# --------------------------------------------------------------------------------------------- person
