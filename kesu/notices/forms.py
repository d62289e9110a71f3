"""Forms for the notice pages: only what a view needs to parse; the services check the rest."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from ..cases.models import CaseType
from ..law import regimes
from ..lib import languages
from ..sites.models import Role
from . import templates


class TemplateForm(forms.Form):
    # The subject is template code too (if/else per case type): shipped ones run past 300 characters.
    subject = forms.CharField(
        label=_("Subject"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3, "cols": 100})
    )
    body = forms.CharField(label=_("Body"), strip=False, widget=forms.Textarea(attrs={"rows": 24, "cols": 100}))


class SlotForm(forms.Form):
    """A more specific template slot: a regime in a language, narrowed to a case type and/or a role."""

    regime = forms.ChoiceField(label=_("Legal regime"))
    language = forms.ChoiceField(label=_("Language"), choices=lambda: languages.choices(templates.LANGUAGES))
    case_type = forms.ChoiceField(label=_("Case type"), required=False, choices=[("", _("Any"))] + CaseType.choices)
    role = forms.ChoiceField(label=_("Recipient role"), required=False, choices=[("", _("Any"))] + Role.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regime"].choices = [
            (key, regime.display_label) for key, regime in regimes.notice_regimes().items()
        ]


LINK = re.compile(r"(?i)\b(?:https?://|www\.)")


class VictimMessageForm(forms.Form):
    """A message to her: she came to the desk so as not to look, so it carries no links."""

    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 18, "cols": 90}))

    def clean(self):
        data = super().clean()
        if any(LINK.search(data.get(name, "")) for name in ("subject", "body")):
            raise forms.ValidationError(_("Remove the links: messages to her contain no links or images."))
        return data


class SubmittedForm(forms.Form):
    reference = forms.CharField(label=_("Reference the form gave (optional)"), max_length=120, required=False)
