"""Patrol at scale on PostgreSQL + Redis with ``kesu worker`` processes, driven by the ``kesu`` command.

1. Crawl: one watch on site.bench whose pages live on 60 hosts (s00.site.bench ... s59.site.bench, pinned to
   127.0.0.1 by KESU_CAPTURE_HOSTS), each a listing linking --pages / 60 item pages that show one to three
   images (kesu.demo.media fillers; one page in 20 also one of her pictures, a face). Everything is
   rendered once before timing and served by ``python -m http.server`` in a process of its own, so the
   web costs the measured workers next to nothing, and with 60 hosts politeness (per host) is not what
   limits the crawl. Worked by 1 and then 2 workers (each ``--concurrency 1``, all patrol queues), each
   on a fresh database with the demo case as the bank. Measured from the run's start to its last row's
   last step (the database's times): item pages per minute, images fingerprinted per second, the 2-vs-1
   ratio beside issue 19's 1.08x, the workers' CPU, and the hits (hers, and among the fillers: false
   positives). Also a naive loop in this process on the same pages (fetch, parse, download each image,
   ``matching.services.match``), one after the other (--skip naive leaves it out).
2. Re-checks: --urls URLs of 50 sent notices, 200 per host h<NN>.bench, served here with a mix of
   404 (40 %), soft 404 (20 %), the notice's hit byte for byte (25 %) and another image (15 %), re-checked
   by 2 workers with the default politeness (KESU_PATROL_RATE_PER_MINUTE per host). Baseline: the
   ceiling politeness allows, hosts x rate x 60 requests per hour. Stops after --minutes and
   extrapolates, saying so.

The bench sweeps (``kesu patrol sweep``, the beat's work) only when nothing moved for SWEEP_SECONDS.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ports import free_port  # noqa: E402  (the tests' ports: below the kernel's ephemeral range)

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


OWN_SESSIONS = [0]  # connections this bench opened, to tell the workers' from its own in pg_stat_database


def rows(dsn: str, sql: str) -> list[tuple]:
    OWN_SESSIONS[0] += 1
    with psycopg.connect(dsn.replace("postgres://", "postgresql://")) as db:
        return db.execute(sql).fetchall()


def sessions(dsn: str) -> int:
    """Sessions opened on the database so far by others than this bench (PostgreSQL 14+)."""
    name = dsn.rsplit("/", 1)[1]
    return scalar(dsn, f"SELECT sessions FROM pg_stat_database WHERE datname = '{name}'") - OWN_SESSIONS[0]


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

    def cpu_seconds(self) -> tuple[float, float]:
        """(seconds on a CPU, seconds runnable but waiting for one) of every thread of the workers and their
        pool processes so far (Linux schedstat): the wait is what a machine loaded by others costs them."""
        groups, ran, waited = {p.pid for p in self.processes}, 0, 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[2]) not in groups:  # each worker leads its group
                    continue
                for task in (stat.parent / "task").iterdir():
                    on_cpu, on_queue = (task / "schedstat").read_text().split()[:2]
                    ran, waited = ran + int(on_cpu), waited + int(on_queue)
            except OSError:
                continue
        return ran / 1e9, waited / 1e9

    def task_seconds(self) -> dict[str, float]:
        """Seconds spent inside tasks, by task name, from the workers' "succeeded in" lines."""
        import re

        out: dict[str, float] = {}
        for log in self.logs:
            for name, seconds in re.findall(r"Task ([\w.]+)\[[^]]+\] succeeded in ([\d.]+)s", log.read_text()):
                out[name] = out.get(name, 0.0) + float(seconds)
        return out

    def deferred(self) -> int:
        """Tasks that found their host busy and went back to the queue."""
        return sum(log.read_text().count(": 'deferred'") for log in self.logs)

    def troubles(self) -> str:
        """Tracebacks and errors in the logs (before the shutdown), counted."""
        text = "\n".join(log.read_text().split("Warm shutdown")[0] for log in self.logs)
        errors = [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]
        return f"{len(errors)} error line(s)" + (f", first: {errors[0][:200]}" if errors else "")


