"""kesu exchange ...: her hashes with the field (StopNCII, NCMEC, partner platforms)."""

import sys
from pathlib import Path

from django.conf import settings

from ..cases import services as cases
from ..exchange import files
from ..exchange import services as exchange
from ..lib.errors import UserError
from .output import emit_json, read_file


def register(commands) -> None:
    parser = commands.add_parser("exchange", help="share her hashes with the field, import hash files")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("consent", help="record (or --withdraw) her consent to share her hashes with DEST")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.add_argument(
        "--to",
        required=True,
        dest="destination",
        metavar="DEST",
        help="stopncii, ncmec (CSAM cases), partners (every partner platform) or a partner's name",
    )
    p.add_argument("--withdraw", action="store_true", help="withdraw it: her hashes are taken back there")
    p.set_defaults(handler=consent)

    p = sub.add_parser("export", help="the hashes she consented to share, in threatexchange's local-file format")
    p.add_argument("--case", dest="case_id", metavar="ID", help="one case (default: every case you can see)")
    p.add_argument(
        "--to",
        dest="destination",
        default="partners",
        metavar="DEST",
        help="whose consent counts: partners (default) or a partner's name",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write, or - for stdout")
    p.set_defaults(handler=export)

    p = sub.add_parser("share", help="send her hashes to StopNCII (with her consent); partners fetch theirs")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.add_argument("--to", required=True, dest="destination", metavar="DEST")
    p.set_defaults(handler=share)

    p = sub.add_parser("feedback", help="read platforms' feedback on her hashes from StopNCII onto her timeline")
    p.set_defaults(handler=feedback)

    p = sub.add_parser("ncmec", help="which of her hashes NCMEC already lists (CSAM cases); upvotes those entries")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.set_defaults(handler=ncmec)

    p = sub.add_parser("beat", help="what the beat does: owed StopNCII withdrawals, then new feedback (supervisors)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=beat)

    p = sub.add_parser("pending", help="StopNCII withdrawals still owed (a deleted or closed case's hashes)")
    p.set_defaults(handler=pending)

    p = sub.add_parser("partner", help="partner platforms of the partner API (supervisors)")
    p.add_argument("partner_action", choices=("add", "revoke", "list"))
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--rate", type=int, default=60, help="requests a minute (add; default 60)")
    p.set_defaults(handler=partner)

    p = sub.add_parser("import", help="a hash file (threatexchange local file, NCMEC or StopNCII CSV) into a case")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=import_file)  # fmt: skip


def consent(args):
    case = cases.case_for(args.principal, args.case_id)
    if args.withdraw:
        count = exchange.withdraw_consent(args.principal, case, args.destination)
        print(f"case {case.pk}: consent for {args.destination} withdrawn" if count else
              f"case {case.pk}: no consent for {args.destination} to withdraw")  # fmt: skip
    else:
        given = exchange.give_consent(args.principal, case, args.destination)
        print(f"case {case.pk}: she consents to share her hashes with {given.destination}")


def export(args):
    scope = cases.visible_cases(args.principal)
    if args.case_id:
        scope = scope.filter(pk=cases.case_for(args.principal, args.case_id).pk)
    text = exchange.export(args.principal, scope, exchange.destination_of(args.destination))
    if args.out == "-":
        sys.stdout.write(text)
        return
    Path(args.out).write_text(text)
    print(f"{text.count(chr(10))} hashes written to {args.out}", file=sys.stderr)


def import_file(args):
    case = cases.case_for(args.principal, args.case_id)
    name = Path(args.file).name
    try:
        items = exchange.import_file(
            args.principal, case, name, read_file(args.file, settings.KESU_MAX_UPLOAD_MB << 20)
        )
    except files.BadLines as exc:
        for line, reason in exc.errors:
            print(f"kesu: error: {name}: line {line}: {reason}", file=sys.stderr)
        raise UserError(f"{name}: {len(exc.errors)} bad line(s), nothing imported") from None
    if args.json:
        emit_json({"file": name, "case": case.pk, "references": [item.pk for item in items]})
    else:
        print(f"{name}: {len(items)} hash-only references added to case {case.pk}")


def share(args):
    case = cases.case_for(args.principal, args.case_id)
    count = exchange.share(args.principal, case, args.destination)
    print(f"case {case.pk}: {count} new hashes sent to {args.destination}")


def feedback(args):
    cases.require_supervisor(args.principal)  # reads every case's shared hashes
    print(f"{exchange.read_feedback(args.principal)} new opinions recorded")


def ncmec(args):
    from ..exchange import ncmec as ncmec_api

    case = cases.case_for(args.principal, args.case_id)
    scan = ncmec_api.check(args.principal, case)
    for item in scan.listed:
        print(f"{item.kind} {item.value}  NCMEC entry {item.entry_id} (member {item.member_id}): upvoted")
    more = "" if scan.complete else f"; NCMEC holds more than the {scan.entries} entries a run reads"
    print(f"case {case.pk}: {len(scan.listed)} of her hashes listed at NCMEC, {scan.upvoted} entries upvoted{more}")


def beat(args):
    from ..exchange import beat as exchange_beat

    cases.require_supervisor(args.principal)
    result = exchange_beat.beat()
    if args.json:
        emit_json(result)
    else:
        print(", ".join(f"{key} {value}" for key, value in result.items()))


def pending(args):
    from ..exchange import beat as exchange_beat

    cases.require_supervisor(args.principal)
    rows = exchange_beat.pending()
    for row in rows:  # no hash, no case: how long it has waited and why
        print(f"{row.signal_type}  since {row.removed_at:%Y-%m-%d %H:%M}  {row.withdraw_attempts} attempt(s)  "
              f"{row.withdraw_error or 'not tried yet'}")  # fmt: skip
    print(f"{len(rows)} StopNCII withdrawal(s) owed", file=sys.stderr)


def partner(args):
    from ..exchange import partners
    from ..exchange.models import Partner

    cases.require_supervisor(args.principal)
    if args.partner_action == "list":
        for row in Partner.objects.order_by("name"):
            print(f"{row.name}  {'revoked' if row.revoked_at else 'live'}  {row.rate_per_minute}/min")
        return
    if not args.name:
        raise UserError(f"partner {args.partner_action} needs the partner's NAME")
    if args.partner_action == "revoke":
        partners.revoke(args.principal, args.name)
        print(f"partner {args.name}: token revoked")
        return
    added, token = partners.add_partner(args.principal, args.name, args.rate)
    print(f"partner {added.name} added; its token (shown once, give it over a safe channel):", file=sys.stderr)
    print(token)
