"""``kesu demo-web``: serve the demo's fake sites and their abuse desks' SMTP on loopback."""

import signal
import threading
from pathlib import Path


def register(commands) -> None:
    p = commands.add_parser("demo-web", help="serve the demo's fake sites (HTTP) and their abuse desks (SMTP)")
    p.add_argument("--port", type=int, default=8025, help="HTTP port for every site (default 8025)")
    p.add_argument("--smtp-port", type=int, default=8026, help="SMTP port taking notices (default 8026)")
    p.add_argument("--dir", metavar="DIR", help="where the media are built (default: $KESU_DATA_DIR/demo-web)")
    p.set_defaults(handler=serve, migrate=False)


def serve(args) -> int:
    from django.conf import settings

    from ..patrol.demoweb import DemoWeb

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
