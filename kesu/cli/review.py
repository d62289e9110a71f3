"""``kesu review``: the review queue, decisions, the calibration they feed and the team's exposure."""

from ..lib.errors import UserError
from .output import emit_json, table


def register(commands) -> None:
    review = commands.add_parser("review", help="hits waiting for review, decisions, calibration, exposure")
    sub = review.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("queue", help="hits waiting for review, most urgent first")
    p.add_argument("--case", type=int)
    p.add_argument("--site", default="", help="host (its subdomains too)")
    p.add_argument("--signal", default="")
    p.add_argument("--order", default="priority", choices=["priority", "probability", "nudity", "age"])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=queue)

    p = sub.add_parser("decide", help="confirm, reject or confirm every waiting copy of the same file")
    p.add_argument("hit", type=int)
    p.add_argument("decision", choices=["confirm", "reject", "same", "undo"])
    p.set_defaults(handler=decide)

    p = sub.add_parser("calibrate", help="refit the matcher's calibration from staff decisions (supervisors)")
    p.add_argument("--forget", action="store_true", help="go back to the shipped calibration")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=calibrate)

    p = sub.add_parser("exposure", help="revealed media per person (staff: their own); --user U --limit N sets a limit")
    p.add_argument("--user")
    p.add_argument("--limit", type=int, help="daily limit (0 clears it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=exposure_)


def queue(args):
    from ..review import services

    filters = services.Filters(case=args.case, host=args.site.lower(), signal=args.signal, order=args.order)
    hits = services.queue(args.principal, filters).select_related("case__victim")[: max(1, args.limit)]
    rows = [
        {"hit": h.pk, "case": h.case.victim.code, "site": h.host or "-", "signal": h.signal,
         "probability": round(h.probability, 3), "pink": h.pink, "nudity": h.nudity,
         "urgent": h.urgency == 0, "found": h.created_at.isoformat(timespec="minutes")}
        for h in hits
    ]  # fmt: skip
    if args.json:
        emit_json(rows)
    else:
        table(rows, ["hit", "case", "site", "signal", "probability", "urgent", "found"])


def decide(args):
    from ..review import services

    hit = services.hit_for(args.principal, args.hit)
    if args.decision == "undo":
        services.undo(args.principal, hit)
        print(f"hit {hit.pk} waits for review again")
        return
    decided = services.decide(args.principal, hit, args.decision)
    print(f"{args.decision}: " + ", ".join(f"hit {h.pk}" for h in decided))


def calibrate(args):
    from ..review import calibration

    if not getattr(args.principal, "sees_all_cases", True):
        raise UserError("only supervisors and admins refit the calibration")
    if args.forget:
        calibration.forget(args.principal)
        print("back to the shipped calibration")
        return
    rows = [r.__dict__ for r in calibration.refit(args.principal)]
    if args.json:
        emit_json(rows)
    else:
        table(rows, ["signal", "confirmed", "rejected", "refitted", "loss_before", "loss_after", "note"])


def exposure_(args):
    from ..accounts.services import get_user
    from ..review import exposure

    if args.user:
        if args.limit is None:
            raise UserError("give --limit N with --user (0 clears the personal limit)")
        exposure.set_limit(args.principal, get_user(args.user), args.limit or None)
    rows = [
        {"user": r["user"].username, "today": r["today"], "week": r["week"], "limit": r["limit"]}
        for r in exposure.overview(args.principal)
    ]
    if args.json:
        emit_json(rows)
    else:
        table(rows, ["user", "today", "week", "limit"])
