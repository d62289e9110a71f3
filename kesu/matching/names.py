"""Each signal's name for people, in the reader's language (a hit stores the signal's code)."""

from django.utils.translation import gettext_lazy as _

SIGNALS = {
    "sha256": _("Same file (SHA-256)"),
    "md5": _("Same file (MD5)"),
    "pdq": _("Picture hash (PDQ)"),
    "local": _("Local features (ORB)"),
    "orb": _("Local features (ORB)"),
    "vpdq": _("Video hash (vPDQ)"),
    "face": _("Face"),
    "nudity": _("Nudity"),
}


def signal_name(code: str) -> str:
    return str(SIGNALS.get(code, code))
