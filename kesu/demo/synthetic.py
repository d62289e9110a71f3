"""A SYNTHETIC request history, for tests, the compliance benchmark and the demo. NOT REAL DATA.

Nothing here was observed. Every site, operator, host, registrar and outcome is invented by a seeded
random generator so that the prediction model (kesu.sites.prediction) can be built and checked before
the desk's real history is imported. Domains end in ``.example`` (RFC 2606, never a real site), hosts
use private AS numbers (64512-65534, never a real network), and every organisation's name says
"(synthetic)". Only the shape of the world is meant to be realistic:

- the published FY2023 figures of the organisation: 16,526 requests; deleted 56.7 %, partly deleted
  4.4 %, still online 38.5 %, on hold 0.36 %, ongoing 0.04 % (here "ongoing" is whatever is too young
  to be settled at the end of the history, so it runs a little higher);
- more than half of the sites served from abroad, a CDN ("Cloudflare (synthetic)") in front of about
  40 % of them, its origin host known for half of those;
- a few sites with hundreds of requests, most with one to three (log-normal popularity), operators
  with mirrors;
- a latent compliance per request built from recipient role + case type + country + host + operator
  (+ site) effects, a slow overall improvement, and a change of behaviour for some operators and
  hosts at a random date (drift);
- log-normal times to deletion by role and country; CSAM through a hotline takes ~2.5 days where the
  host country has an INHOPE hotline and 28+ days where it does not (INHOPE figures, FIELD.md).

All effect sizes are made up. ``rows()`` is pure Python (no database); ``write()`` stores the same
history with ``source=synthetic`` and is idempotent for a seed (references ``synthetic:<seed>:<i>``),
with the regime routing would cite and its clock, and legal events drawn from a second generator of
the seed (the world's draws stay as they were): DSA notices' 16(4) confirmations and 16(5) decisions,
and the first re-upload of some removed copies (the sites count them).
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..sites.prediction import RequestRow

END = datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)  # end of FY2024: requests are sent up to here
# Outcomes as recorded when the year's figures are compiled; what is not settled by then is "ongoing".
SNAPSHOT = END + timedelta(days=45)
SPAN_DAYS = 3 * 365
FOLLOW_UP_DAYS = (30, 60)  # the desk records "still online" when it checks again after this many days
GIVE_UP_DAYS = 120  # a deletion later than this is never seen: the request stays "still online"
PARTLY_SHARE = 4.4 / (56.7 + 4.4)
# Deleted or partly deleted among requests not on hold, plus the ~0.5 % of late deletions never seen.
REMOVED_SHARE = (56.7 + 4.4) / (100 - 0.36) + 0.005
ON_HOLD_SHARE = 0.0036


@dataclass(frozen=True)
class Country:
    share: float  # of sites served from it
    effect: float  # on the logit of compliance of operators and hosts there
    inhope: bool  # has an INHOPE member hotline
    median_days: float  # median days to deletion by an operator there


COUNTRIES = {
    "JP": Country(0.42, 0.9, True, 2.0),
    "US": Country(0.17, 0.4, True, 4.0),
    "NL": Country(0.08, 0.3, True, 3.0),
    "DE": Country(0.04, 0.6, True, 3.0),
    "BG": Country(0.04, -0.3, True, 6.0),
    "RU": Country(0.06, -1.3, False, 12.0),
    "SC": Country(0.04, -1.0, False, 9.0),
    "PA": Country(0.04, -1.0, False, 9.0),
    "CN": Country(0.05, -1.4, False, 15.0),
    "VN": Country(0.06, -0.7, False, 8.0),
}
CASE_TYPES = {  # share of requests, effect on the logit of compliance
    "ncii": (0.45, 0.0),
    "av": (0.28, -0.3),
    "voyeurism": (0.08, 0.1),
    "sextortion": (0.05, 0.2),
    "deepfake": (0.08, -0.2),
    "csam": (0.06, 1.5),
}
ROLE_BASE = {"operator": 0.25, "host": 0.0, "cdn": -0.5, "registrar": -1.6, "search_engine": 1.8, "hotline": 1.3}
CDN_KEY = "synthetic-cloudflare"
HOTLINE_KEY = "synthetic-hotline-jp"
STEMS = ("tube", "eromovie", "jav", "leak", "upskirt", "amateur", "onlyvid", "porn", "nude", "hentai", "uploader")


@dataclass(frozen=True)
class OrgSpec:
    role: str
    key: str
    name: str
    country: str = ""
    asn: int | None = None


@dataclass(frozen=True)
class SiteSpec:
    domain: str
    operator: str  # operator key
    relation: str
    host: str  # host key, "" when hidden behind the CDN
    cdn: str
    registrar: str
    jurisdiction: str
    server_country: str


@dataclass
class History:
    orgs: list[OrgSpec]
    sites: list[SiteSpec]
    rows: list[RequestRow]


class _World:
    """The latent truth behind one seed: effects of hosts, operators, registrars, and their drift."""

    def __init__(self, n_requests: int, seed: int):
        self.rng = rng = random.Random(seed)
        self.seed = seed
        self.countries = list(COUNTRIES)
        self.orgs: list[OrgSpec] = []
        self.hosts = self._hosts()
        self.registrars = [(f"synthetic-registrar-{i}", rng.gauss(0, 0.7)) for i in range(10)]
        for key, _ in self.registrars:
            self.orgs.append(OrgSpec("registrar", key, f"Registrar {key[-1]} (synthetic)"))
        self.engines = [("synthetic-search-a", 0.4, 4.0), ("synthetic-search-b", -0.3, 7.0)]
        for key, _, _ in self.engines:
            self.orgs.append(OrgSpec("search_engine", key, f"Search engine {key[-1].upper()} (synthetic)"))
        self.orgs.append(OrgSpec("cdn", CDN_KEY, "Cloudflare (synthetic)", "US", 13335))
        self.orgs.append(OrgSpec("hotline", HOTLINE_KEY, "Hotline JP (synthetic)", "JP"))
        self._sites(max(60, n_requests // 3))

    def _hosts(self) -> dict[str, dict]:
        hosts, asn = {}, 64512
        for cc in self.countries:
            for k in range(2 + int(COUNTRIES[cc].share * 20)):
                bulletproof = cc in ("RU", "SC", "PA", "NL", "BG") and k == 0
                effect = -1.8 if bulletproof else self.rng.gauss(0, 0.7)
                change = self.rng.uniform(0, SPAN_DAYS) if self.rng.random() < 0.1 else None
                key = f"as{asn}"
                hosts[key] = {"country": cc, "effect": effect, "change": change, "drift": self.rng.gauss(0, 1.2)}
                self.orgs.append(OrgSpec("host", key, f"Hosting {cc}-{k} (synthetic)", cc, asn))
                asn += 1
        return hosts

    def _sites(self, n_sites: int) -> None:
        rng = self.rng
        by_country = {cc: [k for k, h in self.hosts.items() if h["country"] == cc] for cc in self.countries}
        shares = [COUNTRIES[cc].share for cc in self.countries]
        self.sites, self.site_truth, self.operators = [], [], {}
        n_op = 0
        while len(self.sites) < n_sites:
            cc = rng.choices(self.countries, shares)[0]
            host = rng.choice(by_country[cc])
            key = f"synthetic-s{self.seed}-op{n_op}"
            effect = rng.gauss(0, 1.1) + 0.4 * self.hosts[host]["effect"]
            change = rng.uniform(0, SPAN_DAYS) if rng.random() < 0.15 else None
            self.operators[key] = {"effect": effect, "change": change, "drift": rng.gauss(0, 1.5)}
            self.orgs.append(OrgSpec("operator", key, f"Operator {n_op} (synthetic)", cc))
            mirrors = 0 if rng.random() < 0.8 else rng.randint(1, 5)
            stem = rng.choice(STEMS)
            for m in range(mirrors + 1):
                self._add_site(f"{stem}{n_op}{'-m' + str(m) if m else ''}-s{self.seed}.example", key, cc, host, m)
            n_op += 1

    def _add_site(self, domain: str, operator: str, cc: str, host: str, mirror: int) -> None:
        rng = self.rng
        behind_cdn = rng.random() < 0.4
        origin_known = rng.random() < (0.5 if behind_cdn else 0.95)  # the CDN hides the origin of half
        registrar = rng.choice(self.registrars)[0]
        self.sites.append(
            SiteSpec(
                domain=domain,
                operator=operator,
                relation="mirror" if mirror else "main",
                host=host if origin_known else "",
                cdn=CDN_KEY if behind_cdn else "",
                registrar=registrar,
                jurisdiction=cc if rng.random() < 0.5 else "",
                server_country=cc if origin_known else "",
            )
        )
        favourite = rng.choice(list(CASE_TYPES)[:-1])  # CSAM is nobody's speciality
        self.site_truth.append(
            {
                "country": cc,
                "host": host,
                "effect": rng.gauss(0, 0.3),
                "speed": rng.gauss(0, 0.4),
                "weight": rng.lognormvariate(0, 1.5),
                "favourite": favourite,
            }
        )

    @staticmethod
    def drifted(entity: dict, day: float) -> float:
        return entity["effect"] + (entity["drift"] if entity["change"] is not None and day >= entity["change"] else 0)


def _case_type(rng, favourite: str) -> str:
    names = list(CASE_TYPES)
    return rng.choices(names, [CASE_TYPES[n][0] * (3 if n == favourite else 1) for n in names])[0]


def _role(rng, site: SiteSpec, case_type: str) -> str:
    if case_type == "csam" and rng.random() < 0.5:
        return "hotline"
    options = {"operator": 0.5, "search_engine": 0.18, "registrar": 0.04}
    if site.host:
        options["host"] = 0.15
    if site.cdn:
        options["cdn"] = 0.15
    return rng.choices(list(options), list(options.values()))[0]


def _request(world: _World, i_site: int, day: float) -> tuple[str, str, str, float, float]:
    """(role, case type, recipient, logit of deletion before anchoring, median days) for one request."""
    rng, site, truth = world.rng, world.sites[i_site], world.site_truth[i_site]
    case_type = _case_type(rng, truth["favourite"])
    role = _role(rng, site, case_type)
    country = COUNTRIES[truth["country"]]
    operator = _World.drifted(world.operators[site.operator], day)
    host = _World.drifted(world.hosts[truth["host"]], day)
    logit = ROLE_BASE[role] + CASE_TYPES[case_type][1] + 0.15 * day / 365
    days = country.median_days * math.exp(truth["speed"])
    recipient = {"operator": site.operator, "host": site.host, "cdn": site.cdn, "registrar": site.registrar}.get(role)
    if role == "operator":
        logit += country.effect + operator + truth["effect"]
    elif role == "host":
        logit += 0.7 * country.effect + host + 0.3 * operator
        days *= 1.5
    elif role == "cdn":
        logit += 0.5 * operator + 0.3 * host
        days = 6.0 * math.exp(truth["speed"])
    elif role == "registrar":
        logit += dict(world.registrars)[site.registrar]
        days = 14.0
    elif role == "search_engine":
        engine = rng.choice(world.engines)
        recipient = engine[0]
        logit += engine[1] + (0.5 if case_type in ("ncii", "deepfake") else 0)
        days = engine[2]
    else:
        recipient = HOTLINE_KEY  # the desk reports to its own country's hotline, which forwards via ICCAM
        logit += 1.0 if country.inhope else -1.0
        days = 2.5 if country.inhope else 28.0
    if case_type == "csam" and role != "hotline":
        days *= 0.6
    return role, case_type, f"{role}:{recipient}", logit, days


def _outcome(rng, sent: datetime, p: float, median_days: float) -> tuple[str, datetime | None]:
    if rng.random() < ON_HOLD_SHARE:
        return "on_hold", None
    days = median_days * math.exp(rng.gauss(0, 0.9))
    if rng.random() < p and days <= GIVE_UP_DAYS:
        resolved = sent + timedelta(seconds=round(days * 86400))
        outcome = "partly_deleted" if rng.random() < PARTLY_SHARE else "deleted"
    else:
        resolved = sent + timedelta(days=rng.randint(*FOLLOW_UP_DAYS))
        outcome = "still_online"
    return ("ongoing", None) if resolved > SNAPSHOT else (outcome, resolved)


def _anchor(logits: list[float], share: float) -> float:
    """The shift of all logits that makes the expected share of deletions ``share`` (bisection).

    A seed's few busiest sites would otherwise move the overall rate by several points.
    """
    low, high = -5.0, 5.0
    for _ in range(40):
        mid = (low + high) / 2
        mean = sum(1 / (1 + math.exp(-x - mid)) for x in logits) / len(logits)
        low, high = (mid, high) if mean < share else (low, mid)
    return (low + high) / 2


def history(n_requests: int = 20_000, seed: int = 7) -> History:
    """The whole synthetic world of a seed: organisations, sites and ``n_requests`` requests, oldest first."""
    world = _World(n_requests, seed)
    rng = world.rng
    picks = rng.choices(range(len(world.sites)), [t["weight"] for t in world.site_truth], k=n_requests)
    # Request volume grows by a third over the span: density 1 + a*x on [0, 1], drawn by its inverse CDF.
    a = 1 / 3
    days = sorted(SPAN_DAYS * (math.sqrt(1 + 2 * a * (1 + a / 2) * rng.random()) - 1) / a for _ in picks)
    start = END - timedelta(days=SPAN_DAYS)
    drawn = [_request(world, i_site, day) for i_site, day in zip(picks, days, strict=True)]
    shift = _anchor([logit for _, _, _, logit, _ in drawn], REMOVED_SHARE)
    rows = []
    for i_site, day, (role, case_type, recipient, logit, median_days) in zip(picks, days, drawn, strict=True):
        site = world.sites[i_site]
        sent = start + timedelta(seconds=int(day * 86400))
        outcome, resolved = _outcome(rng, sent, 1 / (1 + math.exp(-logit - shift)), median_days)
        rows.append(
            RequestRow(
                site=site.domain,
                recipient=recipient,
                role=role,
                host=site.host or site.cdn,
                country=site.server_country or site.jurisdiction,
                case_type=case_type,
                sent_at=sent,
                outcome=outcome,
                resolved_at=resolved,
            )
        )
    return History(world.orgs, world.sites, rows)


def rows(n_requests: int = 20_000, seed: int = 7) -> list[RequestRow]:
    """The synthetic request history as plain rows (no database), oldest first."""
    return history(n_requests, seed).rows


def write(n_requests: int = 20_000, seed: int = 7, actor=None) -> int:
    """Store the synthetic history of a seed (source=synthetic); returns how many requests were new.

    Idempotent: organisations and sites are matched by their keys and domains, requests by their
    reference ``synthetic:<seed>:<i>``; writing the same seed again adds nothing. Two seeds share the
    infrastructure organisations (hosts, registrars, CDN, search engines, hotline) but not sites.
    """
    from django.db import transaction

    from ..accounts.principals import SystemPrincipal
    from ..audit.services import log_action

    world = history(n_requests, seed)
    with transaction.atomic():
        orgs = _write_orgs(world.orgs)
        sites = _write_sites(world.sites, orgs)
        created = _write_requests(world.rows, seed, orgs, sites)
        log_action(actor or SystemPrincipal("synthetic"), "sites.synthetic", None, seed=seed, created=created)
    return created


_BATCH = 2000
_NOTE = "SYNTHETIC: invented by kesu.demo.synthetic for tests and the demo; not a real organisation."


def _write_orgs(specs: list[OrgSpec]) -> dict[str, int]:
    """Organisation pk by "<role>:<key>"."""
    from ..sites.models import Organisation, Source

    Organisation.objects.bulk_create(
        [
            Organisation(
                role=o.role, key=o.key, name=o.name, country=o.country, asn=o.asn, notes=_NOTE, source=Source.SYNTHETIC
            )
            for o in specs
        ],
        ignore_conflicts=True,
        batch_size=_BATCH,
    )
    wanted = {(o.role, o.key) for o in specs}
    found = Organisation.objects.filter(key__in={k for _, k in wanted}).values_list("role", "key", "pk")
    pks = {f"{role}:{key}": pk for role, key, pk in found if (role, key) in wanted}
    _write_contacts(specs, pks)
    return pks


def _write_contacts(specs: list[OrgSpec], pks: dict[str, int]) -> None:
    """An abuse address per organisation (under .example, which never resolves), so demo ladders have someone
    to write to."""
    from ..sites.models import Contact, Source, provenance

    written = provenance("system:synthetic")
    Contact.objects.bulk_create(
        [
            Contact(
                organisation_id=pks[f"{o.role}:{o.key}"],
                channel=Contact.Channel.EMAIL,
                address=f"abuse@{o.key}.example",
                source=Source.SYNTHETIC,
                **written,
            )
            for o in specs
            if f"{o.role}:{o.key}" in pks and o.role in ("operator", "host", "registrar")
        ],
        ignore_conflicts=True,
        batch_size=_BATCH,
    )


def _write_sites(specs: list[SiteSpec], orgs: dict[str, int]) -> dict[str, int]:
    """Site pk by domain."""
    from ..sites.models import Site

    def org(role: str, key: str) -> int | None:
        return orgs[f"{role}:{key}"] if key else None

    Site.objects.bulk_create(
        [
            Site(
                domain=s.domain,
                operator_id=org("operator", s.operator),
                relation=s.relation,
                status=Site.Status.ACTIVE,
                jurisdiction=s.jurisdiction,
                host_id=org("host", s.host),
                server_country=s.server_country,
                cdn_id=org("cdn", s.cdn),
                registrar_id=org("registrar", s.registrar),
                notes=_NOTE,
            )
            for s in specs
        ],
        ignore_conflicts=True,
        batch_size=_BATCH,
    )
    found = {}
    domains = [s.domain for s in specs]
    for start in range(0, len(domains), _BATCH):
        found.update(Site.objects.filter(domain__in=domains[start : start + _BATCH]).values_list("domain", "pk"))
    return found


def _legal(r: RequestRow) -> dict:
    """The regime routing would have cited and, when its clock runs from receipt, when that clock ran out:
    the demo's legal reports have something to show (derived from the row, no draw, so seeds stay as they were)."""
    from ..law import clocks, regimes

    choice = regimes.choose(r.country, r.case_type, role=r.role, when=r.sent_at)
    clock = choice.regime.clock_for(r.case_type, r.role)
    due = clock.ends_at(r.sent_at) if clock and clock.starts == clocks.RECEIVED else None
    return {"legal_basis": choice.key, "clock_due_at": due}


