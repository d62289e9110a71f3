"""Patrol at scale on PostgreSQL + Redis with ``kesu worker`` processes, driven by the ``kesu`` command.

1. Crawl: a watch on the demo web's huge.test (one listing of 20,000 item pages, each with a filler
   image) limited to --pages pages, worked by 1 and then 2 workers (each ``--concurrency 1``, all patrol
   queues), each on a fresh database with the demo case as the bank. Measured from ``kesu patrol run``
   to no unfinished row: item pages fetched per minute, images fingerprinted per second, and the hits
   among the fillers (false positives). Baseline: a naive loop in this process on the same pages
   (fetch, parse, download each image, ``matching.services.match``), one after the other.
2. Re-checks: --urls URLs of 50 sent notices, 200 per host h<NN>.bench, served here with a mix of
   404 (40 %), soft 404 (20 %), the notice's hit byte for byte (25 %) and another image (15 %), re-checked
   by 2 workers with the default politeness (KESU_PATROL_RATE_PER_MINUTE per host). Baseline: the
   ceiling politeness allows, hosts x rate x 60 requests per hour. Stops after --minutes and
   extrapolates, saying so.

Databases are made on 127.0.0.1:5432 (from the ``test`` database) and dropped at the end; Redis db 13
is flushed before and after.
"""

import argparse
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import psycopg
import redis

KESU = str(Path(sys.executable).with_name("kesu"))
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DB = 13
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"
ALL_QUEUES = "celery,capture,fetch,download,fingerprint,match,alert,recheck"
RECHECK_QUEUES = "recheck,capture,celery"
ACTIVE = "stage NOT IN ('done', 'failed', 'skipped')"
HOSTS = 50
SWEEP_SECONDS = 10


# --- databases, broker, workers ----------------------------------------------------------------------


def create_database() -> str:
    name = f"kesu_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def drop_database(dsn: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')


def flush_broker() -> None:
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


def rows(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn.replace("postgres://", "postgresql://")) as db:
        return db.execute(sql).fetchall()


def scalar(dsn: str, sql: str) -> int:
    return rows(dsn, sql)[0][0]


def environment(dsn: str, data_dir: Path, hosts: str, **extra: str) -> dict:
    return {
        **os.environ, "KESU_DATA_DIR": str(data_dir), "KESU_DATABASE_URL": dsn, "KESU_BROKER_URL": BROKER,
        "KESU_ALLOW_LOOPBACK": "1", "KESU_CAPTURE_HOSTS": hosts, "KESU_PATROL_PRESERVE_HITS": "0",
        "KESU_CAPTURE_WARM_CONTEXTS": "0", **extra,
    }  # fmt: skip


