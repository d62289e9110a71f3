"""``kesu patrol``: watches, runs, submitted URLs, re-checks and the politeness state, by hand."""

from ..lib.errors import UserError
from .access import require_supervisor
from .output import emit_json, read_input, table

HOSTS_LISTED = 10_000


def register(commands) -> None:
    patrol = commands.add_parser("patrol", help="watch sites, find new copies, re-check removed ones")
    sub = patrol.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("watch", help="add or change a site's watch list")
    p.add_argument("domain")
    p.add_argument("--seed", action="append", default=[], metavar="URL", help="a listing URL (repeat)")
    p.add_argument("--search", action="append", default=[], metavar="TEMPLATE", help="URL with {query} (repeat)")
    p.add_argument("--item-pattern", default="", help="regular expression for item page links")
    p.add_argument("--listing-pattern", default="", help="regular expression for more listing pages")
    p.add_argument("--depth", type=int, default=3, help="listing pages deep")
    p.add_argument("--pages", type=int, default=200, help="pages per run")
    p.add_argument("--links", type=int, default=200, help="links taken per listing")
    p.add_argument("--every", type=int, default=60, help="minutes between runs")
    p.add_argument("--rate", type=int, default=30, help="requests per minute to one host")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--browser", default="auto", choices=["never", "auto", "always"])
    p.add_argument("--disable", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=watch)

    p = sub.add_parser("watches", help="the watch lists")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=watches)

    p = sub.add_parser("run", help="start a watch's run now (its listings and searches)")
    p.add_argument("domain", nargs="?", help="the watched site (all due watches when left out)")
    p.add_argument("--inline", action="store_true", help="do the workers' part in this process, then report")
    p.add_argument("--seconds", type=int, default=1800, help="with --inline: stop after this long")
    p.set_defaults(handler=run)

    p = sub.add_parser("submit", help="URLs (from FILE or -) handed in by staff or the victim, looked at now")
    p.add_argument("--case", type=int, required=True)
    p.add_argument("--urls", required=True, metavar="FILE", help="one per line ('-' for stdin)")
    p.add_argument("--by", default="staff", choices=["staff", "victim"])
    p.add_argument("--inline", action="store_true")
    p.set_defaults(handler=submit)

    p = sub.add_parser("runs", help="the latest runs and what happened in them (staff: those of their cases)")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=runs)

    p = sub.add_parser("recheck", help="schedule re-checks of sent notices and run the due ones here")
    p.add_argument("--all", action="store_true", help="check every URL now, not only the due ones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=recheck)

    p = sub.add_parser("hosts", help="politeness per host: requests, refusals, pauses (staff: their runs' hosts)")
    p.set_defaults(handler=hosts)

    p = sub.add_parser("sweep", help="what the scheduler does every minute: due runs, re-checks, lost work")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=sweep)

    p = sub.add_parser("drain", help="work every due patrol row in this process (no workers needed)")
    p.add_argument("--seconds", type=int, default=1800)
    p.set_defaults(handler=drain)


def watch(args):
    require_supervisor(args)
    from ..patrol import services
    from ..patrol.models import Watch

    existing = Watch.objects.filter(site__domain=args.domain.lower()).first()
    values = {
        "seeds": args.seed or (existing.seeds if existing else []),
        "searches": args.search or (existing.searches if existing else []),
        "item_pattern": args.item_pattern, "listing_pattern": args.listing_pattern, "max_depth": args.depth,
        "max_pages": args.pages, "max_links": args.links, "every_minutes": args.every,
        "rate_per_minute": args.rate, "concurrency": args.concurrency, "browser": args.browser,
        "enabled": not args.disable,
    }  # fmt: skip
    for name in ("max_depth", "max_pages", "max_links", "every_minutes", "rate_per_minute", "concurrency"):
        if values[name] < (0 if name == "max_depth" else 1):
            raise UserError(f"--{name.split('_')[-1]} must be a positive number")
    item = services.save_watch(args.principal, args.domain, watch=existing, **values)
    if args.json:
        emit_json(_watch_row(item))
    else:
        print(f"watch {item.pk} on {item.site.domain}: {len(item.seeds)} listing(s), {len(item.searches)} search(es)")
    return 0


