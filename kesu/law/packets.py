"""Escalation packets: what an authority asks for when a recipient let a clock run out.

A packet is built from ``Facts`` (plain data the notices package gathers from a notice: dates, URLs, the
text sent, receipts, evidence hashes) and holds exactly the sections its authority asks for. Her identity
is a section only when ``Facts.identity`` is given, which the caller does only with her consent; without
it the desk files as her representative. Headings come in English and Japanese.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Facts:
    regime: str
    regime_label: str
    recipient: str
    role: str
    case_type: str
    urls: tuple[str, ...]
    sent_at: datetime | None
    clock_due_at: datetime | None
    clock_source: str
    subject: str
    body: str
    receipts: tuple[tuple[datetime, str], ...] = ()  # (when, what): SMTP accepted, form submitted, confirmed …
    evidence: tuple[tuple[str, datetime | None], ...] = ()  # (SHA-256 of the bundle, when it was captured)
    representative: dict = field(default_factory=dict)  # the desk: name, address, email, mandate date
    identity: dict | None = None  # her name and contact: only with her consent
    token: str = ""


HEADINGS = {
    "facts": ("What happened", "経緯"),
    "dates": ("Dates (UTC)", "日時 (UTC)"),
    "urls": ("Where the content is", "掲載場所 (URL)"),
    "notice": ("The request sent", "送付した依頼"),
    "receipts": ("Delivery and answers", "送達と回答"),
    "evidence": ("Evidence (SHA-256 of each preserved bundle)", "証拠 (保全した各バンドルの SHA-256)"),
    "representative": ("Filed by (her authorised representative)", "申告者 (本人の代理人)"),
    "identity": ("The person depicted (given with her consent)", "被害者本人 (本人の同意に基づき記載)"),
    "decision": ("Receipt confirmation and decision (DSA Art. 16(4)-(5))", "受領確認と判断 (DSA 16条4項・5項)"),
}


@dataclass(frozen=True)
class PacketKind:
    authority: str
    sections: tuple[str, ...]  # in order; "identity" is added only with her consent


PACKETS = {
    "ftc_complaint": PacketKind(
        "US Federal Trade Commission", ("facts", "dates", "urls", "notice", "receipts", "evidence", "representative")
    ),
    "dsa_complaint": PacketKind(
        "Digital Services Coordinator",
        ("facts", "dates", "urls", "notice", "receipts", "decision", "evidence", "representative"),
    ),
    "esafety_complaint": PacketKind(
        "eSafety Commissioner", ("facts", "dates", "urls", "receipts", "evidence", "representative")
    ),
    "ofcom_record": PacketKind("Ofcom", ("facts", "dates", "urls", "notice", "receipts", "evidence")),
    "jp_counsel_brief": PacketKind(
        "counsel / 総務省", ("facts", "dates", "urls", "notice", "receipts", "evidence", "representative")
    ),
}


@dataclass(frozen=True)
class Packet:
    kind: str
    authority: str
    sections: dict[str, str]

    def text(self, language: str = "en") -> str:
        index = 1 if language == "ja" else 0
        parts = [f"{self.authority} — {self.kind}"]
        parts += [f"\n## {HEADINGS[name][index]}\n{body}" for name, body in self.sections.items()]
        return "\n".join(parts) + "\n"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _facts(f: Facts) -> str:
    missed = f" The period ran out at {_when(f.clock_due_at)} ({f.clock_source})." if f.clock_due_at else ""
    return (f"On {_when(f.sent_at)} the desk asked {f.recipient} ({f.role}) under {f.regime_label} to remove "
            f"{len(f.urls)} URL(s) showing intimate images published without consent.{missed} "
            f"Reference {f.token}.")  # fmt: skip


def _dates(f: Facts) -> str:
    rows = [("request received by the recipient", f.sent_at), ("legal period ended", f.clock_due_at)]
    return "\n".join(f"- {what}: {_when(at)}" for what, at in rows)


def _decision(f: Facts) -> str:
    seen = {what for _, what in f.receipts}
    confirmed = "yes" if "receipt_confirmed" in seen else "no confirmation received"
    decided = "yes" if "decision" in seen else "no decision notified"
    return f"- 16(4) confirmation of receipt: {confirmed}\n- 16(5) decision notified: {decided}"


def _person(details: dict) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in details.items() if value)


SECTION = {
    "facts": _facts,
    "dates": _dates,
    "urls": lambda f: "\n".join(f"- {url}" for url in f.urls),
    "notice": lambda f: f"Subject: {f.subject}\n\n{f.body}",
    "receipts": lambda f: "\n".join(f"- {_when(at)}: {what}" for at, what in f.receipts) or "- none recorded",
    "evidence": lambda f: "\n".join(f"- {digest} ({_when(at)})" for digest, at in f.evidence) or "- none kept",
    "representative": lambda f: _person(f.representative),
    "identity": lambda f: _person(f.identity or {}),
    "decision": _decision,
}


def build(kind: str, facts: Facts) -> Packet:
    """The packet ``kind`` asks for; raises LookupError for an unknown kind."""
    try:
        spec = PACKETS[kind]
    except KeyError:
        raise LookupError(f"no escalation packet {kind!r}; known: {', '.join(sorted(PACKETS))}") from None
    names = spec.sections + (("identity",) if facts.identity else ())
    return Packet(kind, spec.authority, {name: SECTION[name](facts) for name in names})
