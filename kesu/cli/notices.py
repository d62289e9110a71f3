"""``kesu notice``: prepare, show and send notices; run the outbox, the mailbox and the follow-up by hand."""

import time
from pathlib import Path

from ..lib.errors import UserError
from .output import emit_json, table


def register(commands) -> None:
    notice = commands.add_parser("notice", help="removal requests: prepare, check, send, replies, follow-up")
    sub = notice.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("prepare", help="draft one notice per recipient for URLs (read from FILE or -) or hits")
    p.add_argument("--case", type=int, required=True)
    p.add_argument("--urls", metavar="FILE", help="URLs one per line ('-' for stdin: they lead to her images)")
    p.add_argument("--hits", metavar="IDS", default="", help="comma-separated hit ids of the case")
    p.add_argument("--copyright", action="store_true", help="she holds the copyright (allows DMCA)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=prepare)

    p = sub.add_parser("list", help="notices of a case")
    p.add_argument("--case", type=int, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_notices)

    p = sub.add_parser("show", help="a notice: required elements, what is missing, and its text with --text")
    p.add_argument("token")
    p.add_argument("--text", action="store_true", help="print the text (it holds her URLs; audited)")
    p.set_defaults(handler=show)

    p = sub.add_parser("send", help="send a complete draft (evidence first, then the outbox)")
    p.add_argument("token")
    p.add_argument("--now", action="store_true", help="do the worker's part here instead of queueing it")
    p.set_defaults(handler=send)

    p = sub.add_parser("deliver", help="send what the outbox holds (settling interrupted sends first)")
    p.add_argument("--until-empty", action="store_true", help="keep going until nothing is waiting")
    p.add_argument("--batch", type=int, default=200, help="messages per sweep (a line is printed after each)")
    p.set_defaults(handler=deliver)

    p = sub.add_parser("fetch", help="fetch replies from the desk's mailbox and thread them")
    p.set_defaults(handler=fetch)

    p = sub.add_parser("follow-up", help="send due reminders and escalate notices past their deadline")
    p.set_defaults(handler=follow_up)

    p = sub.add_parser("templates", help="load the shipped notice templates (never over a staff edit)")
    p.set_defaults(handler=sync_templates)

    p = sub.add_parser("packet", help="the escalation packet for the authority of a notice's regime (audited)")
    p.add_argument("token")
    p.add_argument("--language", choices=("en", "ja"), default="en")
    p.add_argument("--with-identity", action="store_true", help="name her (only if she agreed to be named)")
    p.set_defaults(handler=packet)

    p = sub.add_parser("clock-start", help="record when a clock that waits for an event began (ISO time, UTC)")
    p.add_argument("token")
    p.add_argument("--at", required=True, help="e.g. 2026-12-01T09:00:00+00:00 (eSafety's removal notice)")
    p.set_defaults(handler=clock_start)

    p = sub.add_parser("legal-event", help="record a DSA 16(4) confirmation, a 16(5) decision or an authority's "
                       "removal notice on a sent notice (ISO time with a zone)")  # fmt: skip
    p.add_argument("token")
    p.add_argument("kind", choices=("receipt_confirmed", "decision", "authority_notice"))
    p.add_argument("--at", required=True, help="when the provider or authority says it happened")
    p.add_argument("--decision", default="", help="for a decision: removed, disabled, refused or other")
    p.set_defaults(handler=legal_event)

    p = sub.add_parser("samples", help="render every regime in every language with sample data into DIR")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(handler=samples)


def _notice(token: str, principal):
    from ..cases.services import case_for
    from ..notices.models import Notice

    notice = Notice.objects.filter(token=token.strip().upper()).select_related("case", "recipient").first()
    if notice is None:
        raise UserError(f"no notice {token}")
    case_for(principal, notice.case_id)  # 404 for a user not on the case
    return notice


def _row(notice) -> dict:
    return {
        "token": notice.token,
        "recipient": notice.recipient.name,
        "role": notice.role,
        "channel": notice.channel,
        "regime": notice.regime,
        "language": notice.language,
        "urls": notice.url_count,
        "status": notice.status,
        "outcome": notice.outcome,
        "sent_at": notice.sent_at.isoformat() if notice.sent_at else "",
    }


def prepare(args):
    from ..cases.services import case_for
    from ..notices.compose import prepare as draft
    from .output import read_input

    case = case_for(args.principal, args.case)
    urls = read_input(args.urls).splitlines() if args.urls else []
    try:
        hits = [int(h) for h in args.hits.split(",") if h.strip()]
    except ValueError:
        raise UserError("--hits: comma-separated numbers") from None
    result = draft(args.principal, case, urls=urls, hit_ids=hits, copyright=args.copyright)
    rows = [_row(n) for n in result.notices]
    if args.json:
        emit_json({"notices": rows, "unrouted": result.unrouted, "already_open": result.already_open})
    else:
        table(rows, ["token", "recipient", "role", "channel", "regime", "language", "urls"])
        for reason in result.unrouted:
            print(f"not routed: {reason}")
    return 0


def list_notices(args):
    from ..cases.services import case_for

    case = case_for(args.principal, args.case)
    rows = [_row(n) for n in case.notices.select_related("recipient")]
    if args.json:
        emit_json(rows)
    else:
        table(rows, ["token", "recipient", "role", "regime", "language", "urls", "status", "outcome", "sent_at"])
    return 0


def show(args):
    from ..audit.services import log_action
    from ..law import regimes
    from ..notices import compose, services

    notice = _notice(args.token, args.principal)
    for key, value in _row(notice).items():
        print(f"{key:10} {value}")
    if notice.subject_sealed:
        subject, body = services.text_of(notice)
        identity = notice.identity_included
    else:
        result = compose.check(notice, actor=args.principal)
        missing = {element: why for element, _, why in result.missing}
        for element in result.regime.required_for(notice.case.case_type):
            mark = "missing: " + missing[element] if element in missing else "ok"
            print(f"  [{'x' if element not in missing else ' '}] {regimes.ELEMENTS[element]}: {mark}")
        subject, body = (result.rendered.subject, result.rendered.body) if result.rendered else ("", "")
        identity = result.identity
    if identity:
        print("this notice contains her name and address (the law requires it and she agreed)")
    if args.text:
        log_action(args.principal, "notice.view", notice, case_id=notice.case_id)
        print(f"\nSubject: {subject}\n\n{body}")
    return 0


def send(args):
    from ..notices import outbox, services

    notice = services.send(args.principal, _notice(args.token, args.principal))
    if args.now:
        notice = services.dispatch(notice.pk)
        outbox.deliver_due()
        notice.refresh_from_db()
    print(f"{notice.token} {notice.status}")
    return 0


def deliver(args):
    from ..notices import outbox
    from ..notices.models import OutboxMessage

    while True:
        counts = {**outbox.recover(), **outbox.deliver_due(limit=max(1, args.batch))}
        print(" ".join(f"{k}={v}" for k, v in counts.items() if v) or "nothing due", flush=True)
        waiting = OutboxMessage.objects.filter(status__in=("pending", "sending")).exists()
        if not (args.until_empty and waiting):
            return 0
        time.sleep(0.2)


def fetch(args):
    from ..notices import replies

    print(" ".join(f"{k}={v}" for k, v in replies.fetch().items()))
    return 0


def follow_up(args):
    from ..notices import services

    print(" ".join(f"{k}={v}" for k, v in services.follow_up().items()))
    return 0


def sync_templates(args):
    from ..notices import templates

    print(" ".join(f"{k}={v}" for k, v in templates.sync_shipped(args.principal).items()))
    return 0


def samples(args):
    from ..notices.samples import write_samples

    written = write_samples(Path(args.out))
    print(f"{len(written)} samples in {args.out}")
    return 0


def packet(args):
    from ..notices.packets import packet_for

    notice = _notice(args.token, args.principal)
    print(packet_for(args.principal, notice, with_identity=args.with_identity).text(args.language), end="")
    return 0


def _moment(text: str):
    from datetime import datetime

    from ..lib.errors import UserError

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at {text!r} is not an ISO date and time") from None
    if when.tzinfo is None:
        raise UserError("--at needs a time zone, e.g. +00:00")
    return when


def legal_event(args):
    from ..notices import milestones

    notice = milestones.record(args.principal, _notice(args.token, args.principal), args.kind, _moment(args.at),
                               args.decision)  # fmt: skip
    print(f"{args.kind} recorded on {notice.token}")
    return 0


def clock_start(args):
    from ..notices import clocks

    when = _moment(args.at)
    notice = clocks.record_start(args.principal, _notice(args.token, args.principal), when)
    print(f"clock of {notice.token} runs out at {notice.clock_due_at.isoformat()}")
    return 0
