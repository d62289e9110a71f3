"""List pages at desk scale: response times of every list page on PostgreSQL, served by gunicorn.

1. A fresh database ``kesu_bench_desk`` on 127.0.0.1:5432 (dropped and re-created), migrated, with a data
   directory of its own (the master key that wraps every data key lives there).
2. Populated in bulk: the shipped knowledge base and notice templates, 20,000 SYNTHETIC requests
   (kesu.demo.synthetic), a supervisor and ten staff members, ~2,000 victims and cases (a few through
   ``create_case``, the rest in bulk with a data key each), 100,000 hits spread over the cases (a few cases
   with thousands, most with a handful; new/confirmed/rejected; over two years; every source URL sealed
   with its case key), their audit entries (a valid chain), 5,000 notices to synthetic organisations with
   their re-checks, replies, and a few thousand patrol runs with their pages.
3. gunicorn (2 workers, as ``kesu run``) on a free loopback port; the supervisor and the staff member log in
   over HTTP with their TOTP code, then every list page gets 3 warm-up GETs and N timed sequential GETs.
   Printed: median, p90 and max in ms beside the 300 ms target, per user; then, from one in-process request
   per page, the number of SQL queries, their time and the slowest one (``--explain``: its plan for the
   pages over the target). A page that answers 404 is "not built".

Options: --quick (10,000 hits, 2,000 requests), --keep (keep the database and data directory),
--reuse (skip populating when the kept database is there).
"""

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DB_NAME = "kesu_bench_desk"
DSN = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
DATA_DIR = Path(tempfile.gettempdir()) / "kesu_bench_desk"
TARGET_MS = 300
WARMUPS = 3
PASSWORD = "bench-desk-password-2026"
SUPERVISOR, STAFF = "boss", "staff"
COLLEAGUES = 9  # other staff members, so that "her" cases are a tenth of the desk's
NOW = datetime.now(UTC)
TWO_YEARS = 730 * 86400
ACTOR = None  # set after django.setup()

# The list pages; {case} is the case with the most hits the user can see.
PAGES = [
    ("cases", "/"),
    ("cases due", "/cases/due/"),
    ("notices", "/notices/"),
    ("patrol", "/patrol/"),
    ("patrol hits", "/patrol/hits/"),
    ("sites", "/sites/"),
    ("sites ?q=synthetic", "/sites/?q=synthetic"),
    ("case detail (most hits)", "/cases/{case}/"),
    ("review queue", "/review/"),
    ("reports", "/reports/"),
    ("compliance by host", "/reports/compliance/?by=host"),
    ("compliance by site", "/reports/compliance/?by=site"),
    ("compliance by country", "/reports/compliance/?by=country"),
    ("re-uploads", "/reports/reuploads/"),
    ("public report", "/reports/public/"),
]


# --- database and settings -----------------------------------------------------------------------------


def database_exists() -> bool:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        return bool(admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone())


def populated() -> bool:
    """The kept database holds hits and the data directory still has the key that opens them."""
    if not (database_exists() and (DATA_DIR / "master.key").exists()):
        return False
    with psycopg.connect(DSN.replace("postgres://", "postgresql://")) as db:
        try:
            return bool(db.execute("SELECT count(*) FROM matching_hit").fetchone()[0])
        except psycopg.errors.UndefinedTable:
            return False


def recreate_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(mode=0o700)


def drop_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    shutil.rmtree(DATA_DIR, ignore_errors=True)


def environment() -> dict:
    return {**os.environ, "KESU_DATABASE_URL": DSN, "KESU_DATA_DIR": str(DATA_DIR)}


