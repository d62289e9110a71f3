"""kesu case ... and kesu reference ..."""

import argparse
import json
from datetime import date

from django.conf import settings

from ..cases import references, services
from ..cases.models import ContactEntry, ReferenceItem
from ..lib.errors import UserError
from . import hashing
from .output import emit_json, read_file, read_input, table


def register(commands) -> None:
    case = commands.add_parser("case", help="create, list, show, change, export and delete cases")
    sub = case.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("create", help="open a case (and a new victim unless --victim is given)")
    p.add_argument("--type", required=True, choices=services.CASE_TYPES, dest="case_type")
    p.add_argument("--victim", metavar="CODE", help="an existing victim's code")
    p.add_argument("--details", metavar="FILE", help='JSON {"name":..., "contact": {...}} from FILE or - (stdin)')
    p.add_argument("--language", default="ja", help="her preferred language (default ja)")
    p.add_argument("--receipt", default="email", choices=["email", "staff", "none"])
    p.add_argument("--minor", action="store_true", help="she is (or was, in the material) a minor")
    p.add_argument("--assign", action="append", default=[], metavar="USER")
    p.add_argument("--mandate", type=_date, metavar="YYYY-MM-DD", help="date the mandate was signed")
    p.add_argument("--consent", default="", help=f"comma-separated: {','.join(services.CONSENTS)}")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=create)

    p = sub.add_parser("list", help="cases you can see")
    p.add_argument("--status")
    p.add_argument("--type", dest="case_type")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_cases)

    p = sub.add_parser("show", help="one case")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--personal", action="store_true", help="also show her name and contact data (audited)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=show)

    p = sub.add_parser("assign", help="set the staff assigned to a case (supervisors)")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("users", nargs="*", metavar="USER")
    p.set_defaults(handler=assign)

    p = sub.add_parser("status", help="change a case's status")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("status", choices=services.Case.Status.values)
    p.set_defaults(handler=status)

    p = sub.add_parser("consent", help="record what she consented to (replaces the previous record)")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("consent", help=f"comma-separated: {','.join(services.CONSENTS)}")
    p.set_defaults(handler=consent)

    p = sub.add_parser("contact", help="log a contact with the victim; the note is read from FILE or -")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--direction", required=True, choices=ContactEntry.Direction.values)
    p.add_argument("--channel", required=True, choices=ContactEntry.Channel.values)
    p.add_argument("--note", metavar="FILE", help="note text from FILE or - (stdin)")
    p.set_defaults(handler=contact)

    p = sub.add_parser("due", help="cases whose yearly continuation check is due")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=due)

    p = sub.add_parser("continuation", help="record her yearly answer: continue or close")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("answer", choices=["continue", "close"])
    p.set_defaults(handler=continuation)

    p = sub.add_parser("export", help="the case as JSON (no personal data unless --personal)")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--out", default="-", help="file to write, or - for stdout (default)")
    p.add_argument("--personal", action="store_true", help="include personal data; only to stdout")
    p.set_defaults(handler=export)

    hashing.register(sub)

    p = sub.add_parser("delete", help="delete a case and shred its key (supervisors)")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    p.set_defaults(handler=delete)

    ref = commands.add_parser("reference", help="add and list a case's reference material")
    sub = ref.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("add", help="add reference images, videos, face photos, URLs or keywords")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--kind", choices=references.KIND_HINTS, help="face: face-only photos; default: detected")
    p.add_argument("--url", action="append", default=[], help="a known URL where her material is")
    p.add_argument("--keyword", action="append", default=[], help="a title or keyword to search for")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=add_references)

    p = sub.add_parser("list", help="a case's references")
    p.add_argument("--case", required=True, dest="case_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_references)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _details(path: str | None) -> services.VictimDetails:
    if not path:
        return services.VictimDetails()
    try:
        raw = json.loads(read_input(path))
        if not isinstance(raw, dict):
            raise ValueError
        contact = raw.get("contact") or {}
        if not isinstance(contact, dict):
            raise ValueError
        return services.VictimDetails(name=str(raw.get("name") or ""), contact={k: str(v) for k, v in contact.items()})
    except ValueError:
        raise UserError('--details must be a JSON object {"name": ..., "contact": {...}}') from None


def _users(names):
    from ..accounts.services import get_user

    return [get_user(n) for n in names]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _case_summary(case) -> dict:
    return {
        "id": case.pk,
        "victim": case.victim.code,
        "type": case.case_type,
        "status": case.status,
        "assignees": ",".join(sorted(u.username for u in case.assignees.all())),
        "continuation_due_on": case.continuation_due_on.isoformat() if case.continuation_due_on else "",
    }


def create(args):
    if args.assign and not args.principal.sees_all_cases:
        raise UserError("only a supervisor assigns cases to other staff")
    victim = None
    if args.victim:
        victim = services.Victim.objects.filter(code=args.victim).first()
        if victim is None or not services.visible_cases(args.principal).filter(victim=victim).exists():
            raise UserError(f"no victim {args.victim}")
    assignees = _users(args.assign)
    if not args.principal.sees_all_cases and args.principal not in assignees:
        assignees.append(args.principal)  # staff who open a case work on it
    case = services.create_case(
        args.principal,
        args.case_type,
        victim=victim,
        details=_details(args.details),
        language=args.language,
        receipt=args.receipt,
        is_minor=args.minor,
        assignees=assignees,
        mandate_signed_on=args.mandate,
        consent=_split(args.consent),
    )
    if args.json:
        emit_json({"id": case.pk, "victim": case.victim.code})
    else:
        print(f"case {case.pk} created for victim {case.victim.code}")


def _print_cases(args, cases) -> None:
    rows = [_case_summary(c) for c in cases]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(rows, ["id", "victim", "type", "status", "assignees", "continuation_due_on"])


def list_cases(args):
    _print_cases(args, services.case_rows(args.principal, args.status, args.case_type))


def show(args):
    case = services.case_for(args.principal, args.case_id)
    data = services.export_case(args.principal, case, personal=args.personal)
    data.pop("history")
    if args.json:
        emit_json(data)
        return
    for key in ("id", "victim", "type", "status", "assignees", "consent", "mandate_signed_on", "continuation_due_on"):
        print(f"{key:20} {data[key]}")
    if args.personal:
        print(f"{'name':20} {data['victim_details']['name']}")
        for key, value in data["victim_details"]["contact"].items():
            print(f"{key:20} {value}")
    print(f"{'references':20} {len(data['references'])}")


def assign(args):
    services.require_supervisor(args.principal)
    case = services.case_for(args.principal, args.case_id)
    services.set_assignees(args.principal, case, _users(args.users))
    print(f"case {case.pk} assigned to {', '.join(args.users) or 'nobody'}")


def status(args):
    case = services.case_for(args.principal, args.case_id)
    services.set_status(args.principal, case, args.status)
    print(f"case {case.pk} is now {args.status}")


def consent(args):
    case = services.case_for(args.principal, args.case_id)
    services.record_consent(args.principal, case, _split(args.consent))
    print(f"case {case.pk} consent: {', '.join(case.consent) or 'none'}")


def contact(args):
    case = services.case_for(args.principal, args.case_id)
    note = read_input(args.note) if args.note else ""
    services.add_contact(args.principal, case, args.direction, args.channel, note.strip())
    print(f"contact logged on case {case.pk}")


def due(args):
    _print_cases(args, services.continuation_due(args.principal))


def continuation(args):
    case = services.case_for(args.principal, args.case_id)
    services.record_continuation(args.principal, case, args.answer == "continue")
    case.refresh_from_db()
    print(f"case {case.pk}: {case.status}, next check {case.continuation_due_on}")


def export(args):
    case = services.case_for(args.principal, args.case_id)
    if args.personal and args.out != "-":
        raise UserError("--personal writes to stdout only: pipe it into an encrypted store")
    text = json.dumps(services.export_case(args.principal, case, args.personal), ensure_ascii=False, indent=2)
    if args.out == "-":
        print(text)
    else:
        from pathlib import Path

        Path(args.out).write_text(text + "\n")
        print(f"case {case.pk} exported to {args.out}")


def delete(args):
    if not args.yes:
        raise UserError("deleting a case cannot be undone: add --yes")
    case = services.case_for(args.principal, args.case_id)
    services.delete_case(args.principal, case)
    print(f"case {args.case_id} deleted; its key is destroyed")


def add_references(args):
    case = services.case_for(args.principal, args.case_id)
    if not (args.files or args.url or args.keyword):
        raise UserError("give at least one FILE, --url or --keyword")
    failed = 0
    limit = settings.KESU_MAX_UPLOAD_MB * 1024 * 1024
    for path in args.files:
        try:
            item = references.add_file(args.principal, case, path.rsplit("/", 1)[-1], read_file(path, limit), args.kind)
            _print_reference(args, path, item)
        except UserError as exc:
            failed += 1
            _print_failure(args, path, exc)
    for kind, texts in ((ReferenceItem.Kind.URL, args.url), (ReferenceItem.Kind.KEYWORD, args.keyword)):
        for text in texts:
            try:
                _print_reference(args, kind, references.add_text(args.principal, case, kind, text))
            except UserError as exc:
                failed += 1
                _print_failure(args, kind, exc)
    return 1 if failed else 0


def _print_reference(args, source: str, item) -> None:
    if args.json:
        emit_json({"file": source, "id": item.pk, "kind": item.kind, "media_kept": item.blob_id is not None})
    else:
        print(f"{source}: added as {item.kind} reference {item.pk}")


def _print_failure(args, source: str, exc: Exception) -> None:
    import sys

    if args.json:
        emit_json({"file": source, "error": str(exc)})
    print(f"kesu: error: {source}: {exc}", file=sys.stderr)


def list_references(args):
    case = services.case_for(args.principal, args.case_id)
    rows = [services.reference_row(r) for r in case.references.prefetch_related("signals")]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(
            [{**r, "signals": ",".join(s["kind"] for s in r["signals"])} for r in rows],
            ["id", "kind", "media_type", "size", "media_kept", "signals"],
        )