def until(done, seconds: float, env: dict, progress) -> tuple[bool, int]:
    """Poll ``done`` every second; (False when time ran out, sweeps made). Sweeps as the beat would, to wake
    lost work, but only when ``progress()`` stood still for SWEEP_SECONDS: each sweep is a ``kesu`` process
    whose start-up (seconds of CPU) would otherwise be measured as the workers'."""
    deadline, sweeps = time.monotonic() + seconds, 0
    last, moved = None, time.monotonic()
    while not done():
        now = time.monotonic()
        if now > deadline:
            return False, sweeps
        if (current := progress()) != last:
            last, moved = current, now
        elif now - moved > SWEEP_SECONDS:
            kesu(env, "patrol", "sweep")
            sweeps, moved = sweeps + 1, time.monotonic()
        time.sleep(1)
    return True, sweeps


def print_table(title: str, lines: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}", flush=True)
    width = max(len(line[0]) for line in lines)
    fig = max(len(line[1]) for line in lines)
    print(f"  {'configuration'.ljust(width)} | {'figure'.ljust(fig)} | baseline")
    for name, figure, baseline in lines:
        print(f"  {name.ljust(width)} | {figure.ljust(fig)} | {baseline}", flush=True)


# --- 1. crawl --------------------------------------------------------------------------------------------

SITE = "site.bench"  # one watched site whose pages live on CRAWL_HOSTS hosts, each with its own politeness
CRAWL_HOSTS = 60
PLANTED_EVERY = 20  # one item page in 20 shows one of her pictures (a face) among its fillers


