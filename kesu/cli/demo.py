"""``kesu demo``: the demo desk (logins, a case, watches), its fake sites and its SYNTHETIC history.

The one place the rest of Kesu reaches kesu.demo: ``kesu demo load`` (also plain ``kesu demo``),
``kesu demo web`` (also ``kesu demo-web``, the name ``kesu run --demo`` used to start it by),
``kesu demo history`` (also ``kesu site synthetic``), and ``start_for_run`` for ``kesu run --demo``.
"""

import argparse
import signal
import threading
from pathlib import Path

from ..lib.errors import UserError
from .access import require_operator

WEB_PORT, SMTP_PORT = 8025, 8026


def register(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="the demo: logins and a case (once), its fake sites, SYNTHETIC history",
        description="Without an ACTION, `kesu demo` loads the demo (kesu demo load).",
    )
    demo.add_argument("--web-port", type=int, help="also watch the demo web (kesu demo web) on this port")
    demo.set_defaults(handler=load)
    sub = demo.add_subparsers(dest="action", metavar="ACTION")

    p = sub.add_parser("load", help="load the demo users and case (once), print the logins; what plain `demo` does")
    # SUPPRESS: a value given before ``load`` (kesu demo --web-port N load) is not overwritten by a default.
    p.add_argument("--web-port", type=int, default=argparse.SUPPRESS, help="also watch the demo web on this port")
    p.set_defaults(handler=load)

    _add_web(sub.add_parser("web", help="serve the demo's fake sites (HTTP) and their abuse desks (SMTP)"))
    add_history(sub, "history")
    _add_web(commands.add_parser("demo-web", help="the same as `kesu demo web`"))


def _add_web(p) -> None:
    p.add_argument("--port", type=int, default=WEB_PORT, help=f"HTTP port for every site (default {WEB_PORT})")
    p.add_argument("--smtp-port", type=int, default=SMTP_PORT, help=f"SMTP port taking notices (default {SMTP_PORT})")
    p.add_argument("--dir", metavar="DIR", help="where the media are built (default: $KESU_DATA_DIR/demo-web)")
    p.set_defaults(handler=serve, migrate=False)


def add_history(sub, name: str) -> None:
    """The SYNTHETIC history command, as ``kesu demo history`` and ``kesu site synthetic``."""
    p = sub.add_parser(name, help="write the SYNTHETIC request history used by the demo (never for real use)")
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(handler=history)


def load(args):
    require_operator(args)
    from ..demo import load as demo

    _print_logins(demo.load())
    if args.web_port:
        demo.watch_demo_web(args.web_port)


def _print_logins(users) -> None:
    import base64

    from ..accounts.services import confirmed_totp
    from ..demo.load import DEMO_PASSWORD

    print(f"demo logins (password for each: {DEMO_PASSWORD})")
    for username, user in users.items():
        device = confirmed_totp(user)
        secret = base64.b32encode(device.bin_key).decode() if device else "-"
        print(f"  {username:6} {user.role:11} TOTP secret {secret}")
    print("  current 6-digit code: .venv/bin/kesu user totp-code demo")


def start_for_run(web_port: int) -> None:
    """For ``kesu run --demo``: load the demo, print the logins, watch the demo web and patrol it at once."""
    from ..demo import load as demo
    from ..patrol import services as patrol

    _print_logins(demo.load())
    for watch in demo.watch_demo_web(web_port):
        patrol.start(watch)  # the first pass now: the worker takes it as soon as it is up
    print(f"demo web: http://tubeleak.test:{web_port}/ and its neighbours, served by Kesu on "
          "127.0.0.1; the patrol watches them and their abuse desks take notices by SMTP", flush=True)  # fmt: skip


def serve(args) -> int:
    from django.conf import settings

    from ..demo.web import DemoWeb

    directory = Path(args.dir) if args.dir else Path(settings.DATA_DIR) / "demo-web"
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    web = DemoWeb(directory, port=args.port, smtp_port=args.smtp_port).start()
    try:
        print(
            f"demo web: {' '.join(web.base_urls())} (names pinned: {web.host_rules()}); SMTP 127.0.0.1:{web.smtp_port}",
            flush=True,
        )
        stopping.wait()
    finally:
        web.stop()
    return 0


def history(args):
    from ..demo import synthetic

    if not 1 <= args.requests <= 1_000_000:
        raise UserError("--requests must be between 1 and 1,000,000")
    created = synthetic.write(args.requests, args.seed, actor=args.principal)
    print(f"wrote {created} SYNTHETIC requests (seed {args.seed}); real history replaces them in predictions")
    return 0