# The legal events, drawn from a stream of their own (``_event_draws``); effect sizes made up like the rest.
DSA = "eu_dsa_16"
CONFIRM_SHARE = 0.8  # DSA notices whose provider sends the 16(4) confirmation of receipt
CONFIRM_HOURS = 6.0  # its median delay (log-normal)
DECIDE_SHARE = {"removed": 0.75, "still_online": 0.45}  # ... that notify a 16(5) decision, by what the desk saw
DECIDE_DAYS = 5.0  # median days to a notified refusal (log-normal); a removal is notified as it happens
REUPLOAD_SHARE = 0.1  # removed copies found again
REUPLOAD_DAYS = 21.0  # median days from the removal to the re-upload (log-normal)


def _event_draws(seed: int, n: int) -> list[tuple[float, ...]]:
    """Six draws per row from a generator of the seed apart from the world's (whose draws stay as they were),
    the same six for every row whatever it needs, so row i's events depend on the seed and i only."""
    stream = random.Random(f"synthetic-legal:{seed}")
    return [(stream.random(), stream.random(), stream.random(), stream.random(), stream.gauss(0, 1),
             stream.gauss(0, 1)) for _ in range(n)]  # fmt: skip


def _events(r: RequestRow, legal_basis: str, draws: tuple[float, ...]) -> dict:
    """A DSA notice's 16(4) confirmation and 16(5) decision, and a removed copy's first re-upload (before the
    snapshot), as the history row keeps them."""
    confirm, decide, kind, back, hours, days = draws
    fields = {}
    removed = r.outcome in ("deleted", "partly_deleted")
    if legal_basis == DSA and r.outcome != "on_hold":
        if confirm < CONFIRM_SHARE:
            fields["receipt_confirmed_at"] = r.sent_at + timedelta(hours=CONFIRM_HOURS * math.exp(hours))
        if removed and decide < DECIDE_SHARE["removed"]:
            fields.update(decision="disabled" if kind < 0.1 else "removed", decided_at=r.resolved_at)
        elif r.outcome == "still_online" and decide < DECIDE_SHARE["still_online"]:
            refused_at = r.sent_at + timedelta(days=DECIDE_DAYS * math.exp(days))
            fields.update(decision="other" if kind < 0.15 else "refused", decided_at=min(refused_at, r.resolved_at))
    if removed and back < REUPLOAD_SHARE:
        again = r.resolved_at + timedelta(days=REUPLOAD_DAYS * math.exp(days))
        fields["reuploaded_at"] = again if again <= SNAPSHOT else None
    return fields


