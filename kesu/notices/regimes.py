"""Legal regimes as plug-ins: what a notice under each law must contain.

A regime names its required elements. Templates mark each element with
``{% element "name" %}…{% endelement %}``; a rendered notice is complete when
every required element rendered with all of its data (see ``render``). A
notice that misses one cannot be sent, and the composer says which is missing
and why (for her identity: she has not agreed for this recipient).

Sources for the elements: FIELD.md's table (47 USC 223a(a)(1)(B); DSA art.
16(2); the テレサ書式 送信防止措置依頼書; AV出演被害防止救済法 arts 15–16;
17 USC 512(c)(3)).
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

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


@dataclass(frozen=True)
class Regime:
    key: str
    label: str
    required: tuple[str, ...]
    # The law needs the depicted person's own name and address (not only her representative's).
    needs_identity: bool = False
    # Elements this regime does not require for some case types (DSA 16(2)(c): no notifier for CSAM).
    waived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warning: str = ""

    def required_for(self, case_type: str) -> tuple[str, ...]:
        waived = self.waived.get(case_type, ())
        return tuple(element for element in self.required if element not in waived)


REGIMES: dict[str, Regime] = {}


def register(regime: Regime) -> Regime:
    unknown = set(regime.required) - set(ELEMENTS)
    if unknown:
        raise ValueError(f"regime {regime.key}: unknown elements {sorted(unknown)}")
    REGIMES[regime.key] = regime
    return regime


BASE = ("recipient", "urls", "content", "contact", "signature", "demand")

register(
    Regime(
        "us_take_it_down",
        "TAKE IT DOWN Act, 47 U.S.C. 223a",
        BASE + ("not_consensual", "good_faith", "authority"),
    )
)
register(
    Regime(
        "eu_dsa_16",
        "EU Digital Services Act, Art. 16",
        BASE + ("illegality", "notifier", "good_faith"),
        # Art. 16(2)(c): the notifier's name and e-mail are not required for child sexual abuse offences.
        waived={"csam": ("notifier",)},
    )
)
register(
    Regime(
        "jp_platform_act",
        "情報流通プラットフォーム対処法 送信防止措置依頼",
        BASE + ("right_infringed", "illegality", "requester", "authority"),
        needs_identity=True,
    )
)
register(
    Regime(
        "jp_av_act",
        "AV出演被害防止救済法 (令和4年法律第78号) 第15条・第16条",
        BASE + ("right_infringed", "not_consensual", "requester", "authority"),
        needs_identity=True,
    )
)
register(
    Regime(
        "dmca",
        "DMCA, 17 U.S.C. 512(c)(3)",
        BASE + ("copyrighted_work", "good_faith", "perjury", "authority"),
        warning="DMCA notices may be forwarded to the operator and published in the Lumen database.",
    )
)
register(Regime("general", "General removal request", BASE + ("not_consensual", "authority")))

# Routing's legal bases that do not have a form of their own are written as a general request,
# which adapts its wording to the recipient's role.
ROUTING_BASIS = {
    "uk_osa": "general",
    "search_engine_policy": "general",
    "hotline_report": "general",
}


def regime_for_basis(basis: str) -> Regime | None:
    """The regime that writes a notice for routing's legal basis; None for steps that are not notices."""
    return REGIMES.get(ROUTING_BASIS.get(basis, basis))


def label(key: str) -> str:
    """The regime's name for people; an unknown key (a routing basis that is no notice) as it is."""
    regime = REGIMES.get(key)
    return regime.label if regime else key


def get(key: str) -> Regime:
    try:
        return REGIMES[key]
    except KeyError:
        raise LookupError(f"no legal regime {key!r}; known: {', '.join(sorted(REGIMES))}") from None
