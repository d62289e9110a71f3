"""Codes the desk stores (roles, languages, case types, signals, audit actions) as words in the reader's
language: a page never shows a raw key (tests/test_i18n_pages.py walks every page in Japanese)."""

from django import template
from django.utils.translation import gettext_lazy as _

from ...audit import labels as audit
from ...cases.models import CaseType
from ...cases.timeline import who
from ...lib import languages
from ...matching.names import signal_name
from ...sites.models import Contact, Role

register = template.Library()

# How a reply was tied to its notice (Reply.threaded_by, kesu/notices/replies.py thread()).
THREADED = {
    "reply": _("answers our message"),
    "bounce": _("returned as undeliverable"),
    "token": _("names the notice's reference"),
}
FLAGS = {
    "lumen_warning": _("may be published in the Lumen database"),
    "ask_origin_disclosure": _("ask it to name the host"),
    "do_not_forward_to_operator": _("ask it not to forward to the operator"),
}


@register.filter
def role_label(code) -> str:
    return str(dict(Role.choices).get(code, code or "—"))


@register.filter
def case_type_label(code) -> str:
    return str(dict(CaseType.choices).get(code, code or "—"))


@register.filter
def channel_label(code) -> str:
    return str(dict(Contact.Channel.choices).get(code, code))


@register.filter
def threaded_label(code) -> str:
    return str(THREADED.get(code, code or "—"))


@register.filter
def flag_labels(flags) -> str:
    return ", ".join(str(FLAGS.get(flag, flag)) for flag in sorted(flags or ()))


@register.filter
def flag_label(flag) -> str:
    return str(FLAGS.get(flag, flag))


@register.filter
def signal_label(code) -> str:
    return signal_name(code)


@register.filter
def language_label(code) -> str:
    """The language's name in the reader's language (ja → 日本語, en → 英語 on a Japanese page)."""
    return languages.name(code)


@register.filter
def action_label(code) -> str:
    return audit.action_label(code)


@register.filter
def actor_label(label) -> str:
    """``user:sato`` reads ``sato``; any part of the system reads "Kesu" (as on the case's timeline)."""
    return who(label)
