"""Scale-out: the same patrol on PostgreSQL with Redis as the broker and two ``kesu worker`` processes,
one of them killed (SIGKILL, pool and all) while it holds work. Every page, medium and fingerprint is
committed exactly once, the survivor (with the sweep) finishes what the dead one held, and the hits are
the same as the demo's.

Both servers run on 127.0.0.1 (scripts/services). The test makes a PostgreSQL database and uses a
Redis database of its own, and drives everything through the ``kesu`` command, as an operator would.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from test_processes import stop

from kesu.demo.web import DemoWeb

pytestmark = pytest.mark.slow
KESU = str(Path(sys.executable).with_name("kesu"))
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
QUEUES = "celery,capture,fetch,download,fingerprint,match,alert,recheck"


@pytest.fixture
def database():
    name = f"kesu_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker(redis_url):
    return redis_url


def kesu(env, *args, check=True) -> str:
    done = subprocess.run([KESU, *args], env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"kesu {' '.join(args)}: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return done.stdout


def rows(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn.replace("postgres://", "postgresql://")) as db:
        return db.execute(sql).fetchall()


def worker(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [KESU, "worker", "--queues", QUEUES, "--concurrency", "2"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def pool_of(process: subprocess.Popen) -> set[int]:
    """The worker's process and its pool children."""
    found = {process.pid}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("PPid:")), 0)
        if ppid == process.pid:
            found.add(int(status.parent.name))
    return found


ACTIVE = "stage NOT IN ('done', 'failed', 'skipped')"


def unfinished(dsn) -> int:
    return sum(
        rows(dsn, f"SELECT count(*) FROM patrol_{table} WHERE {ACTIVE}")[0][0]
        for table in ("page", "sighting", "fingerprint")
    )


def test_two_workers_one_killed_mid_run_every_item_exactly_once(tmp_path, database, broker):
    with DemoWeb(tmp_path / "web") as web:
        env = {
            **os.environ, "KESU_DATA_DIR": str(tmp_path / "data"), "KESU_DATABASE_URL": database,
            "KESU_BROKER_URL": broker, "KESU_ALLOW_LOOPBACK": "1", "KESU_CAPTURE_HOSTS": web.host_rules(),
            "KESU_PATROL_LEASE_SECONDS": "15", "KESU_PATROL_PRESERVE_HITS": "0", "KESU_CAPTURE_WARM_CONTEXTS": "0",
        }  # fmt: skip
        kesu(env, "demo", "--web-port", str(web.port))
        logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
        doomed, survivor = worker(env, logs[0]), worker(env, logs[1])
        try:
            kesu(env, "patrol", "run")
            held = _kill_while_holding_work(database, doomed)
            deadline = time.monotonic() + 420
            while unfinished(database) and time.monotonic() < deadline:
                kesu(env, "patrol", "sweep")  # what the beat does every minute: wake the dead worker's rows
                time.sleep(5)
            kesu(env, "patrol", "sweep")
        finally:
            for process in (doomed, survivor):
                if process.poll() is None:
                    stop(process)
        output = "\n".join(log.read_text() for log in logs)

    assert unfinished(database) == 0, output[-3000:]
    # every row was committed once per stage it went through, however often it was delivered or taken
    pages = rows(database, "SELECT completions, browser FROM patrol_page WHERE stage = 'done'")
    assert pages and all(completions == 1 + browser for completions, browser in pages)  # fetch, [capture]
    assert rows(database, "SELECT count(*) FROM patrol_fingerprint WHERE completions <> 1")[0][0] == 0
    sightings = rows(
        database,
        "SELECT s.completions, s.new_hits::text, s.stage, p.browser FROM patrol_sighting s "
        "JOIN patrol_page p ON p.id = s.page_id",
    )
    for completions, new_hits, stage, browser in sightings:
        assert stage in ("done", "skipped")
        # [download: the browser brings its media itself], match, [alert when it made a hit]
        assert completions == (not browser) + 1 + (new_hits != "[]"), (completions, new_hits, browser)
    # the dead worker held rows; the survivor took them over after their lease
    retaken = rows(database, f"SELECT count(*) FROM patrol_{held[0]} WHERE id = {held[1]} AND attempts >= 2")
    assert retaken[0][0] == 1
    # the same hits as one process finds: no duplicate, none lost
    hits = rows(database, "SELECT case_id, sha256, source_key FROM matching_hit")
    assert len(set(hits)) == len(hits) >= 6
    assert "Traceback" not in output.split("Warm shutdown")[0]


def _kill_while_holding_work(dsn: str, process: subprocess.Popen) -> tuple[str, int]:
    """SIGKILL the worker and its pool at a moment one of them holds a claim; (table, row id) it held."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        pids = pool_of(process)
        if _held(dsn, pids):
            # Frozen first, then asked again: a worker that committed between our look and the kill would
            # hold nothing any more, and its row would never be taken over (what this test checks).
            os.killpg(process.pid, signal.SIGSTOP)
            time.sleep(0.3)  # a COMMIT already on its way lands
            held = _held(dsn, pids)
            if held:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return held
            os.killpg(process.pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker never held a claim")


def _held(dsn: str, pids: set[int]) -> tuple[str, int] | None:
    """(table, row id) of a row claimed by one of these processes, if any."""
    for table in ("fingerprint", "sighting", "page"):
        for pk, claim in rows(dsn, f"SELECT id, claim FROM patrol_{table} WHERE claim <> ''"):
            if int(claim.split("-")[0]) in pids:
                return table, pk
    return None


def test_a_worker_keeps_its_database_connection_between_tasks(tmp_path, database, broker):
    """Celery's Django fix-up would close the connection around every task, whatever CONN_MAX_AGE says: a new
    PostgreSQL session per task. Kesu's worker keeps a sound one (kesu/celery.py)."""
    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path / "data"), "KESU_DATABASE_URL": database,
           "KESU_BROKER_URL": broker}  # fmt: skip
    kesu(env, "init")
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [KESU, "worker", "--queues", "celery", "--concurrency", "1"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as stats:  # one session of ours, opened before counting
        opened = lambda: stats.execute(f"SELECT sessions FROM pg_stat_database WHERE datname = '{name}'").fetchone()[0]  # noqa: E731
        try:
            deadline = time.monotonic() + 120
            while "ready." not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            before = opened()
            sender = "import django; django.setup()\nfrom kesu.lib import taskqueue\n" + (
                "for _ in range(20): taskqueue.send('kesu.cases.tasks.flag_due_continuations')"
            )
            subprocess.run([sys.executable, "-c", sender], env=env, check=True, timeout=120)
            deadline = time.monotonic() + 120
            while log.read_text().count("succeeded in") < 20 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # PostgreSQL flushes its statistics within a second
            after = opened()
        finally:
            stop(process)
    assert log.read_text().count("succeeded in") == 20, log.read_text()[-2000:]
    assert after - before <= 3, f"{after - before} sessions for 20 tasks"  # the worker's, and the sender's
