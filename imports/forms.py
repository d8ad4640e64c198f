"""Forms of the Import people wizard. They only shape input; the services check the rules."""

from __future__ import annotations

from django import forms

from identities.realms import realms_for_user
from imports import readers
from imports.mapping import field_choices
from imports.models import DuplicateStrategy


class UploadForm(forms.Form):
    realm = forms.ModelChoiceField(queryset=None, help_text="The persons are imported into this realm.")
    file = forms.FileField(
        help_text=".csv, .txt, .xls, .xlsx, or a .zip holding one of them; at most 15 MB (unpacked).",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(readers.ALLOWED_EXTENSIONS)}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        realms = realms_for_user(user)
        self.fields["realm"].queryset = realms
        if realms.count() == 1:
            self.fields["realm"].initial = realms.first()


class ReadOptionsForm(forms.Form):
    encoding = forms.ChoiceField(choices=list(readers.ENCODINGS.items()))
    delimiter = forms.ChoiceField(
        choices=[(k, f"{v} ({k!r})" if k != "\t" else v) for k, v in readers.DELIMITERS.items()]
    )


PHONE_FIELD = "phone"


class MappingForm(forms.Form):
    """One field choice (and a country prefix for phones) per column."""

    def __init__(self, *args, job, definitions, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— do not import —"), *field_choices(definitions)]
        self.columns = []
        for index, entry in enumerate(job.mapping):
            field_name, country_name = f"field_{index}", f"country_{index}"
            self.fields[field_name] = forms.ChoiceField(
                choices=choices, required=False, initial=entry.get("field") or "", label=entry["header"]
            )
            self.fields[country_name] = forms.CharField(
                max_length=2,
                required=False,
                initial=entry.get("country", ""),
                label="Country prefix",
                widget=forms.TextInput(attrs={"size": 3, "placeholder": "HR"}),
            )
            self.columns.append((entry["header"], self[field_name], self[country_name]))
        self.fields["default_type"] = forms.ChoiceField(
            choices=[("", "Customer (Infobip's default)"), ("CUSTOMER", "Customer"), ("LEAD", "Lead")],
            required=False,
            initial=job.default_type,
            label="Type of rows without one",
            help_text="Rows with no Type cell get this type; an existing Customer stays a Customer.",
        )

    def mapping(self) -> list[dict]:
        """The chosen mapping; a country prefix is kept on phone columns only (the page shows it on those only,
        so a prefix typed before the column was switched to another field is not the user's intent)."""
        return [
            {
                "header": header,
                "field": self.cleaned_data[field.name] or None,
                "country": (self.cleaned_data[country.name] or "").upper()
                if self.cleaned_data[field.name] == PHONE_FIELD
                else "",
            }
            for header, field, country in self.columns
        ]


class StartForm(forms.Form):
    strategy = forms.ChoiceField(
        choices=DuplicateStrategy.choices,
        widget=forms.RadioSelect,
        initial=DuplicateStrategy.RESOLVE,
        label="Duplicates",
    )
    tags = forms.CharField(
        required=False,
        help_text="Tags to add to every imported person, separated by commas. The import also tags its "
        "persons automatically.",
    )

    def tag_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data.get("tags", "").split(",") if name.strip()]
