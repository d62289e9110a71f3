"""``kesu case hashing-link``: the victim's hashing page link for a case (printed once), or its end."""

from ..cases import services as cases
from ..hashing import services


def register(sub) -> None:
    p = sub.add_parser("hashing-link", help="make a one-time link to her hashing page (printed once), or --revoke")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--revoke", action="store_true", help="end every live hashing link of the case")
    p.set_defaults(handler=hashing_link)


def hashing_link(args):
    case = cases.case_for(args.principal, args.case_id)
    if args.revoke:
        print(f"case {case.pk}: {services.revoke(args.principal, case)} hashing link(s) ended")
        return
    new = services.create_link(args.principal, case)
    print(new.url)
