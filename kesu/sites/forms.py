from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..cases.models import CaseType
from ..lib import languages
from .models import Contact, Site
from .names import BadName, country_code, language_codes


class SiteEditForm(forms.ModelForm):
    # Staff may type "米国" or "Netherlands": the two-letter code is worked out in clean_*.
    jurisdiction = forms.CharField(label=_("jurisdiction"), max_length=60, required=False)
    server_country = forms.CharField(label=_("server country"), max_length=60, required=False)

    class Meta:
        model = Site
        fields = ["status", "relation", "jurisdiction", "server_country", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def _country(self, name: str) -> str:
        try:
            return country_code(self.cleaned_data.get(name, ""))
        except BadName as error:
            raise forms.ValidationError(str(error)) from None

    def clean_jurisdiction(self):
        return self._country("jurisdiction")

    def clean_server_country(self):
        return self._country("server_country")


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Contact.Channel.choices)
    address = forms.CharField(
        label=pgettext_lazy("recipient", "Address"), max_length=500, help_text=_("e-mail address or form URL")
    )
    languages = forms.CharField(label=_("Languages"), required=False, help_text=_("e.g. ja, en"))

    def clean_languages(self):
        try:
            return language_codes(self.cleaned_data.get("languages", ""))
        except BadName as error:
            raise forms.ValidationError(str(error)) from None


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Site list or request history (CSV or XLSX)"))


class ExportForm(forms.Form):
    what = forms.ChoiceField(label=_("What"), choices=[("sites", _("Sites")), ("requests", _("Request history"))])
    format = forms.ChoiceField(label=_("Format"), choices=[("xlsx", "XLSX"), ("csv", "CSV")])
    language = forms.ChoiceField(label=_("Headers"), choices=lambda: languages.choices(("ja", "en")))


class RouteForm(forms.Form):
    url = forms.CharField(label=_("URL"), max_length=2000)
    case_type = forms.ChoiceField(label=_("Case type"), choices=CaseType.choices)
    copyright = forms.BooleanField(label=_("The victim holds the copyright (allows a DMCA notice)"), required=False)
