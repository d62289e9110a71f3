"""The escalation packet of a notice whose clock ran out: the facts gathered from the notice, built by
``kesu.law.packets`` for the authority its regime names (FTC, eSafety, a Digital Services Coordinator,
Ofcom, counsel). The packet holds her URLs and the notice's text, so building one is audited.

Her name goes in only when staff ask for it (``with_identity``) and she agreed to be named where a law
or an authority needs it (case consent); otherwise the desk files as her representative.
"""

from django.conf import settings

from ..audit.services import log_action
from ..cases.models import Consent
from ..cases.services import victim_details
from ..evidence.models import EvidenceBundle
from ..law import packets, regimes
from ..lib.errors import UserError
from .compose import urls_of
from .models import Notice, OutboxMessage
from .services import text_of

RECEIPT_EVENTS = ("form_submitted", "receipt_confirmed", "decision", "clock_started", "reminder", "outcome")


def _receipts(notice: Notice) -> tuple:
    sent = notice.messages.filter(status=OutboxMessage.Status.SENT).order_by("sent_at")
    rows = [(m.sent_at, f"{m.kind} accepted by the recipient's server (SMTP {m.smtp_code})") for m in sent]
    rows += [(e.at, e.kind) for e in notice.events.filter(kind__in=RECEIPT_EVENTS)]
    return tuple(sorted(rows, key=lambda row: row[0]))


def _evidence(notice: Notice) -> tuple:
    bundles = EvidenceBundle.objects.filter(pk__in=notice.evidence).exclude(manifest_sha256="")
    return tuple((b.manifest_sha256, b.finished_at) for b in bundles.order_by("finished_at"))


def _identity(actor, notice: Notice) -> dict:
    if Consent.NAME_IN_NOTICES not in (notice.case.consent or []):
        raise UserError("she has not agreed to be named where a law requires it (case consent)")
    details = victim_details(actor, notice.case)
    return {"name": details.name, "contact": details.contact.get("email", "")}


def facts_for(actor, notice: Notice, *, with_identity: bool = False) -> packets.Facts:
    regime = regimes.get(notice.regime)
    clock = regime.clock_for(notice.case.case_type, notice.role)
    subject, body = text_of(notice) if notice.subject_sealed else ("", "")
    org = dict(settings.KESU_ORG)
    return packets.Facts(
        regime=regime.key, regime_label=regime.label, recipient=notice.recipient.name, role=notice.role,
        case_type=notice.case.case_type, urls=tuple(urls_of(notice)), sent_at=notice.sent_at,
        clock_due_at=notice.clock_due_at, clock_source=clock.source if clock else "", subject=subject, body=body,
        receipts=_receipts(notice), evidence=_evidence(notice), token=notice.token,
        representative={key: org.get(key, "") for key in ("name", "address", "email", "phone")}
        | {"mandate signed on": notice.case.mandate_signed_on.isoformat() if notice.case.mandate_signed_on else ""},
        identity=_identity(actor, notice) if with_identity else None,
    )  # fmt: skip


def packet_for(actor, notice: Notice, *, with_identity: bool = False) -> packets.Packet:
    """The packet for the authority the notice's regime escalates to; UserError when it names none."""
    escalation = regimes.get(notice.regime).escalation
    if escalation is None:
        raise UserError(f"{regimes.label(notice.regime)} names no authority to escalate to; the ladder's next step")
    packet = packets.build(escalation.packet, facts_for(actor, notice, with_identity=with_identity))
    log_action(actor, "notice.packet", notice, case_id=notice.case_id, kind=escalation.packet,
               identity=with_identity)  # fmt: skip
    return packet
