"""What staff paste into a recipient's web form: the engine's own questions when Kesu knows its form
(``kesu/law/webforms.py``), otherwise the desk's details, the notice's text and its URLs.

Her name is never an answer: a search engine's form is no law that requires it, so the "person you
represent" field says the desk acts under her mandate and withholds it.
"""

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from ..law import webforms
from ..sites.models import Role
from .compose import urls_of
from .models import Notice
from .services import text_of

Field = tuple[str, str, int]  # (label, answer, rows of the text box)


def _mandate(notice: Notice) -> str:
    signed = notice.case.mandate_signed_on
    when = signed.isoformat() if signed else _("(date of her mandate: record it on the case)")
    return _("The desk acts for the person depicted under her written mandate signed on %(date)s; it can show "
             "the mandate to you on request.") % {"date": when}  # fmt: skip


IMAGERY = {
    "deepfake": _lazy(
        "The images are fabricated (a deepfake): they show the person, who is identifiable, in a sexual or "
        "intimate way she never took part in."
    ),
    "csam": _lazy("The images show a child in a sexual way; they are also reported to a hotline."),
}
INTIMATE = _lazy(
    "The person depicted is identifiable; the images show her nude, in a sexual act or in an intimate state."
)


def _answers(notice: Notice) -> dict:
    org = settings.KESU_ORG
    subject, body = text_of(notice)
    return {
        "country": org.get("country", ""),
        "requester_role": _("Authorised representative of the person depicted"),
        "requester_name": org["name"],
        "email": org["email"],
        "authority": _mandate(notice),
        "depicted": _("Withheld for her safety: the desk acts under her mandate (see above)."),
        "imagery": str(IMAGERY.get(notice.case.case_type, INTIMATE)),
        "consent": _("No. She never consented to the publication of these images (or she withdrew any consent)."),
        "not_paid": _("No."),
        "urls": "\n".join(urls_of(notice)),
        "reason": f"{subject}\n\n{body}",
        "signature": f"{org.get('signatory', org['name'])}, {timezone.localdate().isoformat()}",
    }


def _generic(notice: Notice) -> list[Field]:
    org = settings.KESU_ORG
    subject, body = text_of(notice)
    return [
        (_("Organisation name"), org["name"], 1),
        (_("E-mail"), org["email"], 1),
        (_("Telephone"), org.get("phone", ""), 1),
        (_("Postal address"), org.get("address", ""), 2),
        (_("Subject"), subject, 2),
        (_("Full text"), body, 16),
        (_("URLs, one per line"), "\n".join(urls_of(notice)), 6),
    ]


def engine_form(notice: Notice) -> webforms.WebForm | None:
    if notice.role != Role.SEARCH_ENGINE or notice.recipient is None:
        return None
    return webforms.form_for(notice.recipient.key, notice.case.case_type)


def fields_for(notice: Notice, language: str = "en") -> list[Field]:
    """The fields to paste, in the form's order; empty answers are left out of the generic list only."""
    form = engine_form(notice)
    if form is None:
        return [field for field in _generic(notice) if field[1]]
    answers = _answers(notice)
    return [(f.label_ja if language == "ja" else f.label, answers[f.fills], f.rows) for f in form.fields]
