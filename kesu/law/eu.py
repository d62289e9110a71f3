"""European Union: the Digital Services Act's notice and action (Art. 16) and trusted flaggers (Art. 22)."""

from django.utils.translation import gettext_noop

from .base import BASE, COUNTRY_GROUPS, Escalation, Regime, Source, register
from .clocks import RECEIVED, Clock

DSA = "https://eur-lex.europa.eu/eli/reg/2022/2065/oj"
ART_16 = Source("Regulation (EU) 2022/2065 (DSA) Art. 16(2) elements, 16(4) confirmation of receipt, 16(5)-(6) "
                "decision 'in a timely, diligent, non-arbitrary and objective manner'", DSA)  # fmt: skip
ART_53 = Source("DSA Art. 53: complaint to the Digital Services Coordinator of the member state", DSA)

register(
    Regime(
        "eu_dsa_16",
        "DSA Art. 16",
        gettext_noop("EU Digital Services Act Art. 16 notice (notice and action)"),
        "Regulation (EU) 2022/2065, Art. 16",
        (ART_16, Source("DSA Art. 22(3): trusted flaggers publish a yearly report of their notices", DSA)),
        BASE + ("illegality", "notifier", "good_faith"),
        rank=30,
        countries=COUNTRY_GROUPS["eu"],
        # Art. 16(2)(c): the notifier's name and e-mail are not required for child sexual abuse offences.
        waived={"csam": ("notifier",)},
        # Art. 16 sets no period: the desk's own working week, marked as desk practice.
        clocks=(
            Clock(
                RECEIVED,
                "desk practice: DSA Art. 16(6) says 'timely' and names no period",
                days=7,
                zone="Europe/Brussels",
                statutory=False,
            ),
        ),  # fmt: skip
        milestones=("receipt_confirmed", "decision"),
        escalation=Escalation(
            "Digital Services Coordinator of the provider's member state",
            "dsa_complaint",
            "Lodge a complaint under Art. 53 with the coordinator where the provider is established.",
            ART_53,
        ),  # fmt: skip
        note="Binds hosting services and online platforms offering services in the Union, not caching services or "
        "registrars. Whether it applies in IS, LI and NO through the EEA Agreement is not verified.",
    )
)