def _write_requests(rows: list[RequestRow], seed: int, orgs: dict[str, int], sites: dict[str, int]) -> int:
    from ..sites.models import Source, TakedownRequest

    prefix = f"synthetic:{seed}:"
    done = set(TakedownRequest.objects.filter(reference__startswith=prefix).values_list("reference", flat=True))
    draws = _event_draws(seed, len(rows))
    new = []
    for i, r in enumerate(rows):
        if f"{prefix}{i}" in done:
            continue
        legal = _legal(r)
        new.append(
            TakedownRequest(
                site_id=sites[r.site],
                recipient_id=orgs.get(r.recipient),
                role=r.role,
                case_type=r.case_type,
                sent_at=r.sent_at,
                outcome=r.outcome,
                resolved_at=r.resolved_at,
                source=Source.SYNTHETIC,
                reference=f"{prefix}{i}",
                **legal,
                **_events(r, legal["legal_basis"], draws[i]),
            )
        )
    TakedownRequest.objects.bulk_create(new, batch_size=_BATCH)
    _count_reuploads(new)
    return len(new)


def _count_reuploads(requests: list) -> None:
    """The sites learn their re-uploads, as ``patrol.reuploads.link`` tells a site of each one it sees."""
    from django.db.models import DateTimeField, F, Value
    from django.db.models.functions import Coalesce, Greatest

    from ..sites.models import Site

    seen: dict[int, list] = {}
    for request in requests:
        if request.reuploaded_at:
            seen.setdefault(request.site_id, []).append(request.reuploaded_at)
    for site_id, times in seen.items():  # a few hundred sites, once per seed
        latest = Value(max(times), output_field=DateTimeField())
        Site.objects.filter(pk=site_id).update(
            reuploads=F("reuploads") + len(times),
            last_reupload_at=Coalesce(Greatest("last_reupload_at", latest), latest),
        )
