"""Forms for the patrol pages: they parse what was typed; ``services.save_watch`` and ``discovery`` check the rest."""

from django import forms
from django.core.validators import MinValueValidator
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import Watch

# Zero here would mean a watch that never fetches, or one that runs on every tick of the beat.
AT_LEAST_ONE = ("max_pages", "max_links", "every_minutes", "rate_per_minute", "concurrency")


def _label(name: str):
    return capfirst(Watch._meta.get_field(name).verbose_name)


class LinesField(forms.CharField):
    """One value per line in a textarea; blank lines dropped. Cleans to a list of strings."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 5, "cols": 90}))
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        return [line.strip() for line in super().to_python(value).splitlines() if line.strip()]


class WatchForm(forms.ModelForm):
    """A site's watch. Not saved by the form: the view hands the values to ``services.save_watch``."""

    domain = forms.CharField(label=_("Site domain"), max_length=253, help_text=_("for example example.com"))
    seeds = LinesField(label=_label("seeds"), help_text=_("One URL per line: new uploads, categories."))
    searches = LinesField(
        label=_label("searches"), help_text=_("One per line; each must contain {query}, filled with a case's keywords.")
    )

    class Meta:
        model = Watch
        fields = [
            "domain", "name", "seeds", "searches", "item_pattern", "listing_pattern", "max_depth", "max_pages",
            "max_links", "every_minutes", "rate_per_minute", "concurrency", "browser", "enabled",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False  # the service names the watch after its site
        if self.instance.pk:
            self.initial.setdefault("domain", self.instance.site.domain)
        for name in AT_LEAST_ONE:
            self.fields[name].validators.append(MinValueValidator(1))
            self.fields[name].widget.attrs["min"] = 1

    def values(self) -> dict:
        """The cleaned values as ``save_watch`` takes them (the domain goes separately)."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name != "domain"}


class SubmitForm(forms.Form):
    """URLs staff or the victim handed in, to look at now."""

    urls = forms.CharField(
        label=_("URLs, one per line"), widget=forms.Textarea(attrs={"rows": 10, "cols": 90}), max_length=200_000
    )
    by = forms.ChoiceField(
        label=_("Who gave them"), choices=[("staff", _("Staff")), ("victim", _("The victim"))], initial="staff"
    )

    def url_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["urls"].splitlines() if line.strip()]