def setup_django() -> None:
    global ACTOR
    os.environ.update({k: v for k, v in environment().items() if k.startswith("KESU_")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
    import django

    django.setup()
    from kesu.accounts.principals import SystemPrincipal

    ACTOR = SystemPrincipal("bench")


# --- populating ------------------------------------------------------------------------------------------


@contextmanager
def timed(label: str, timings: list):
    start = time.monotonic()
    yield
    timings.append((label, time.monotonic() - start))
    print(f"  {label}: {timings[-1][1]:.1f} s", flush=True)


@contextmanager
def dates_as_given(*models):
    """Bulk rows keep the creation dates we spread over two years (auto_now_add would make them all now)."""
    fields = [f for m in models for f in m._meta.concrete_fields if getattr(f, "auto_now_add", False)]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


def ago(rng: random.Random, seconds: float = TWO_YEARS) -> datetime:
    return NOW - timedelta(seconds=rng.uniform(0, seconds))


def new_key(purpose: str):
    """A data key row as ``vault.new_data_key`` makes it, not yet saved."""
    from kesu.vault import crypto, keyring
    from kesu.vault import services as vault
    from kesu.vault.models import DataKey

    kid, master = keyring.current()
    key_id = uuid.uuid4()
    return DataKey(
        id=key_id, purpose=purpose, kid=kid, wrapped=crypto.seal(master, crypto.new_key(), vault._wrap_aad(key_id))
    )


def make_users() -> dict:
    from kesu.accounts import services as accounts

    users = {SUPERVISOR: accounts.create_user(ACTOR, SUPERVISOR, "supervisor", PASSWORD)}
    users[STAFF] = accounts.create_user(ACTOR, STAFF, "staff", PASSWORD)
    for name in (SUPERVISOR, STAFF):
        accounts.enrol_totp_now(ACTOR, users[name])
    colleagues = [accounts.create_user(ACTOR, f"staff{i}", "staff", PASSWORD) for i in range(2, COLLEAGUES + 2)]
    return {**users, "team": [users[STAFF], *colleagues]}


def make_cases(count: int, users: dict, rng: random.Random) -> list:
    """A few cases the way staff make them, the rest in bulk; each case is assigned to one staff member."""
    from kesu.cases import services as cases
    from kesu.cases.models import Case, CaseType, Victim
    from kesu.vault.models import DataKey

    team = users["team"]
    made = [
        cases.create_case(ACTOR, rng.choice(CaseType.values), details=cases.VictimDetails(name=f"bench {i}"),
                          assignees=[team[i % len(team)]], consent=["search", "takedown", "evidence"])
        for i in range(20)
    ]  # fmt: skip
    victims, rows, keys = [], [], []
    statuses = rng.choices(Case.Status.values, weights=[10, 50, 25, 5, 10], k=count)
    for i in range(len(made), count):
        victim_key, case_key = new_key(DataKey.Purpose.VICTIM), new_key(DataKey.Purpose.CASE)
        keys += [victim_key, case_key]
        created = ago(rng)
        victims.append(Victim(code=cases._new_code(), data_key=victim_key, created_at=created))
        rows.append(Case(
            victim=victims[-1], case_type=rng.choices(CaseType.values, weights=[45, 6, 28, 8, 5, 8])[0],
            status=statuses[i], data_key=case_key, consent=["search", "takedown"], created_at=created,
            updated_at=created, mandate_signed_on=created.date(),
            closed_at=created if statuses[i] == "closed" else None,
            continuation_due_on=(NOW + timedelta(days=rng.uniform(-20, 345))).date(),
        ))  # fmt: skip
    with dates_as_given(Victim, Case):
        DataKey.objects.bulk_create(keys, batch_size=2000)
        Victim.objects.bulk_create(victims, batch_size=2000)
        Case.objects.bulk_create(rows, batch_size=2000)
    through = Case.assignees.through
    through.objects.bulk_create(
        [through(case_id=c.pk, user_id=team[(i + len(made)) % len(team)].pk) for i, c in enumerate(rows)],
        batch_size=5000,
    )
    return made + rows


def make_references(case_list: list, rng: random.Random) -> None:
    """A keyword and a known URL or two per case (the list counts them)."""
    from kesu.cases.models import ReferenceItem
    from kesu.vault import services as vault

    items = [
        ReferenceItem(case=case, kind=kind, created_by="system:bench",
                      label_sealed=vault.seal_text(case.data_key, f"bench {kind} {n}", "reference.label"))
        for case in case_list for n, kind in enumerate(["keyword", *["url"] * rng.randint(0, 2)])
    ]  # fmt: skip
    ReferenceItem.objects.bulk_create(items, batch_size=5000)


def blind_indexer():
    """``vault.blind_index`` without a database read per URL."""
    import hashlib
    import hmac

    from kesu.vault import services as vault

    key = vault._blind_key(vault.unwrap(vault.patrol_key()))
    return lambda url: hmac.new(key, url.encode(), hashlib.sha256).hexdigest()


def make_hits(count: int, case_list: list, domains: list, users: dict, rng: random.Random) -> list:
    """Hits over the cases with a long tail (a few cases hold thousands); returns (hit, url) of each."""
    from kesu.matching.models import Hit
    from kesu.vault import services as vault

    index, order = blind_indexer(), case_list[:]
    rng.shuffle(order)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(order))]
    deciders = [users[SUPERVISOR], *users["team"]]
    hits, urls = [], []
    # The host in the clear, where the model has it (the review queue filters by it).
    with_host = any(f.name == "host" for f in Hit._meta.concrete_fields)
    for n, case in enumerate(rng.choices(order, weights=weights, k=count)):
        domain = rng.choice(domains)
        url = f"https://{domain}/v/{n}-{secrets.token_hex(4)}"
        status = rng.choices(Hit.Status.values, weights=[25, 45, 30])[0]
        created = ago(rng)
        decided = status != Hit.Status.NEW
        hits.append(Hit(
            case=case, sha256=secrets.token_hex(32), media_type=rng.choice(["image/jpeg", "image/png", "video/mp4"]),
            source_url_sealed=vault.seal_text(case.data_key, url, "hit.source_url"), source_key=index(url),
            signal=rng.choices(["sha256", "pdq", "local", "vpdq", "face"], weights=[10, 45, 20, 15, 10])[0],
            probability=round(min(1.0, 0.5 + rng.betavariate(4, 2) / 2), 4),
            nudity=round(rng.random(), 3) if rng.random() < 0.8 else None,
            evidence={"pdq_distance": rng.randint(0, 31)}, status=status, created_at=created,
            decided_by=rng.choice(deciders) if decided else None,
            decided_at=created + timedelta(hours=rng.uniform(1, 96)) if decided else None,
        ))  # fmt: skip
        if with_host:
            hits[-1].host = domain
        urls.append(url)
    with dates_as_given(Hit):
        Hit.objects.bulk_create(hits, batch_size=5000)
    return list(zip(hits, urls, strict=True))


