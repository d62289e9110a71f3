"""United Kingdom: the Online Safety Act 2023. UNVERIFIED: encoded from memory, without the Act or
Ofcom's codes at hand. Sharing intimate images without consent is a priority offence; a regulated
user-to-user service must take it down swiftly once aware of it. The Act gives a person no notice
procedure with a period of its own, and Ofcom does not decide individual complaints: the desk keeps a
record it can hand to Ofcom (its complaints route about a service) as evidence of a systemic failure.
"""

from django.utils.translation import gettext_noop

from .base import BASE, Escalation, Regime, Source, register
from .clocks import RECEIVED, Clock

OSA = "https://www.legislation.gov.uk/ukpga/2023/50"
DUTY = Source("Online Safety Act 2023 s 10(3)(b) (swift take-down of illegal content once aware) and Sch. 7 "
              "(priority offences, incl. sharing intimate images) — section numbers UNVERIFIED", OSA)  # fmt: skip

register(
    Regime(
        "uk_osa",
        "Online Safety Act (UK)",
        gettext_noop("Notice citing the UK Online Safety Act 2023 (sharing intimate images is a priority offence)"),
        "Online Safety Act 2023 (c. 50)",
        (DUTY,),
        BASE + ("illegality", "not_consensual", "authority"),
        rank=40,
        countries=frozenset({"GB"}),
        roles=frozenset({"operator", "platform"}),
        clocks=(
            Clock(
                RECEIVED,
                "desk practice: the Act says 'swiftly' and names no period",
                days=7,
                zone="Europe/London",
                calendar="GB",
                statutory=False,
            ),
        ),  # fmt: skip
        escalation=Escalation(
            "Ofcom (record of a regulated service's failure; Ofcom does not decide single complaints)",
            "ofcom_record",
            "Keep the record; send it through Ofcom's complaint route about an online service.",
            DUTY,
            verified=False,
        ),  # fmt: skip
        verified=False,
    )
)
