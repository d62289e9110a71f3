"""United States: the TAKE IT DOWN Act and DMCA notices."""

from datetime import date

from django.utils.translation import gettext_noop

from .base import BASE, Escalation, Regime, Source, register
from .clocks import RECEIVED, Clock

TAKE_IT_DOWN = Source(
    "TAKE IT DOWN Act, Pub. L. 119-12, §3 (47 U.S.C. 223a); valid request: §3(a)(1)(B); removal within 48 h: "
    "§3(a)(3); FTC enforcement: §3(b)",
    "https://www.congress.gov/bill/119th-congress/senate-bill/146",
)
FTC = Source("TAKE IT DOWN Act §3(b): a failure to comply is an unfair or deceptive act under the FTC Act",
             "https://reportfraud.ftc.gov/")  # fmt: skip

register(
    Regime(
        "us_take_it_down",
        "TAKE IT DOWN Act",
        gettext_noop("US TAKE IT DOWN Act, 47 USC 223a: notice and removal by a covered platform"),
        "TAKE IT DOWN Act (Pub. L. 119-12), 47 U.S.C. § 223a",
        (TAKE_IT_DOWN,),
        BASE + ("not_consensual", "good_faith", "authority"),
        rank=15,
        countries=frozenset({"US"}),
        # Covered platforms (public services that primarily host user-generated content), not hosts or CDNs.
        roles=frozenset({"operator", "platform"}),
        case_types=frozenset({"ncii", "voyeurism", "sextortion", "deepfake", "csam"}),
        # 48 elapsed hours from receipt of a valid request: a daylight-saving change does not move the end.
        clocks=(Clock(RECEIVED, TAKE_IT_DOWN.cite, hours=48, zone="America/New_York"),),
        escalation=Escalation(
            "US Federal Trade Commission",
            "ftc_complaint",
            "File at reportfraud.ftc.gov as the victim's representative; attach the packet. "
            "Her name only with her consent.",
            FTC,
        ),  # fmt: skip
        in_force_from=date(2026, 5, 19),  # the platforms' duties: one year after enactment (19 May 2025)
        note="A valid request carries a signature of the depicted person or someone authorised for her, the location "
        "of the image, a good-faith statement that it is not consensual, and contact information.",
    )
)

DMCA = Source("17 U.S.C. 512(c)(3) (elements), 512(c)(1)(C) (expeditious removal)",
              "https://www.law.cornell.edu/uscode/text/17/512")  # fmt: skip

register(
    Regime(
        "dmca",
        "DMCA",
        gettext_noop("US DMCA notice, 17 USC 512(c)(3) (the victim holds the copyright)"),
        "17 U.S.C. § 512",
        (DMCA,),
        BASE + ("copyrighted_work", "good_faith", "perjury", "authority"),
        rank=5,
        countries=frozenset({"US"}),
        case_types=frozenset({"ncii", "voyeurism", "sextortion", "deepfake", "av"}),
        requires="victim_holds_copyright",
        flags=("lumen_warning",),
        warning="DMCA notices may be forwarded to the operator and published in the Lumen database.",
        note="'Expeditiously' is no fixed period: the desk's own deadline applies. Not used at a CDN (it cannot "
        "remove the file, and Cloudflare's NCSEI category reaches the host without the Lumen risk).",
    )
)