def _watch_row(item) -> dict:
    return {
        "id": item.pk, "site": item.site.domain, "seeds": len(item.seeds), "searches": len(item.searches),
        "every": item.every_minutes, "rate": item.rate_per_minute, "browser": item.browser,
        "enabled": item.enabled, "next_run_at": item.next_run_at.isoformat() if item.next_run_at else "",
    }  # fmt: skip


def watches(args):
    from ..patrol.models import Watch

    rows = [_watch_row(w) for w in Watch.objects.select_related("site")]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(rows, ["id", "site", "seeds", "searches", "every", "rate", "browser", "enabled", "next_run_at"])
    return 0


def run(args):
    require_supervisor(args)
    from ..patrol import services
    from ..patrol.models import Watch

    if args.domain:
        item = Watch.objects.filter(site__domain=args.domain.lower()).first()
        if item is None:
            raise UserError(f"no watch on {args.domain}")
        started = services.start(item)
    else:
        started = services.tick()["runs"]
    count = len(started) if isinstance(started, list) else started
    print(f"started {count} run(s)")
    if args.inline:
        _drain(args.principal, args.seconds)
    return 0


def submit(args):
    from ..cases.services import case_for
    from ..patrol import discovery

    case = case_for(args.principal, args.case)
    urls = [line.strip() for line in read_input(args.urls).splitlines() if line.strip()]
    if not urls:
        raise UserError("no URLs given")
    item = discovery.Submitted.start(args.principal, case, urls, by=args.by)
    print(f"run {item.pk}: {item.pages.count()} page(s) to look at" + (f"; {item.notes[0]}" if item.notes else ""))
    if args.inline:
        _drain(args.principal, 1800)
    return 0


def _drain(principal, seconds: int) -> None:
    from ..patrol import services

    counts = services.drain(seconds=seconds)
    print("worked: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"))
    _print_runs(principal, 5)


def runs(args):
    from ..patrol import services

    if args.json:
        for item in services.runs_for(args.principal, args.n):
            emit_json(services.report(item))
        return 0
    _print_runs(args.principal, args.n)
    return 0


def _print_runs(principal, n: int) -> None:
    from ..patrol import services

    for item in services.runs_for(principal, n):
        report = services.report(item)
        pages = ", ".join(f"{k} {v}" for k, v in sorted(report["pages"].items()))
        print(f"run {item.pk} [{item.source}] {report['watch'] or '-'}: {item.status}; pages {pages or 0}; "
              f"media {report['media']}; hits {report['hits']}")  # fmt: skip
        for text in item.notes:
            print(f"    {text}")


def recheck(args):
    require_supervisor(args)
    from django.utils import timezone

    from ..patrol import rechecks, services
    from ..patrol.models import Recheck, Stage

    created = rechecks.schedule()
    if args.all:
        Recheck.objects.filter(stage=Stage.FETCH).update(due_at=timezone.now())
    counts = services.drain(seconds=3600)
    states = {}
    for item in Recheck.objects.all():
        states[item.state] = states.get(item.state, 0) + 1
    if args.json:
        emit_json({"scheduled": created, "checked": counts.get("recheck.fetch", 0), "states": states})
    else:
        print(f"scheduled {created}, checked {counts.get('recheck.fetch', 0)}; states: "
              + (", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none"))  # fmt: skip
    return 0


def hosts(args):
    from ..patrol import services

    rows = [
        {"host": h.host, "requests": h.requests, "last": h.last_status or "", "refusals": h.refusals,
         "paused_until": h.paused_until.isoformat(timespec="seconds") if h.paused_until else "", "note": h.note}
        for h in sorted(services.hosts_for(args.principal, HOSTS_LISTED), key=lambda h: h.host)
    ]  # fmt: skip
    counts = ["requests"] if getattr(args.principal, "sees_all_cases", False) else []  # the team's: not for staff
    table(rows, ["host", *counts, "last", "refusals", "paused_until", "note"])
    return 0


def sweep(args):
    require_supervisor(args)
    from ..patrol import services

    result = services.tick()
    if args.json:
        emit_json(result)
    else:
        print(", ".join(f"{k} {v}" for k, v in result.items()))
    return 0


def drain(args):
    require_supervisor(args)
    _drain(args.principal, args.seconds)
    return 0