def make_reuploads(hits: list, rng: random.Random) -> None:
    """About one confirmed hit in fifty is a re-upload of an older confirmed hit of its case."""
    from kesu.matching.models import Hit

    by_case: dict[int, list] = {}
    for hit, _url in hits:
        if hit.status == Hit.Status.CONFIRMED:
            by_case.setdefault(hit.case_id, []).append(hit)
    changed = []
    for group in by_case.values():
        group.sort(key=lambda h: h.created_at)
        for later in group[1:]:
            if rng.random() < 0.02:
                later.reupload_of = rng.choice(group[: group.index(later)])
                changed.append(later)
    Hit.objects.bulk_update(changed, ["reupload_of"], batch_size=2000)


def make_audit(hits: list) -> None:
    """The ``hit.create`` entries the patrol writes, chained after the head so that the log still verifies."""
    from kesu.audit import services as audit
    from kesu.audit.models import AuditEntry, AuditHead
    from kesu.vault.services import audit_key

    key = audit_key()
    head = AuditHead.objects.get(pk=1)
    seq, prev, entries = head.seq, head.hash or audit.GENESIS, []
    for hit, _url in sorted(hits, key=lambda pair: pair[0].created_at):
        seq += 1
        entry = AuditEntry(
            seq=seq, at=hit.created_at, actor="system:patrol", action="hit.create", object_type="matching.hit",
            object_id=str(hit.pk), case_id=hit.case_id, detail={"signal": hit.signal, "probability": hit.probability},
            prev_hash=prev,
        )  # fmt: skip
        entry.hash = prev = audit._entry_hash(key, prev, entry)
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries, batch_size=5000)
    head.seq, head.hash, head.mac = seq, prev, audit._head_mac(key, seq, prev)
    head.save()