class StaticWeb:
    """The crawl's web, rendered once before anything is timed and served by ``python -m http.server`` in a
    process of its own: host sNN.site.bench has a listing /sNN/ linking its item pages /sNN/i/K.html, each
    showing one to three images (fillers; every PLANTED_EVERY-th page also one of her pictures, re-saved
    at its own size and quality, so faces are found and embedded as on a real site).
    A path names its host, so one directory serves every host name the host rules map to 127.0.0.1."""

    def __init__(self, directory: Path, items: int):
        self.directory, self.per_host = directory, max(1, -(-items // CRAWL_HOSTS))
        self.items, self.images, self.planted = self.per_host * CRAWL_HOSTS, 0, set()
        self._render()
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port)

    def _render(self) -> None:
        from kesu.demo.media import filler

        faces = _her_pictures()
        for h in range(CRAWL_HOSTS):
            root = self.directory / f"s{h:02d}"
            (root / "i").mkdir(parents=True)
            (root / "img").mkdir()
            links = "".join(f'<li><a href="/s{h:02d}/i/{k}.html">Item {k}</a></li>' for k in range(self.per_host))
            (root / "index.html").write_text(_html(f"Host {h:02d}: latest", f'<ul class="items">{links}</ul>'))
            for k in range(self.per_host):
                n = h * self.per_host + k
                pictures = [filler(30_000 + n * 3 + j) for j in range(1 + (n % 3 == 0) + (n % 7 == 0))]
                if n % PLANTED_EVERY == PLANTED_EVERY // 2:
                    pictures.insert(0, faces(n // PLANTED_EVERY))
                    self.planted.add(hashlib.sha256(pictures[0]).hexdigest())
                tags = ""
                for j, data in enumerate(pictures):
                    (root / "img" / f"{k}-{j}.jpg").write_bytes(data)
                    tags += f'<figure><img src="/s{h:02d}/img/{k}-{j}.jpg" alt=""></figure>'
                self.images += len(pictures)
                body = f'<h2>Item {k}</h2><p>Uploaded by user{n}.</p>{tags}<p><a href="/s{h:02d}/">Back</a></p>'
                (root / "i" / f"{k}.html").write_text(_html(f"Item {k}", body))

    def seeds(self) -> list[str]:
        return [f"http://s{h:02d}.{SITE}:{self.port}/s{h:02d}/" for h in range(CRAWL_HOSTS)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _html(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head><body>"
            f"<nav><a href=\"/\">Home</a></nav><main>{body}</main></body></html>")  # fmt: skip


def _her_pictures():
    """n -> one of the demo case's photos with a face, scaled and re-saved differently for each n < 30."""
    from io import BytesIO

    from PIL import Image

    from kesu.demo.load import _astronaut, _grace_hopper

    photos = [Image.open(BytesIO(loader()[1])).convert("RGB") for loader in (_astronaut, _grace_hopper)]

    def picture(n: int) -> bytes:
        photo, scale = photos[n % 2], 0.5 + (n // 2 % 5) * 0.08
        out = BytesIO()
        photo.resize((round(photo.width * scale), round(photo.height * scale))).save(
            out, "JPEG", quality=70 + n // 10 % 3 * 5
        )
        return out.getvalue()

    return picture


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the bench web did not start on port {port}")


def unfinished(dsn: str) -> int:
    return sum(
        scalar(dsn, f"SELECT count(*) FROM patrol_{t} WHERE {ACTIVE}") for t in ("page", "sighting", "fingerprint")
    )


def servers_cpu() -> tuple[float, float]:
    """(CPU seconds of PostgreSQL's and Redis's processes so far, CPU seconds the whole machine was busy)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].rsplit(")", 1)[0] in ("postgres", "redis-server"):
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    busy = sum(int(v) for i, v in enumerate(Path("/proc/stat").read_text().split()[1:9]) if i not in (3, 4))
    return total / tick, busy / tick


def crawl_window(dsn: str) -> float:
    """Seconds from the run's start to the last row's last step, as the database recorded them."""
    last = " UNION ALL ".join(f"SELECT max(due_at) AS at FROM patrol_{t}" for t in ("page", "sighting", "fingerprint"))
    return float(scalar(dsn, f"SELECT extract(epoch FROM (SELECT max(at) FROM ({last}) s) - "
                             "(SELECT min(started_at) FROM patrol_run))"))  # fmt: skip


def crawl(web: StaticWeb, workers: int, work: Path) -> dict:
    """One patrol run of the site's CRAWL_HOSTS hosts on a fresh database with ``workers`` workers."""
    dsn, data = create_database(), work / f"crawl-{workers}"
    data.mkdir()
    flush_broker()
    env = environment(dsn, data, "*.bench=127.0.0.1")
    try:
        kesu(env, "demo")
        seeds = [arg for url in web.seeds() for arg in ("--seed", url)]
        kesu(env, "patrol", "watch", SITE, *seeds, "--item-pattern", r"/i/\d+\.html$", "--depth", "0",
             "--pages", str(web.items + CRAWL_HOSTS), "--links", str(web.per_host), "--rate", "60000",
             "--concurrency", "8", "--browser", "never", "--every", "100000")  # fmt: skip
        hits_before = scalar(dsn, "SELECT count(*) FROM matching_hit")
        pool = Workers(env, ALL_QUEUES, workers, data)
        try:
            cpu, opened, servers = pool.cpu_seconds(), sessions(dsn), servers_cpu()
            kesu(env, "patrol", "run", SITE)
            progress = lambda: scalar(dsn, "SELECT count(*) FROM patrol_fingerprint WHERE stage = 'done'")  # noqa: E731
            finished, sweeps = until(
                lambda: scalar(dsn, "SELECT count(*) FROM patrol_page") and not unfinished(dsn), 1800, env, progress
            )
            cpu = [after - before for after, before in zip(pool.cpu_seconds(), cpu, strict=True)]
            servers = [after - before for after, before in zip(servers_cpu(), servers, strict=True)]
            time.sleep(1)  # PostgreSQL's statistics are flushed within a second
            opened = sessions(dsn) - opened
        finally:
            pool.stop()
        shas = ", ".join(f"'{sha}'" for sha in web.planted) or "''"
        return {
            "seconds": crawl_window(dsn), "finished": finished, "troubles": pool.troubles(), "cpu": cpu,
            "items": scalar(dsn, "SELECT count(*) FROM patrol_page WHERE kind = 'item' AND stage = 'done'"),
            "pages_failed": scalar(dsn, "SELECT count(*) FROM patrol_page WHERE stage = 'failed'"),
            "fingerprints": scalar(dsn, "SELECT count(*) FROM patrol_fingerprint WHERE stage = 'done'"),
            "fp_failed": scalar(dsn, "SELECT count(*) FROM patrol_fingerprint WHERE stage = 'failed'"),
            "hits": scalar(dsn, f"SELECT count(DISTINCT sha256) FROM matching_hit WHERE sha256 IN ({shas})"),
            "false": scalar(dsn, f"SELECT count(*) FROM matching_hit WHERE sha256 NOT IN ({shas})") - hits_before,
            "stuck": unfinished(dsn), "sweeps": sweeps, "tasks": pool.task_seconds(),
            "opened": opened, "servers": servers,
        }  # fmt: skip
    finally:
        drop_database(dsn)
        flush_broker()


def naive_crawl(web: StaticWeb) -> dict:
    """The baseline: every page, image and match one after the other in this process."""
    import re

    from django.conf import settings

    from kesu.capture.policy import policy_from_settings
    from kesu.lib.errors import UserError
    from kesu.matching import services as matching
    from kesu.patrol import extract, http

    policy, limit, seconds = policy_from_settings(), 200 * 1024 * 1024, settings.KESU_PATROL_FETCH_SECONDS
    start = time.monotonic()
    items = images = hits = 0
    for seed in web.seeds():
        listing = extract.parse(http.get(seed, policy, limit=limit, seconds=seconds).text, seed)
        for url in [link.url for link in listing.links if re.search(r"/i/\d+\.html$", link.url)]:
            page = extract.parse(http.get(url, policy, limit=limit, seconds=seconds).text, url)
            items += 1
            for ref in page.media:
                data = http.get(ref.url, policy, limit=limit, seconds=seconds).body
                images += 1
                try:
                    result = matching.match(data)
                except UserError:
                    continue
                hits += any(c.probability >= 0.5 for c in result.candidates)
    return {"seconds": time.monotonic() - start, "items": items, "fingerprints": images, "hits": hits}


def crawl_section(items: int, work: Path, naive: bool) -> None:
    web = StaticWeb(work / "static-web", items)
    try:
        base = naive_crawl(web) if naive else None
        results = {n: crawl(web, n, work) for n in (1, 2)}
    finally:
        web.stop()
    planted = len(web.planted)
    lines = []
    if base:
        rate, fps = base["items"] / base["seconds"] * 60, base["fingerprints"] / base["seconds"]
        lines.append(("naive loop, 1 process", f"{rate:.0f} pages/min, {fps:.2f} images/s, {base['hits']} hits",
                      f"{base['items']} pages, {base['fingerprints']} images in {base['seconds']:.0f} s"))  # fmt: skip
    per = {n: (r["items"] / r["seconds"] * 60, r["fingerprints"] / r["seconds"]) for n, r in results.items()}
    lines += [
        ("pages/minute, 1 | 2 workers", f"{per[1][0]:.0f} | {per[2][0]:.0f}", "93 | 101 (issue 19, huge.test)"),
        ("images fingerprinted/s, 1 | 2 workers", f"{per[1][1]:.2f} | {per[2][1]:.2f}", "~1.5 (issue 19)"),
        ("2 workers vs 1 (pages/minute)", f"{per[2][0] / per[1][0]:.2f}x", "1.08x (issue 19); target >= 1.7x"),
        ("2 workers vs 1 (images/s)", f"{per[2][1] / per[1][1]:.2f}x", "-"),
        (
            "workers' CPU for the same pages, 2 workers vs 1",
            f"{results[2]['cpu'][0] / results[1]['cpu'][0]:.2f}x",
            "1.00x when a second worker costs no CPU of its own; the wall-clock ratio needs 2 free cores",
        ),
    ]
    for n, r in results.items():
        lines += [
            (f"{n} worker(s): run",
             f"{r['items']} pages, {r['fingerprints']} images in {r['seconds']:.1f} s"
             + ("" if r["finished"] else " (TIMED OUT)"), f"{web.items} pages, {web.images} images"),
            (f"{n} worker(s): CPU of the workers",
             f"{r['cpu'][0]:.0f} s, {r['cpu'][0] / r['seconds'] / n:.0%} of {n} core(s); "
             f"waited {r['cpu'][1]:.0f} s for a CPU", "-"),
            (f"{n} worker(s): CPU of PostgreSQL + Redis | whole machine (all users)",
             f"{r['servers'][0]:.0f} s | {r['servers'][1]:.0f} s of {(os.cpu_count() or 1) * r['seconds']:.0f}", "-"),
            (f"{n} worker(s): busy (time in tasks / run)",
             f"{sum(r['tasks'].values()) / r['seconds'] / n:.0%}", "100 % when no worker waits for work"),
            (f"{n} worker(s): seconds in tasks", ", ".join(f"{k.removeprefix('patrol.')} {v:.0f}"
             for k, v in sorted(r["tasks"].items(), key=lambda kv: -kv[1])), "-"),
            (f"{n} worker(s): database sessions opened (workers, kesu patrol run, sweeps)", str(r["opened"]),
             f"{n} a worker if it keeps its connection (CONN_MAX_AGE)"),
            (f"{n} worker(s): hits (hers | among fillers)", f"{r['hits']} | {r['false']}", f"{planted} | 0"),
            (f"{n} worker(s): failed / stuck",
             f"pages {r['pages_failed']}, images {r['fp_failed']}, unfinished {r['stuck']}", "0"),
            (f"{n} worker(s): sweeps (stalls) / worker logs", f"{r['sweeps']} / {r['troubles']}", "-"),
        ]  # fmt: skip
    print_table(f"crawl of {CRAWL_HOSTS} hosts x {web.per_host} item pages (pre-rendered, served apart)", lines)


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
            finished, _ = until(lambda: total() and not left(), minutes * 60, env, lambda: total() - left())
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
    parser.add_argument("--quick", action="store_true", help="180 item pages (3 a host), 1,000 URLs")
    parser.add_argument("--pages", type=int, help=f"item pages per run over the {CRAWL_HOSTS} hosts (default 480)")
    parser.add_argument("--urls", type=int, help="URLs to re-check (default 10,000)")
    parser.add_argument("--minutes", type=float, default=20, help="stop the re-checks after this long")
    parser.add_argument("--skip", action="append", default=[], choices=["crawl", "naive", "rechecks"],
                        help="leave a section out (naive: the crawl's one-process loop); repeat for more")  # fmt: skip
    args = parser.parse_args()
    pages = args.pages or (180 if args.quick else 480)
    urls = args.urls or (1000 if args.quick else 10_000)

    work = Path(tempfile.mkdtemp(prefix="kesu-patrol-bench-"))
    dsn = create_database()
    try:
        env = environment(dsn, work / "data", "*.bench=127.0.0.1")
        kesu(env, "demo")  # the bank the naive loop matches against, as the workers' databases have it
        os.environ.update({k: v for k, v in env.items() if k.startswith("KESU_")})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
        import django

        django.setup()
        if "crawl" not in args.skip:
            crawl_section(pages, work, naive="naive" not in args.skip)
        if "rechecks" not in args.skip:
            recheck_section(dsn, env, urls, args.minutes, work)
    finally:
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        drop_database(dsn)
        flush_broker()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
