"""kesu init / run / worker / beat / audit / vault / manage."""

import sys

from django.conf import settings

from .access import require_operator
from .demo import SMTP_PORT, WEB_PORT, start_for_run


def register(commands) -> None:
    p = commands.add_parser("init", help="prepare the data directory (also done by any first command)")
    p.set_defaults(handler=init)

    p = commands.add_parser("run", help="run the web UI, a worker and the scheduler")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--no-worker", action="store_true", help="web only (workers run elsewhere)")
    p.add_argument("--demo", action="store_true", help="load the demo data, serve the demo web, print the logins")
    p.add_argument("--demo-web-port", type=int, default=WEB_PORT, help="with --demo: the demo sites' HTTP port")
    p.add_argument("--demo-smtp-port", type=int, default=SMTP_PORT, help="with --demo: the demo sites' SMTP port")
    p.set_defaults(handler=run)

    p = commands.add_parser("worker", help="run a Celery worker")
    p.add_argument("--queues", default="", help="comma-separated queues (default: all)")
    p.add_argument("--concurrency", type=int, default=2)
    p.set_defaults(handler=worker)

    p = commands.add_parser("beat", help="run the Celery scheduler (one per installation)")
    p.set_defaults(handler=beat)

    audit = commands.add_parser("audit", help="the audit log")
    sub = audit.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("verify", help="check the hash chain and its anchors; exits 1 when it is broken")
    p.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="PATH",
        help="also check the audit anchor in this evidence bundle's signed manifest (repeatable)",
    )
    p.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="SEQ:MAC",
        help="also check an anchor as a staff digest prints it (repeatable)",
    )
    p.set_defaults(handler=audit_verify)
    p = sub.add_parser("anchor", help="check the chain, then anchor its head in the anchor file; prints SEQ:MAC")
    p.set_defaults(handler=audit_anchor)
    p = sub.add_parser("tail", help="the latest entries")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--case", dest="case_id")
    p.set_defaults(handler=audit_tail)

    vault = commands.add_parser("vault", help="the encrypted store")
    sub = vault.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("rotate-key", help="re-wrap every data key under a new master key")
    p.set_defaults(handler=rotate_key)

    p = commands.add_parser("manage", help="a Django management command (migrate, createcachetable, ...)")
    p.add_argument("rest", nargs="...", metavar="ARGS")
    p.set_defaults(handler=manage, migrate=False)


def init(args):
    from ..audit.services import ensure_genesis

    ensure_genesis()
    print(f"data directory {settings.DATA_DIR} is ready ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")


def run(args):
    require_operator(args)
    from django.core.management import call_command

    from .. import runner

    call_command("collectstatic", interactive=False, verbosity=0)
    from ..notices.templates import sync_shipped

    sync_shipped()  # notices need their templates; a staff edit is never replaced
    demo_web = None
    if args.demo:
        start_for_run(args.demo_web_port)
        demo_web = (args.demo_web_port, args.demo_smtp_port)
    print(f"Kesu is running at http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    return runner.run(args.host, args.port, args.web_workers, with_worker=not args.no_worker, demo_web=demo_web)


def worker(args):
    from ..celery import QUEUES, app

    argv = ["worker", "--loglevel", "INFO", "--concurrency", str(args.concurrency)]
    argv += ["--queues", args.queues or ",".join(QUEUES)]
    app.worker_main(argv)


def beat(args):
    from ..celery import app

    app.start(["beat", "--loglevel", "INFO"])


def audit_verify(args):
    from ..audit.anchors import parse_token
    from ..audit.services import verify_chain
    from ..evidence.services import audit_anchor_of

    given = [parse_token(text) for text in args.anchor] + [audit_anchor_of(path) for path in args.bundle]
    report = verify_chain(given)
    if report.ok:
        print(f"audit log intact: {report.entries} entries; {report.anchors} anchors hold")
        return 0
    return _broken(report)


def _broken(report) -> int:
    for problem in report.problems:
        print(f"kesu: audit: {problem}", file=sys.stderr)
    print(f"kesu: error: audit log is broken ({len(report.problems)} problems)", file=sys.stderr)
    return 1


def audit_anchor(args):
    require_operator(args)
    from ..audit.services import verify_and_anchor

    report, anchor = verify_and_anchor()
    if not report.ok:
        return _broken(report)
    print(f"audit log anchored at entry {anchor.seq}: {anchor.token}")
    return 0


def audit_tail(args):
    from ..audit.models import AuditEntry
    from ..cases.services import case_for

    entries = AuditEntry.objects.order_by("-seq")
    if args.case_id:
        entries = entries.filter(case_id=case_for(args.principal, args.case_id).pk)
    else:
        require_operator(args)
    for e in reversed(entries[: args.n]):
        print(f"{e.seq:>7} {e.at:%Y-%m-%d %H:%M:%S} {e.actor:24} {e.action:20} {e.object_type}:{e.object_id}")


def rotate_key(args):
    require_operator(args)
    from ..audit.services import log_action
    from ..vault.services import rotate_master_key

    kid, count = rotate_master_key()
    log_action(args.principal, "vault.rotate", None, kid=kid, data_keys=count)
    print(f"master key rotated to {kid}; {count} data keys re-wrapped")


def manage(args):
    require_operator(args)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kesu manage", *args.rest])