def make_notices(count: int, hits: list, rng: random.Random) -> list:
    """Notices to the synthetic sites' operators and hosts, each naming a few confirmed hits of its case."""
    from kesu.matching.models import Hit
    from kesu.notices import regimes
    from kesu.notices.models import Notice
    from kesu.sites.models import Outcome, Site, Source
    from kesu.vault import services as vault

    sites = list(Site.objects.filter(operator__source=Source.SYNTHETIC).select_related("operator", "host"))
    confirmed: dict[int, list] = {}
    for hit, url in hits:
        if hit.status == Hit.Status.CONFIRMED:
            confirmed.setdefault(hit.case_id, []).append((hit, url))
    cases = [c for c in confirmed]
    weights = [len(confirmed[c]) for c in cases]
    statuses = ["sent", "closed", "draft", "form", "failed", "queued", "cancelled"]
    notices, named = [], []
    for case_id in rng.choices(cases, weights=weights, k=count):
        chosen = rng.sample(confirmed[case_id], min(len(confirmed[case_id]), rng.randint(1, 5)))
        case = chosen[0][0].case
        site = rng.choice(sites)
        recipient, role = (site.host, "host") if site.host and rng.random() < 0.3 else (site.operator, "operator")
        status = rng.choices(statuses, weights=[45, 35, 6, 3, 3, 1, 7])[0]
        created = ago(rng, 30 * 86400) if status in ("draft", "form", "queued") else ago(rng)
        sent = created + timedelta(minutes=rng.uniform(5, 600)) if status in ("sent", "closed") else None
        outcome = (
            rng.choice([Outcome.DELETED, Outcome.PARTLY_DELETED, Outcome.STILL_ONLINE]) if status == "closed" else ""
        )
        links = [url for _hit, url in chosen]
        notices.append(Notice(
            case=case, recipient=recipient, site=site, role=role, channel=rng.choices(["email", "form"], [85, 15])[0],
            address=f"abuse@{site.domain}", regime=rng.choice(sorted(regimes.REGIMES)),
            language=rng.choice(["ja", "en"]),
            deadline_hours=48, token=secrets.token_hex(8), url_count=len(links),
            urls_sealed=vault.seal_json(case.data_key, links, "notice.urls"), status=status, outcome=outcome,
            created_by=f"user:{SUPERVISOR}", created_at=created, sent_at=sent,
            resolved_at=sent + timedelta(days=rng.uniform(1, 40)) if outcome and sent else None,
        ))  # fmt: skip
        named.append(chosen)
    with dates_as_given(Notice):
        Notice.objects.bulk_create(notices, batch_size=2000)
    through = Notice.hits.through
    through.objects.bulk_create(
        [
            through(notice_id=n.pk, hit_id=hit.pk)
            for n, chosen in zip(notices, named, strict=True)
            for hit, _u in chosen
        ],
        batch_size=5000,
    )
    return list(zip(notices, named, strict=True))


def make_rechecks(notices: list, rng: random.Random) -> int:
    """A re-check of every URL of a sent or closed notice, in the states re-checks end up in."""
    from kesu.patrol.models import Recheck, Stage

    states = Recheck.State.values
    rows = []
    for notice, chosen in notices:
        if notice.sent_at is None:
            continue
        for hit, url in chosen:
            state = rng.choices(states, weights=[5, 30, 30, 8, 12, 5, 3, 7])[0]
            checked = notice.sent_at + timedelta(days=rng.uniform(0.1, 30))
            gone = state in Recheck.GONE
            rows.append(Recheck(
                case_id=notice.case_id, notice=notice, url_key=hit.source_key, host=urllib.parse.urlsplit(url).hostname,
                url_sealed=hit.source_url_sealed, state=state, checks=rng.randint(1, 20), last_checked_at=checked,
                changed_at=checked, gone_at=checked if gone else None, stage=Stage.DONE, created_at=notice.sent_at,
                history=[{"at": checked.isoformat(), "state": state, "status": 404 if gone else 200, "evidence": ""}],
            ))  # fmt: skip
    with dates_as_given(Recheck):
        Recheck.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def make_replies(count: int, notices: list, rng: random.Random) -> None:
    """Replies fetched from the mailbox, a quarter of them still to be decided."""
    from kesu.notices.models import Reply
    from kesu.vault import services as vault

    box = vault.mailbox_key()
    sealed = vault.seal_json(box, {"from": "abuse@bench.example", "subject": "Re", "text": "removed"}, "reply")
    sent = [n for n, _chosen in notices if n.sent_at]
    rows = []
    for i in range(count):
        notice = rng.choice(sent)
        proposal = rng.choice(Reply.Proposal.values)
        rows.append(Reply(
            mailbox_uid=f"1:{i}", notice=notice, case_id=notice.case_id, threaded_by="token",
            from_domain=notice.address.split("@")[-1],
            received_at=notice.sent_at + timedelta(hours=rng.uniform(1, 200)),
            data_key=box, sealed=sealed, proposal=proposal, decision="" if rng.random() < 0.25 else proposal,
        ))  # fmt: skip
    Reply.objects.bulk_create(rows, batch_size=2000)


