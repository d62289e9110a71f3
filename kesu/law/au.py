"""Australia: the Online Safety Act 2021 (Cth), image-based abuse.

The desk's route is a complaint to the eSafety Commissioner (s 32, by the depicted person or someone
authorised for her); the 24 h clock binds the provider only once eSafety gives it a removal notice
(s 77(1)(f)), so the clock starts when staff record that notice. Sections checked against the Act's text
as consolidated on AustLII (s 32, 33, 77, 78).
"""

from django.utils.translation import gettext_noop

from .base import BASE, Escalation, Regime, Source, register
from .clocks import AUTHORITY, Clock

OSA = "https://www.legislation.gov.au/C2021A00076/latest/text"
S77 = Source("Online Safety Act 2021 (Cth) s 77(1)(f): a removal notice is complied with within 24 hours after "
             "it was given (or a longer period eSafety allows); s 78 for end-users", OSA)  # fmt: skip
S32 = Source("Online Safety Act 2021 (Cth) s 32: complaint to the Commissioner about an intimate image, by the "
             "depicted person or a person authorised for her", OSA)  # fmt: skip

register(
    Regime(
        "au_osa_iba",
        "Online Safety Act 2021 (AU)",
        gettext_noop("Australian Online Safety Act 2021, image-based abuse: request to the service, then eSafety"),
        "Online Safety Act 2021 (Cth), Part 3 Division 3 and Part 6",
        (S32, S77),
        BASE + ("not_consensual", "authority"),
        rank=35,
        countries=frozenset({"AU"}),
        roles=frozenset({"operator", "platform", "host"}),
        case_types=frozenset({"ncii", "voyeurism", "sextortion", "deepfake", "csam"}),
        clocks=(Clock(AUTHORITY, S77.cite, hours=24, zone="Australia/Sydney"),),
        escalation=Escalation(
            "eSafety Commissioner",
            "esafety_complaint",
            "Report image-based abuse at esafety.gov.au as a person authorised by her; eSafety may then give "
            "the provider a removal notice (24 h).",
            S32,
        ),  # fmt: skip
        note="A request to the service itself has no statutory period; the s 77 clock runs from eSafety's notice.",
    )
)
