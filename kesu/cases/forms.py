from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..accounts.models import User
from ..lib import languages
from .models import Case, CaseType, Consent, ContactEntry, Victim

LANGUAGES = ("ja", "en", "id", "ko", "zh")  # her language, named in the reader's (kesu.lib.languages)


class DateInput(forms.DateInput):
    input_type = "date"


class VictimForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    address = forms.CharField(
        label=pgettext_lazy("postal", "Address"),
        max_length=400,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def details(self):
        from .services import VictimDetails

        data = self.cleaned_data
        contact = {k: data[k] for k in ("email", "phone", "address") if data.get(k)}
        return VictimDetails(name=data.get("name", ""), contact=contact)


class AssigneesMixin:
    """Supervisors choose the staff on a case; staff never see the field."""

    def _limit_assignees(self, user) -> None:
        if getattr(user, "sees_all_cases", False):
            self.fields["assignees"].queryset = User.objects.filter(is_active=True).order_by("username")
        else:
            del self.fields["assignees"]


def _assignees_field():
    return forms.ModelMultipleChoiceField(
        label=_("Assigned staff"), queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )


def _consent_field():
    return forms.MultipleChoiceField(
        label=_("Consent"), choices=Consent.choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class CaseCreateForm(AssigneesMixin, VictimForm):
    case_type = forms.ChoiceField(label=_("Case type"), choices=CaseType.choices)
    language = forms.ChoiceField(label=_("Her language"), choices=lambda: languages.choices(LANGUAGES), initial="ja")
    receipt = forms.ChoiceField(label=_("Receipts"), choices=Victim.Receipt.choices)
    is_minor = forms.BooleanField(label=_("Minor in the material"), required=False)
    mandate_signed_on = forms.DateField(label=_("Mandate signed on"), required=False, widget=DateInput)
    consent = _consent_field()
    assignees = _assignees_field()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit_assignees(user)


class CaseEditForm(AssigneesMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Case.Status.choices)
    consent = _consent_field()
    assignees = _assignees_field()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit_assignees(user)


class ContactForm(forms.Form):
    direction = forms.ChoiceField(label=_("Direction"), choices=ContactEntry.Direction.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=ContactEntry.Channel.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ReferenceTextForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("url", _("Known URL")), ("keyword", _("Title or keyword"))])
    text = forms.CharField(label=_("URL or keyword"), max_length=2000)
