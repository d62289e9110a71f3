"""The shape of a legal regime and the registry every jurisdiction's module adds to.

A regime names the elements a valid request under it must contain (templates mark each with
``{% element "name" %}``; see ``kesu.notices.render``), who it binds (recipient roles, countries, case
types, from which date), its clocks, what the desk may do when a clock runs out (``Escalation``), and
the sources it was written from. ``verified=False`` marks what was encoded from memory without the
official text at hand: staff and counsel must check it before relying on it.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .clocks import Clock

ELEMENTS = {
    "recipient": _("who the notice is addressed to"),
    "urls": _("the exact URL of every copy"),
    "content": _("what the material is (identification of the images or videos)"),
    "illegality": _("why the content is unlawful (substantiated explanation)"),
    "right_infringed": _("the right infringed (privacy, portrait rights …)"),
    "not_consensual": _("statement that she did not consent to the publication"),
    "good_faith": _("good-faith statement that the notice is accurate and complete"),
    "perjury": _("statement under penalty of perjury that the sender is authorised"),
    "copyrighted_work": _("identification of the copyrighted work"),
    "notifier": _("name and e-mail address of the notifier"),
    "contact": _("contact details of the sender"),
    "authority": _("statement that the desk acts for her (power of attorney)"),
    "signature": _("signature"),
    "requester": _("her name and address (required by this law)"),
    "demand": _("what the recipient is asked to do, and by when"),
}
BASE = ("recipient", "urls", "content", "contact", "signature", "demand")
ALL_CASE_TYPES = frozenset({"ncii", "voyeurism", "sextortion", "deepfake", "av", "csam"})
NOTICE_ROLES = frozenset({"operator", "platform", "host"})
# Countries by group, for regimes that bind a union of states.
COUNTRY_GROUPS = {
    # DSA: the EU 27; IS, LI, NO through the EEA Agreement is not verified here (see eu.py).
    "eu": frozenset(
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
    ),
}


@dataclass(frozen=True)
class Source:
    cite: str  # statute and article, as a lawyer would cite it
    url: str


@dataclass(frozen=True)
class Escalation:
    """Where the desk turns when a clock ran out: the authority, the packet it asks for, and how to file it."""

    authority: str
    packet: str  # a kind in kesu.law.packets.PACKETS
    how: str
    source: Source
    verified: bool = True


@dataclass(frozen=True)
class Regime:
    key: str
    short: str
    label: str
    law: str
    sources: tuple[Source, ...]
    required: tuple[str, ...] = ()
    rank: int = 50
    countries: frozenset[str] = frozenset({"*"})
    roles: frozenset[str] = NOTICE_ROLES
    case_types: frozenset[str] = ALL_CASE_TYPES
    clocks: tuple[Clock, ...] = ()
    escalation: Escalation | None = None
    # Milestones the recipient owes besides removal, tracked as notice events (DSA 16(4) receipt, 16(5) decision).
    milestones: tuple[str, ...] = ()
    in_force_from: date | None = None
    # The law needs the depicted person's own name and address (not only her representative's).
    needs_identity: bool = False
    # Elements this regime does not require for some case types (DSA 16(2)(c): no notifier for CSAM).
    waived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    requires: str = ""  # "victim_holds_copyright"
    writes_notice: bool = True  # False: a routing step that is no notice (a hotline report, counsel)
    warning: str = ""
    note: str = ""
    verified: bool = True

    @property
    def display_label(self) -> str:
        """The label in the reader's language (``label`` stays as written: packets and samples quote it)."""
        return gettext(self.label)

    @property
    def source(self) -> str:
        return self.sources[0].url

    def required_for(self, case_type: str) -> tuple[str, ...]:
        waived = self.waived.get(case_type, ())
        return tuple(element for element in self.required if element not in waived)

    def clock_for(self, case_type: str, role: str) -> Clock | None:
        """The first clock of this regime that fits the case type and the recipient's role."""
        return next((clock for clock in self.clocks if clock.fits(case_type, role)), None)

    def covers_country(self, country: str) -> bool:
        return "*" in self.countries or country in self.countries

    def in_force(self, when: datetime | None) -> bool:
        return self.in_force_from is None or when is None or when.date() >= self.in_force_from


REGIMES: dict[str, Regime] = {}


def register(regime: Regime) -> Regime:
    unknown = set(regime.required) - set(ELEMENTS)
    if unknown:
        raise ValueError(f"regime {regime.key}: unknown elements {sorted(unknown)}")
    if regime.writes_notice and not regime.required:
        raise ValueError(f"regime {regime.key}: a notice regime names its required elements")
    if regime.key in REGIMES:
        raise ValueError(f"regime {regime.key} is registered twice")
    REGIMES[regime.key] = regime
    return regime
