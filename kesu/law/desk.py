"""Routes that are no statute: search engines' own removal flows, hotline reports, counsel, and the general
request. Their periods are the desk's practice, marked so."""

from django.utils.translation import gettext_noop

from .base import BASE, Regime, Source, register
from .clocks import RECEIVED, Clock

ANY_ROLE = frozenset({"operator", "platform", "host", "cdn", "registrar", "search_engine", "hotline", "lawyer"})

register(
    Regime(
        "search_engine_policy",
        gettext_noop("search engine removal flow"),
        gettext_noop(
            "Search engine's own removal flow for non-consensual explicit imagery (Google, Bing, Yahoo! JAPAN)"
        ),
        "the search engine's published policy (not a statutory notice)",
        (
            Source(
                "Google: remove non-consensual explicit imagery", "https://support.google.com/websearch/answer/6302812"
            ),
            Source(
                "Bing: report non-consensual intimate imagery", "https://www.microsoft.com/en-us/concern/revengeporn"
            ),
            Source("Yahoo! JAPAN 検索: 削除申告 (results come from Google's index)", "https://support.yahoo-net.jp/"),
        ),
        BASE + ("not_consensual", "authority"),
        roles=frozenset({"search_engine"}),
        clocks=(
            Clock(
                RECEIVED,
                "desk practice: search engines usually decide within days; escalate after a week",
                days=7,
                zone="UTC",
                statutory=False,
            ),
        ),  # fmt: skip
        note="A packet staff paste into the engine's form; the outcome is recorded like a notice's. Delisting hides "
        "the copy from search results but does not remove it.",
    )
)
register(
    Regime(
        "hotline_report",
        gettext_noop("hotline report"),
        gettext_noop("Report to an INHOPE member hotline"),
        "the hotline's national mandate (no notice regime)",
        (Source("INHOPE / ICCAM", "https://www.inhope.org/"),),
        roles=frozenset({"hotline"}),
        clocks=(
            Clock(
                RECEIVED,
                "desk practice: CSAM reported to a hotline in the hosting country came down in about "
                "2.5 days (ICCAM figures in docs/FIELD.md)",
                hours=72,
                statutory=False,
            ),
        ),  # fmt: skip
        writes_notice=False,
    )
)
register(
    Regime(
        "legal_action",
        gettext_noop("court action"),
        gettext_noop("Court action through counsel (e.g. 削除仮処分 in Japan)"),
        "civil procedure of the forum",
        (Source("民事保全法 (削除仮処分)", "https://laws.e-gov.go.jp/law/401AC0000000091"),),
        roles=frozenset({"lawyer"}),
        writes_notice=False,
        note="The last step: counsel sets the pace. Injunctions and disclosure orders need her agreement.",
    )
)
register(
    Regime(
        "general",
        gettext_noop("general abuse notice"),
        gettext_noop("General removal request"),
        "the recipient's terms of service and acceptable use policy",
        (Source("the recipient's own terms; INHOPE", "https://www.inhope.org/"),),
        BASE + ("not_consensual", "authority"),
        rank=100,
        roles=ANY_ROLE,
        note="Cite the recipient's own terms and the law of the victim's country; most hosts and CDNs forbid "
        "non-consensual intimate imagery and all forbid CSAM.",
    )
)