def make_patrol(runs: int, case_list: list, domains: list, rng: random.Random) -> int:
    """Watches on some synthetic sites, their runs (and a case's searches and submissions) with pages, hosts."""
    from kesu.patrol.models import HostState, Page, Run, Stage, Watch
    from kesu.sites.models import Site
    from kesu.vault import services as vault

    watches = Watch.objects.bulk_create([
        Watch(site=site, name=site.domain, seeds=[f"https://{site.domain}/new"], item_pattern=r"/v/\d+")
        for site in Site.objects.filter(domain__in=domains[:20])
    ])  # fmt: skip
    sealed = vault.seal_text(vault.patrol_key(), "https://bench.example/page", "page.url")  # one value: never opened
    rows = []
    for _ in range(runs):
        source = rng.choices(Run.Source.values, weights=[70, 10, 10, 8, 2])[0]
        started = ago(rng)
        rows.append(Run(
            watch=rng.choice(watches) if source == "listing" else None,
            case=rng.choice(case_list) if source != "listing" else None, source=source, status="done",
            started_at=started, finished_at=started + timedelta(minutes=rng.uniform(1, 90)), hits=rng.randint(0, 5),
        ))  # fmt: skip
    with dates_as_given(Run):
        Run.objects.bulk_create(rows, batch_size=2000)
    pages = [
        Page(run=run, url_key=secrets.token_hex(32), url_sealed=sealed, host=rng.choice(domains),
             kind="listing" if n == 0 else "item",
             stage=rng.choices([Stage.DONE, Stage.FAILED, Stage.SKIPPED], [85, 5, 10])[0],
             status=200, links=rng.randint(0, 50), media=rng.randint(0, 6))
        for run in rows for n in range(rng.randint(3, 20))
    ]  # fmt: skip
    Page.objects.bulk_create(pages, batch_size=5000)
    HostState.objects.bulk_create([
        HostState(host=d, requests=rng.randint(1, 5000), refusals=rng.choice([0] * 9 + [rng.randint(1, 20)]),
                  last_status=200)
        for d in domains[:500]
    ])  # fmt: skip
    return len(pages)


