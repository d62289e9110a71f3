"""The registry of legal regimes: every jurisdiction's plug-ins loaded, and the choice of one for a notice.

Routing (``sites.routing``) asks ``choose`` which regime a notice to a recipient should cite; notices ask
``get`` for its required elements and clock. To add a regime: a ``Regime`` registered in the module of its
jurisdiction (imported below), its templates in ``kesu/notices/data/templates/``, its packet kind in
``packets.py`` if it escalates to an authority, and a row in ``tests/test_law.py``.
"""

from dataclasses import dataclass
from datetime import datetime

from . import au, desk, eu, jp, uk, us  # noqa: F401  (each registers its regimes)
from .base import ELEMENTS, REGIMES, Regime  # noqa: F401

RANKED = tuple(sorted(REGIMES.values(), key=lambda regime: (regime.rank, regime.key)))


def get(key: str) -> Regime:
    try:
        return REGIMES[key]
    except KeyError:
        raise LookupError(f"no legal regime {key!r}; known: {', '.join(sorted(REGIMES))}") from None


def label(key: str) -> str:
    """The regime's name for people; an unknown key as it is."""
    regime = REGIMES.get(key)
    return regime.display_label if regime else key


def notice_regimes() -> dict[str, Regime]:
    """The regimes a notice is written under (each has templates)."""
    return {key: regime for key, regime in REGIMES.items() if regime.writes_notice}


def for_notice(key: str) -> Regime | None:
    """The regime that writes a notice for routing's legal basis; None for steps that are not notices."""
    regime = REGIMES.get(key)
    return regime if regime and regime.writes_notice else None


@dataclass(frozen=True)
class Choice:
    """The regime a notice cites, the others that also fit, and why relevant ones were passed over."""

    regime: Regime
    also: tuple[Regime, ...] = ()
    passed_over: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.regime.key

    @property
    def label(self) -> str:
        return self.regime.display_label


NOTICE_ROLES = frozenset({"operator", "platform", "host", "cdn", "registrar"})


def choose(country, case_type, copyright_=False, *, role="operator", bound_by=(), when: datetime | None = None):
    """The regime a notice to a ``role`` in ``country`` about ``case_type`` should cite.

    ``bound_by``: regime keys the recipient is known to be bound by wherever it is (platforms).
    Regimes are tried by rank; ``general`` when nothing specific fits.
    """
    country = (country or "").upper()
    fits, passed = [], []
    for regime in RANKED:
        relevant = regime.key in bound_by or (regime.covers_country(country) and "*" not in regime.countries)
        problem = _misfit(regime, case_type, role, copyright_, when)
        if relevant and problem and role in NOTICE_ROLES:
            passed.append(f"{regime.short} not used: {problem}")
        if problem is not None or not (relevant or "*" in regime.countries):
            continue
        fits.append(regime)
    specific = [r for r in fits if r.key != "general"]
    chosen = specific[0] if specific else REGIMES["general"]
    return Choice(chosen, tuple(r for r in specific if r is not chosen), tuple(passed))


def _misfit(regime: Regime, case_type: str, role: str, copyright_: bool, when) -> str | None:
    """None when the regime fits; else why not, or "" when the reason is not worth telling
    (another case type; a role a regime needing the copyright would not bind anyway)."""
    unmet = regime.requires == "victim_holds_copyright" and not copyright_
    if case_type not in regime.case_types:
        return ""
    if role not in regime.roles:
        return "" if unmet else f"it binds {', '.join(sorted(regime.roles))}, not a {role}"
    if unmet:
        return "the victim does not hold the copyright (or it is not recorded)"
    if not regime.in_force(when):
        return f"in force only from {regime.in_force_from.isoformat()}"
    return None
