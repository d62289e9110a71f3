"""kesu site ...: the domain knowledge base (import/export the desk's list, look up, route)."""

import sys
from pathlib import Path

from ..lib.errors import UserError
from ..sites import services
from ..sites.models import Contact
from .demo import add_history
from .output import emit_json, read_file, table

MAX_IMPORT = 200 << 20


def register(commands) -> None:
    site = commands.add_parser("site", help="the domain knowledge base: import, export, show, route")
    sub = site.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "import", help="import a site list or request history (CSV/XLSX); --dry-run shows what would change"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    p.add_argument("--details", action="store_true", help="list every created/updated site and every problem")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=import_file)

    p = sub.add_parser("export", help="write the site list (or --requests, the request history) as CSV or XLSX")
    p.add_argument("--out", metavar="FILE", required=True)
    p.add_argument("--format", choices=("csv", "xlsx"), help="default: from the file name")
    p.add_argument("--lang", choices=("ja", "en"), default="ja", help="header language (default ja)")
    p.add_argument("--requests", action="store_true")
    p.set_defaults(handler=export)

    p = sub.add_parser("list", help="sites, searched by domain, operator, host or notes")
    p.add_argument("query", nargs="?", default="")
    p.add_argument("--status", choices=("active", "dead", "unknown"))
    p.add_argument("--country", metavar="CC")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_sites)

    p = sub.add_parser("show", help="one site: who runs, hosts, fronts and registered it, contacts, history")
    p.add_argument("domain", metavar="DOMAIN_OR_URL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=show)

    p = sub.add_parser("resolve", help="look a site up now: DNS, RDAP/WHOIS, hosting provider, CDN, registrar")
    p.add_argument("domains", nargs="*", metavar="DOMAIN_OR_URL")
    p.add_argument("--force", action="store_true", help="ask again even when a cached answer is still fresh")
    p.add_argument("--unresolved", action="store_true", help="queue every site never resolved (runs on the workers)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=resolve)

    p = sub.add_parser("route", help="the escalation ladder for a URL: who to ask, how, under which law, by when")
    p.add_argument("url", metavar="URL")
    p.add_argument(
        "--type", dest="case_type", required=True, help="case type: ncii csam av voyeurism sextortion deepfake"
    )
    p.add_argument(
        "--copyright", action="store_true", help="the victim holds the copyright (allows DMCA, with its risks)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=route)

    p = sub.add_parser("predict", help="how likely a request to this site's operator (or --role) ends in deletion")
    p.add_argument("domain", metavar="DOMAIN_OR_URL")
    p.add_argument("--type", dest="case_type", required=True)
    p.add_argument("--role", default="operator", choices=("operator", "host", "cdn", "registrar"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=predict)

    p = sub.add_parser("knowledge", help="load the shipped knowledge base (search engines, CDNs, hotlines, platforms)")
    p.set_defaults(handler=knowledge_sync)

    add_history(sub, "synthetic")  # the demo's, kept here under its first name

    p = sub.add_parser(
        "contact", help="propose a contact for a site's operator, confirm or reject one (supervisors), mark one bounced"
    )
    p.add_argument("domain", metavar="DOMAIN_OR_URL")
    p.add_argument("--email")
    p.add_argument("--form", metavar="URL")
    p.add_argument("--lang", default="", help="languages it answers in, e.g. ja,en")
    p.add_argument("--bounced", metavar="ADDRESS", help="mark this address as bounced")
    p.add_argument("--confirm", metavar="ADDRESS", help="confirm a proposed contact (another person proposed it)")
    p.add_argument("--reject", metavar="ADDRESS", help="reject a proposed contact")
    p.set_defaults(handler=contact)


def import_file(args):
    data = read_file(args.file, MAX_IMPORT)
    report = services.import_file(args.principal, data, Path(args.file).name, dry_run=args.dry_run)
    if args.json:
        emit_json(report.as_dict() if args.details else report.summary())
        return 0
    print(("DRY RUN: nothing written. " if report.dry_run else "") + _summary_line(report))
    for problem in report.problems if args.details else report.problems[:20]:
        print(f"  error {problem}")
    if not args.details and len(report.problems) > 20:
        print(f"  ... {len(report.problems) - 20} more errors (--details lists them all)")
    if args.details:
        for line in report.conflicts:
            print(f"  conflict {line}")
        for domain, changes in report.updated.items():
            print(f"  update {domain}: " + "; ".join(changes))
        for domain in report.created:
            print(f"  create {domain}")
    return 0


def _summary_line(report) -> str:
    s = report.summary()
    return (
        f"{s['rows']} rows, {s['errors']} with errors; {s['domains']} sites "
        f"({s['duplicate_rows_merged']} duplicate rows merged, {s['subdomains_folded']} subdomains folded, "
        f"{s['conflicts']} conflicting cells); sites: {s['sites_created']} new, {s['sites_updated']} changed, "
        f"{s['sites_unchanged']} unchanged; {s['organisations_created']} new organisations, "
        f"{s['contacts_created']} new contacts; requests: {s['requests_created']} new, "
        f"{s['requests_updated']} changed, {s['requests_unchanged']} unchanged"
    )


def export(args):
    out = Path(args.out)
    fmt = args.format or ("xlsx" if out.suffix.lower() == ".xlsx" else "csv")
    data = services.export_file(args.principal, fmt, args.lang, requests=args.requests)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


def _row(site) -> dict:
    rate = f"{site.removed_count}/{site.request_count}" if getattr(site, "request_count", 0) else ""
    return {
        "domain": site.unicode_domain,
        "status": site.status,
        "operator": site.operator.name if site.operator_id else "",
        "host": site.host.name if site.host_id else "",
        "country": site.server_country or site.jurisdiction,
        "cdn": site.cdn.name if site.cdn_id else "",
        "removed": rate,
    }


def list_sites(args):
    sites = services.find_sites(args.query, args.status or "", args.country or "")[: max(1, args.limit)]
    rows = [_row(site) for site in sites]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(rows, ["domain", "status", "operator", "host", "country", "cdn", "removed"])
    return 0


def _org(org) -> dict | None:
    if org is None:
        return None
    contacts = [
        {
            "channel": c.channel,
            "address": c.address,
            "status": c.status,
            "source": c.source,
            "proposed_by": c.created_by,
            "decided_by": c.decided_by,
            "bounced": bool(c.bounced_at),
            "languages": c.languages,
        }
        for c in org.contacts.all()
    ]
    return {"name": org.name, "key": org.key, "country": org.country, "languages": org.languages, "contacts": contacts}


def show(args):
    site = services.site_for(args.domain)
    data = {
        "domain": site.domain,
        "unicode": site.unicode_domain,
        "status": site.status,
        "relation": site.relation,
        "jurisdiction": site.jurisdiction,
        "server_country": site.server_country,
        "addresses": site.addresses,
        "operator": _org(site.operator),
        "host": _org(site.host),
        "cdn": _org(site.cdn),
        "registrar": _org(site.registrar),
        "group": [other.domain for other in services.group_of(site)],
        "history": [{**line.__dict__, "removal_rate": line.removal_rate} for line in services.history_summary(site)],
        "notes": site.notes,
    }
    if args.json:
        emit_json(data)
        return 0
    print(f"{data['unicode']} ({site.domain})  {site.get_status_display()}, {site.get_relation_display()}")
    for role in ("operator", "host", "cdn", "registrar"):
        org = data[role]
        if org:
            print(f"  {role}: {org['name']} {org['country']}")
            for c in org["contacts"]:
                status = "" if c["status"] == "confirmed" else f" ({c['status']})"
                print(f"    {c['channel']}: {c['address']}{status}{' (bounced)' if c['bounced'] else ''}")
    if data["group"]:
        print("  same operator: " + ", ".join(data["group"]))
    for line in data["history"]:
        rate = f"{line['removal_rate']:.0%}" if line["removal_rate"] is not None else "-"
        print(f"  {line['case_type']} to {line['role']}: {line['requests']} requests, removed {rate}")
    return 0


def contact(args):
    site = services.site_for(args.domain)
    if args.bounced:
        match = Contact.objects.filter(organisation_id=site.operator_id, address=args.bounced).first()
        if match is None:
            raise UserError(f"{args.bounced!r} is not a contact of {site.domain}")
        services.set_bounced(args.principal, match, site=site)
        print(f"marked {args.bounced} bounced")
        return 0
    for decision, address in (("confirm", args.confirm), ("reject", args.reject)):
        if address:
            services.decide_contact(args.principal, _proposed(site, address), decision, site=site)
            print(f"{decision}ed {address} for {site.domain}")
            return 0
    if not (args.email or args.form):
        raise UserError("give --email ADDRESS, --form URL, --confirm ADDRESS, --reject ADDRESS or --bounced ADDRESS")
    languages = [code.strip() for code in args.lang.split(",") if code.strip()]
    for channel, address in ((Contact.Channel.EMAIL, args.email), (Contact.Channel.FORM, args.form)):
        if address:
            added = services.add_contact(args.principal, site, channel, address, languages)
            if added.status == Contact.Status.PROPOSED:
                print(f"proposed {channel} {address} for {site.domain}: used once a supervisor confirms it")
            else:
                print(f"{channel} {address} is already a {added.status} contact of {site.domain}")
    return 0


def _proposed(site, address: str) -> Contact:
    orgs = [site.operator_id, site.host_id, site.cdn_id, site.registrar_id]
    found = Contact.objects.filter(organisation_id__in=[o for o in orgs if o], address=address.strip(),
                                   status=Contact.Status.PROPOSED).first()  # fmt: skip
    if found is None:
        raise UserError(f"{address[:80]!r} is not a proposed contact of {site.domain}")
    return found


def route(args):
    from ..sites.routing import route as ladder_for

    ladder = ladder_for(args.url, args.case_type, victim_holds_copyright=args.copyright)
    if args.json:
        emit_json(ladder.as_dict())
    else:
        print(ladder.text())
    return 0


def predict(args):
    from ..sites.prediction import predict_for

    site = services.site_for(args.domain)
    result = predict_for(site, args.role, args.case_type)
    data = {
        "domain": site.domain,
        "role": args.role,
        "case_type": args.case_type,
        "probability": round(result.probability, 3),
        "expected_days": None if result.expected_days is None else round(result.expected_days, 1),
        "based_on": result.level,
        "requests": result.evidence_count,
        "synthetic": result.synthetic,
    }
    if args.json:
        emit_json(data)
        return 0
    days = f", about {data['expected_days']} days" if data["expected_days"] is not None else ""
    note = " (learnt from the SYNTHETIC history: no real history yet)" if result.synthetic else ""
    print(f"{site.domain} {args.role} {args.case_type}: {data['probability']:.0%} deletion{days}; {result.level}{note}")
    return 0


def knowledge_sync(args):
    from ..sites import knowledge

    report = knowledge.sync(args.principal)
    print(
        f"knowledge base: {len(report.created)} organisations created, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged; {report.contacts_created} contacts created, "
        f"{report.contacts_updated} updated, {report.contacts_retired} retired"
    )
    return 0


def resolve(args):
    from ..sites.models import Site
    from ..sites.resolution import queue_resolution, resolve_site

    if args.unresolved:
        ids = list(Site.objects.filter(resolved_at__isnull=True).values_list("pk", flat=True))
        print(f"queued {queue_resolution(ids, force=args.force)} sites for resolution")
        return 0
    if not args.domains:
        raise UserError("give one or more domains or URLs, or --unresolved")
    failures = 0
    for text in args.domains:
        try:
            found = resolve_site(services.site_for(text), force=args.force)
        except UserError as error:
            failures += 1
            print(f"kesu: error: {text[:200]}: {error}", file=sys.stderr)
            continue
        if args.json:
            emit_json(found.as_dict())
            continue
        parties = [f"{p.role} {p.name} {p.country}".strip() for p in (found.host, found.cdn, found.registrar) if p]
        print(f"{found.domain}: {found.status or 'no verdict'}; " + ("; ".join(parties) or "nobody found"))
        for line in found.errors:
            print(f"  error {line}")
    return 1 if failures else 0