def populate(size: dict) -> float:
    from django.db import connection

    from kesu.demo import synthetic
    from kesu.notices import templates
    from kesu.sites import knowledge
    from kesu.sites.models import Site, Source

    rng, timings = random.Random(7), []
    start = time.monotonic()
    print("populating", flush=True)
    with timed("migrate", timings):
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    with timed("knowledge base and notice templates", timings):
        knowledge.sync(ACTOR)
        templates.sync_shipped()
    with timed(f"{size['requests']:,} synthetic requests", timings):
        synthetic.write(size["requests"], seed=7, actor=ACTOR)
    domains = list(Site.objects.filter(operator__source=Source.SYNTHETIC).values_list("domain", flat=True))
    with timed(f"users and {size['cases']:,} victims and cases", timings):
        users = make_users()
        case_list = make_cases(size["cases"], users, rng)
        make_references(case_list, rng)
    with timed(f"{size['hits']:,} hits, re-uploads and their audit entries", timings):
        hits = make_hits(size["hits"], case_list, domains, users, rng)
        make_reuploads(hits, rng)
        make_audit(hits)
    with timed(f"{size['notices']:,} notices, their re-checks and replies", timings):
        notices = make_notices(size["notices"], hits, rng)
        rechecks = make_rechecks(notices, rng)
        make_replies(size["notices"] // 25, notices, rng)
    print(f"    ({rechecks:,} re-checks)")
    with timed(f"{size['runs']:,} patrol runs and their pages", timings):
        pages = make_patrol(size["runs"], case_list, domains, rng)
    print(f"    ({pages:,} pages)")
    with timed("VACUUM ANALYZE", timings), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.monotonic() - start


# --- serving and measuring -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn as ``kesu run`` starts it, on this database; its log is kept beside the data directory."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = DATA_DIR / "gunicorn.log"
        command = [
            sys.executable, "-m", "gunicorn", "kesu.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", "2", "--threads", "4", "--timeout", "120",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=environment(), stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/accounts/login/", timeout=5).read()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise SystemExit(f"gunicorn did not start: {self.log.read_text()[-800:]}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def _csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _totp(username: str) -> str:
    from django_otp.oath import totp

    from kesu.accounts.models import User
    from kesu.accounts.services import confirmed_totp

    device = confirmed_totp(User.objects.get(username=username))
    return str(totp(device.bin_key, device.step, device.t0, device.digits, device.drift)).zfill(device.digits)


def login(base: str, username: str):
    """Password, then the TOTP code, over HTTP; returns an opener with the verified session."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/accounts/login/", timeout=30).read().decode()
    form = {"csrfmiddlewaretoken": _csrf(page), "username": username, "password": PASSWORD}
    response = opener.open(f"{base}/accounts/login/", urllib.parse.urlencode(form).encode(), timeout=30)
    otp_url, page = response.geturl(), response.read().decode()
    for _attempt in range(2):  # a code is good once per 30 s step: the second try waits for the next one
        form = {"csrfmiddlewaretoken": _csrf(page), "token": _totp(username)}
        response = opener.open(otp_url, urllib.parse.urlencode(form).encode(), timeout=30)
        page = response.read().decode()
        if "/accounts/" not in response.geturl():
            return opener
        time.sleep(31)
    raise SystemExit(f"{username} could not log in (TOTP refused)")


def fetch(opener, url: str) -> tuple[int, str, float]:
    start = time.perf_counter()
    try:
        with opener.open(url, timeout=120) as response:
            response.read()
            status, final = response.status, response.geturl()
    except urllib.error.HTTPError as error:
        error.read()
        status, final = error.code, url
    return status, final, (time.perf_counter() - start) * 1000


def measure(opener, base: str, path: str, repeat: int) -> dict:
    status, final, _ms = fetch(opener, base + path)
    if status == 404:
        return {"state": "not built"}
    if status != 200 or urllib.parse.urlsplit(final).path != urllib.parse.urlsplit(path).path:
        return {"state": f"HTTP {status}" + (f" -> {urllib.parse.urlsplit(final).path}" if status == 200 else "")}
    for _ in range(WARMUPS - 1):
        fetch(opener, base + path)
    times = sorted(fetch(opener, base + path)[2] for _ in range(repeat))
    return {
        "state": "ok",
        "median": statistics.median(times),
        "p90": times[min(len(times) - 1, round(0.9 * (len(times) - 1)))],
        "max": times[-1],
    }


def busiest_case(username: str) -> int:
    from django.db.models import Count

    from kesu.accounts.models import User
    from kesu.cases.services import visible_cases

    user = User.objects.get(username=username)
    return visible_cases(user).annotate(n=Count("hits")).order_by("-n").values_list("pk", flat=True)[0]


def queries(username: str, paths: list[str]) -> dict:
    """SQL per page from one in-process request (after a warm-up): count, total ms, the slowest query."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp import DEVICE_ID_SESSION_KEY

    from kesu.accounts.models import User
    from kesu.accounts.services import confirmed_totp

    user = User.objects.get(username=username)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = confirmed_totp(user).persistent_id
    session.save()
    found = {}
    for path in paths:
        client.get(path)
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            status = client.get(path).status_code
        total = (time.perf_counter() - start) * 1000
        done = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
        slowest = max(done, default=(0.0, ""))
        found[path] = {
            "status": status, "total": total, "count": len(done), "ms": sum(t for t, _ in done), "slowest": slowest,
        }  # fmt: skip
    return found


def explain(sql: str) -> str:
    from django.db import connection

    if not sql.lstrip().upper().startswith("SELECT"):
        return "  (not a SELECT)"
    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join("    " + row[0] for row in cursor.fetchall()[:30])
    except Exception as error:  # noqa: BLE001 - a plan is a bonus; say why it is missing and go on
        return f"  (no plan: {str(error).splitlines()[0][:150]})"


# --- report ----------------------------------------------------------------------------------------------


def cell(result: dict) -> str:
    if result["state"] != "ok":
        return result["state"]
    verdict = "ok" if result["median"] < TARGET_MS else "OVER"
    return f"{result['median']:6.0f} {result['p90']:6.0f} {result['max']:6.0f}  {verdict}"


def print_times(rows: list, users: list[str]) -> None:
    width = max(len(name) for name, *_ in rows)
    heads = "".join(f" | {f'{u}: median    p90    max':<30}" for u in users)
    print(f"\nresponse times in ms, over HTTP (gunicorn, 2 workers), target: median < {TARGET_MS} ms")
    print(f"  {'page'.ljust(width)}{heads} | target")
    for name, results in rows:
        line = "".join(f" | {cell(results[u]):<30}" for u in users)
        print(f"  {name.ljust(width)}{line} | {TARGET_MS}", flush=True)


def print_queries(rows: list, users: list[str], sql: dict, show_plans: bool) -> None:
    width = max(len(name) for name, *_ in rows)
    print("\nSQL per page (one in-process request): its time, its queries and their time (the rest is Python:")
    print("views and templates), the slowest query")
    for name, results in rows:
        for user in users:
            if results[user]["state"] == "not built":
                continue
            found = sql[user][results[user]["path"]]
            ms, text = found["slowest"]
            query = " ".join(text.split())[:100]
            print(f"  {name.ljust(width)} | {user:<5} | HTTP {found['status']} | {found['total']:5.0f} ms | "
                  f"{found['count']:4d} q {found['ms']:6.1f} ms | slowest {ms:6.1f} ms: {query}")  # fmt: skip
            if show_plans and results[user]["state"] == "ok" and results[user]["median"] >= TARGET_MS:
                print(explain(text))


def print_errors(log: Path) -> None:
    """The last line of each distinct traceback the server logged (pages that answered 500)."""
    text = log.read_text(errors="replace")
    failures = re.findall(
        r"ERROR django.request Internal Server Error: (\S+)\n(?:.*\n)*?^(\w[\w.]*(?:Error|Exception)\b.*)", text, re.M
    )
    if failures:
        print("\nserver errors (from the gunicorn log)")
        for path, error in dict.fromkeys(failures):
            print(f"  {path}: {error[:200]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 hits and 2,000 requests")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB_NAME} and {DATA_DIR}")
    parser.add_argument("--reuse", action="store_true", help="do not populate when the kept database is there")
    parser.add_argument("--repeat", type=int, default=30, help="timed GETs per page and user (default 30)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of slow pages")
    args = parser.parse_args()
    size = (
        {"hits": 10_000, "requests": 2_000, "cases": 500, "notices": 1_000, "runs": 500}
        if args.quick
        else {"hits": 100_000, "requests": 20_000, "cases": 2_000, "notices": 5_000, "runs": 3_000}
    )
    reuse = args.reuse and populated()
    if not reuse:
        recreate_database()
    setup_django()
    server = None
    try:
        if reuse:
            print(f"reusing {DB_NAME} (populated earlier)")
        else:
            print(f"populate time: {populate(size):.0f} s", flush=True)
        from kesu.matching.models import Hit
        from kesu.sites.models import TakedownRequest

        print(f"database: {Hit.objects.count():,} hits, {TakedownRequest.objects.count():,} requests")
        server = Server()
        load = f"{os.getloadavg()[0]:.1f}"
        users = [SUPERVISOR, STAFF]
        rows = [(name, {}) for name, _path in PAGES]
        paths = {}
        for user in users:
            opener, case = login(server.base, user), busiest_case(user)
            paths[user] = [path.format(case=case) for _name, path in PAGES]
            print(f"measuring as {user} ({args.repeat} GETs per page after {WARMUPS} warm-ups)", flush=True)
            for (_name, results), path in zip(rows, paths[user], strict=True):
                results[user] = {**measure(opener, server.base, path, args.repeat), "path": path}
        server.stop()
        print_times(rows, users)
        print(f"  (load average while measuring: {load} at the start, {os.getloadavg()[0]:.1f} at the end, "
              f"{os.cpu_count()} cores: other work on the machine inflates the figures)")  # fmt: skip
        sql = {
            user: queries(user, [r[user]["path"] for _n, r in rows if r[user]["state"] != "not built"])
            for user in users
        }
        print_errors(server.log)
        print_queries(rows, users, sql, args.explain)
    finally:
        if server:
            server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