def kesu(env: dict, *args: str) -> str:
    done = subprocess.run([KESU, *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"kesu {args[0]} {args[1] if len(args) > 1 else ''}: {done.stderr.strip()[-300:]}")
    return done.stdout


class Workers:
    """``count`` worker processes of concurrency 1; their logs are kept for the report."""

    def __init__(self, env: dict, queues: str, count: int, logs: Path):
        self.logs = [logs / f"worker-{i}.log" for i in range(count)]
        self.processes = [
            subprocess.Popen([KESU, "worker", "--queues", queues, "--concurrency", "1"], env=env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
            for log in self.logs
        ]  # fmt: skip
        deadline = time.monotonic() + 120
        while not all("ready." in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.stop()
                raise SystemExit(f"a worker did not start: {self.logs[0].read_text()[-500:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)

    def deferred(self) -> int:
        """Tasks that found their host busy and went back to the queue."""
        return sum(log.read_text().count(": 'deferred'") for log in self.logs)

    def troubles(self) -> str:
        """Tracebacks and errors in the logs (before the shutdown), counted."""
        text = "\n".join(log.read_text().split("Warm shutdown")[0] for log in self.logs)
        errors = [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]
        return f"{len(errors)} error line(s)" + (f", first: {errors[0][:200]}" if errors else "")


def until(done, seconds: float, env: dict) -> bool:
    """Poll ``done`` every second, sweeping as the beat would; False when time ran out."""
    deadline, swept = time.monotonic() + seconds, 0.0
    while not done():
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - swept > SWEEP_SECONDS:
            kesu(env, "patrol", "sweep")
            swept = time.monotonic()
        time.sleep(1)
    return True


def print_table(title: str, lines: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}", flush=True)
    width = max(len(line[0]) for line in lines)
    fig = max(len(line[1]) for line in lines)
    print(f"  {'configuration'.ljust(width)} | {'figure'.ljust(fig)} | baseline")
    for name, figure, baseline in lines:
        print(f"  {name.ljust(width)} | {figure.ljust(fig)} | {baseline}", flush=True)


# --- 1. crawl --------------------------------------------------------------------------------------------


def unfinished(dsn: str) -> int:
    return sum(
        scalar(dsn, f"SELECT count(*) FROM patrol_{t} WHERE {ACTIVE}") for t in ("page", "sighting", "fingerprint")
    )


def crawl(web, workers: int, pages: int, work: Path) -> dict:
    """One patrol run of huge.test on a fresh database with ``workers`` workers."""
    dsn, data = create_database(), work / f"crawl-{workers}"
    data.mkdir()
    flush_broker()
    env = environment(dsn, data, web.host_rules())
    try:
        kesu(env, "demo")
        seed = f"http://huge.test:{web.port}/all"
        kesu(env, "patrol", "watch", "huge.test", "--seed", seed, "--item-pattern", r"/h/\d+$",
             "--pages", str(pages + 1), "--links", str(pages), "--rate", "60000", "--concurrency", "8",
             "--browser", "never", "--every", "100000")  # fmt: skip
        hits_before = scalar(dsn, "SELECT count(*) FROM matching_hit")
        pool = Workers(env, ALL_QUEUES, workers, data)
        try:
            start = time.monotonic()
            kesu(env, "patrol", "run", "huge.test")
            finished = until(lambda: scalar(dsn, "SELECT count(*) FROM patrol_page") and not unfinished(dsn),
                             1800, env)  # fmt: skip
            seconds = time.monotonic() - start
        finally:
            pool.stop()
        return {
            "seconds": seconds, "finished": finished, "troubles": pool.troubles(),
            "items": scalar(dsn, "SELECT count(*) FROM patrol_page WHERE kind = 'item' AND stage = 'done'"),
            "pages_failed": scalar(dsn, "SELECT count(*) FROM patrol_page WHERE stage = 'failed'"),
            "fingerprints": scalar(dsn, "SELECT count(*) FROM patrol_fingerprint WHERE stage = 'done'"),
            "fp_failed": scalar(dsn, "SELECT count(*) FROM patrol_fingerprint WHERE stage = 'failed'"),
            "hits": scalar(dsn, "SELECT count(*) FROM matching_hit") - hits_before,
            "stuck": unfinished(dsn),
        }  # fmt: skip
    finally:
        drop_database(dsn)
        flush_broker()


def naive_crawl(port: int, pages: int) -> dict:
    """The baseline: every page, image and match one after the other in this process."""
    import re

    from django.conf import settings

    from kesu.capture.policy import policy_from_settings
    from kesu.lib.errors import UserError
    from kesu.matching import services as matching
    from kesu.patrol import extract, http

    policy, limit, seconds = policy_from_settings(), 200 * 1024 * 1024, settings.KESU_PATROL_FETCH_SECONDS
    start = time.monotonic()
    base = f"http://huge.test:{port}/all"
    listing = extract.parse(http.get(base, policy, limit=limit, seconds=seconds).text, base)
    items = [link.url for link in listing.links if re.search(r"/h/\d+$", link.url)][:pages]
    images = hits = 0
    for url in items:
        page = extract.parse(http.get(url, policy, limit=limit, seconds=seconds).text, url)
        for ref in page.media:
            data = http.get(ref.url, policy, limit=limit, seconds=seconds).body
            images += 1
            try:
                result = matching.match(data)
            except UserError:
                continue
            hits += any(c.probability >= 0.5 for c in result.candidates)
    return {"seconds": time.monotonic() - start, "items": len(items), "fingerprints": images, "hits": hits}


def crawl_section(web, pages: int, work: Path) -> None:
    base = naive_crawl(web.port, pages)
    results = {n: crawl(web, n, pages, work) for n in (1, 2)}
    base_rate = base["items"] / base["seconds"] * 60
    base_fps = base["fingerprints"] / base["seconds"]
    lines = [("naive loop, 1 process", f"{base['items']} pages in {base['seconds']:.0f} s", "-")]
    for n, r in results.items():
        lines += [
            (f"{n} worker(s): pages/minute", f"{r['items'] / r['seconds'] * 60:.0f}", f"{base_rate:.0f}"),
            (f"{n} worker(s): images fingerprinted/s", f"{r['fingerprints'] / r['seconds']:.2f}", f"{base_fps:.2f}"),
            (f"{n} worker(s): hits among fillers", str(r["hits"]), str(base["hits"])),
            (
                f"{n} worker(s): run",
                f"{r['items']} pages, {r['fingerprints']} images in {r['seconds']:.0f} s"
                + ("" if r["finished"] else " (TIMED OUT)"),
                "-",
            ),  # fmt: skip
            (
                f"{n} worker(s): failed / stuck",
                f"pages {r['pages_failed']}, images {r['fp_failed']}, unfinished {r['stuck']}",
                "0",
            ),  # fmt: skip
            (f"{n} worker(s): worker logs", r["troubles"], "-"),
        ]
    print_table(f"crawl of huge.test, {pages} pages", lines)


# --- 2. re-checks ----------------------------------------------------------------------------------------


def kind_of(index: int) -> str:
    """40 % gone, 20 % soft 404, 25 % the hit itself, 15 % another image: by the URL's number."""
    slot = index % 20
    return "gone" if slot < 8 else "soft" if slot < 12 else "hit" if slot < 17 else "other"


class Hosting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hit: bytes, others: list[bytes]):
        super().__init__(("127.0.0.1", 0), HostingHandler)
        self.hit, self.others = hit, others


class HostingHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server name
        name = self.path.rsplit("/", 1)[-1].split(".")[0]
        if not name.isdigit():
            return self.answer(404, b"Not found.", "text/plain")
        index, kind = int(name), kind_of(int(name))
        if kind == "gone":
            return self.answer(404, b"Not found.", "text/plain")
        if kind == "soft":
            return self.answer(200, b"<html><body><h2>Video</h2><p>This video has been removed.</p></body></html>")
        if self.path.startswith("/img/"):
            data = self.server.hit if kind == "hit" else self.server.others[index % len(self.server.others)]
            return self.answer(200, data, "image/jpeg")
        body = f'<html><body><h2>Video {index}</h2><img src="/img/{index}.jpg" alt=""></body></html>'
        return self.answer(200, body.encode())

    def answer(self, status: int, body: bytes, mime: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _jpeg(data: bytes) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.open(BytesIO(data)).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def sent_notices(urls: int, port: int, hit: bytes) -> None:
    """A case with the astronaut in its bank and HOSTS sent notices of urls/HOSTS URLs each, one host per notice."""
    from datetime import timedelta

    from django.utils import timezone

    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import references
    from kesu.cases import services as cases
    from kesu.demo.load import _astronaut
    from kesu.matching.models import Hit
    from kesu.notices.models import Notice
    from kesu.sites.models import Organisation, Role
    from kesu.vault import services as vault

    actor = SystemPrincipal("bench")
    case = cases.create_case(actor, "ncii", consent=["search", "takedown"])
    references.add_file(actor, case, *_astronaut())
    operator = Organisation.objects.create(role=Role.OPERATOR, key="bench-hosting", name="Bench hosting")
    per_host = urls // HOSTS
    # Sent before the sweep's lease: a re-check due "now" is only woken once it is a lease overdue (see report).
    sent_at = timezone.now() - timedelta(hours=1)
    for h in range(HOSTS):
        host = f"h{h:02d}.bench"
        links = [f"http://{host}:{port}/v/{i}" for i in range(h * per_host, (h + 1) * per_host)]
        notice = Notice.objects.create(
            case=case, recipient=operator, role=Role.OPERATOR, channel="email", address=f"abuse@{host}",
            regime="bench", language="en", token=secrets.token_hex(8), deadline_hours=48, created_by="bench",
            urls_sealed=vault.seal_json(case.data_key, links, "notice.urls"), url_count=len(links),
            status=Notice.Status.SENT, sent_at=sent_at,
        )  # fmt: skip
        notice.hits.add(Hit.objects.create(
            case=case, sha256=hashlib.sha256(hit).hexdigest(), media_type="image/jpeg", signal="bench",
            probability=0.99, source_key=vault.blind_index(links[0]),
        ))  # fmt: skip


def recheck_section(dsn: str, env: dict, urls: int, minutes: float, work: Path) -> None:
    from kesu.demo.load import _astronaut
    from kesu.demo.media import filler

    hit = _jpeg(_astronaut()[1])
    server = Hosting(hit, [filler(50_000 + n) for n in range(30)])
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        sent_notices(urls, server.server_address[1], hit)
        rate = int(env.get("KESU_PATROL_RATE_PER_MINUTE", "30"))
        env = {**env, "KESU_PATROL_RECHECK_FIRST_MINUTES": "0"}
        flush_broker()
        pool = Workers(env, RECHECK_QUEUES, 2, work)
        try:
            start = time.monotonic()
            kesu(env, "patrol", "sweep")
            total = lambda: scalar(dsn, "SELECT count(*) FROM patrol_recheck")  # noqa: E731
            left = lambda: scalar(dsn, "SELECT count(*) FROM patrol_recheck WHERE checks < 1")  # noqa: E731
            finished = until(lambda: total() and not left(), minutes * 60, env)
            seconds = time.monotonic() - start
        finally:
            pool.stop()
    finally:
        server.shutdown()
    checked = scalar(dsn, "SELECT count(*) FROM patrol_recheck WHERE checks >= 1")
    per_hour = checked / seconds * 3600
    states = ", ".join(
        f"{s} {n}" for s, n in rows(dsn, "SELECT state, count(*) FROM patrol_recheck GROUP BY 1 ORDER BY 1")
    )
    requests = scalar(dsn, "SELECT coalesce(sum(requests), 0) FROM patrol_hoststate WHERE host LIKE '%.bench'")
    ceiling = HOSTS * rate * 60
    timing = f"{checked} of {total()} in {seconds:.0f} s"
    if not finished:
        timing += f" (stopped after {minutes:g} min; all {total()} would take ~{total() / per_hour * 60:.0f} min)"
    print_table(f"re-checks of {urls} URLs on {HOSTS} hosts, politeness {rate}/min per host, 2 workers", [
        ("re-checks per hour", f"{per_hour:.0f}", f"ceiling {ceiling} requests/h ({HOSTS} x {rate} x 60)"),
        ("requests per hour", f"{requests / seconds * 3600:.0f}", f"{ceiling}"),
        ("checked", timing, "-"),
        ("states", states, "expected 40 % page_gone, 20 % soft_404, 25 % online, 15 % replaced"),
        ("tasks deferred (host busy)", str(pool.deferred()), "-"),
        ("worker logs", pool.troubles(), "-"),
    ])  # fmt: skip


# --- main ------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 pages and 1,000 URLs")
    parser.add_argument("--pages", type=int, help="pages of huge.test per run (default 400)")
    parser.add_argument("--urls", type=int, help="URLs to re-check (default 10,000)")
    parser.add_argument("--minutes", type=float, default=20, help="stop the re-checks after this long")
    parser.add_argument("--skip", choices=["crawl", "rechecks"], help="leave one section out")
    args = parser.parse_args()
    pages = args.pages or (100 if args.quick else 400)  # item pages; the listing is one more
    urls = args.urls or (1000 if args.quick else 10_000)

    work = Path(tempfile.mkdtemp(prefix="kesu-patrol-bench-"))
    dsn = create_database()
    try:
        from kesu.demo.web import DemoWeb

        with DemoWeb(work / "web") as web:
            env = environment(dsn, work / "data", f"{web.host_rules()},*.bench=127.0.0.1")
            kesu(env, "demo")  # the bank the naive loop matches against, as the workers' databases have it
            os.environ.update({k: v for k, v in env.items() if k.startswith("KESU_")})
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
            import django

            django.setup()
            if args.skip != "crawl":
                crawl_section(web, pages, work)
            if args.skip != "rechecks":
                recheck_section(dsn, env, urls, args.minutes, work)
    finally:
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        drop_database(dsn)
        flush_broker()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
