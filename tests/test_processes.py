"""The running system: ``kesu run`` (web + worker + scheduler) and workers
on a real broker (the filesystem broker of one machine, and Redis)."""

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from ports import free_port

pytestmark = pytest.mark.slow
KESU = str(Path(sys.executable).with_name("kesu"))


def environment(data_dir, **extra):
    env = {**os.environ, "KESU_DATA_DIR": str(data_dir), **extra}
    env.pop("KESU_DATABASE_URL", None)
    return env


def stop(process: subprocess.Popen, seconds: float = 60):
    """Stops a `kesu worker` as `kesu run` and a service manager stopping its main process do: SIGTERM to the main
    process, which shuts its pool down (the same signal to the whole group at once can leave Celery waiting on a pool
    child it lost); a worker still there after ``seconds`` fails the test, and whatever is left is killed.
    Returns what it wrote to a pipe (None when it writes to a file)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=seconds)[0]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    return None


def fetch(opener, url, data=None):
    try:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        with opener.open(url, data=body, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()
    except OSError:
        return None


def csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_kesu_run_serves_the_demo_and_stops_cleanly(tmp_path):
    port, env = free_port(), environment(tmp_path / "data")
    web_port, smtp_port = free_port(), free_port()
    process = subprocess.Popen(
        [KESU, "run", "--demo", "--port", str(port), "--demo-web-port", str(web_port),
         "--demo-smtp-port", str(smtp_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        login = wait_for(lambda: fetch(opener, f"{base}/accounts/login/"), 300)
        assert login and login[0] == 200
        status, url, _ = fetch(
            opener, f"{base}/accounts/login/",
            {"csrfmiddlewaretoken": csrf(login[2]), "username": "demo", "password": "kesu-demo-desk-2026"},
        )  # fmt: skip
        assert "/accounts/otp/" in url
        code = subprocess.run([KESU, "user", "totp-code", "demo"], env=env, capture_output=True, text=True).stdout
        page = fetch(opener, url)[2]
        status, url, page = fetch(opener, url, {"csrfmiddlewaretoken": csrf(page), "token": code.strip()})
        assert status == 200 and url.rstrip("/") == base
        assert re.search(r"V-[A-Z0-9]{4}-[A-Z0-9]{4}", page)  # the demo case, in the case list
        assert fetch(opener, f"{base}/static/kesu/kesu.css")[0] == 200
        sites = fetch(opener, f"{base}/sites/?q=synthetic")[2]
        assert "(synthetic)" in sites  # the demo's synthetic request history, for predictions
        route = {"csrfmiddlewaretoken": csrf(fetch(opener, f"{base}/sites/route/")[2]), "case_type": "ncii"}
        ladder = fetch(opener, f"{base}/sites/route/", {**route, "url": "https://x.com/a/status/1"})[2]
        assert "X (formerly Twitter)" in ladder and "Google Search" in ladder  # the shipped knowledge base
        # the worker patrols the demo web served beside it, and her pictures turn up in the review queue
        queue = wait_for(lambda: (page := fetch(opener, f"{base}/patrol/hits/")) and "tubeleak.test" in page[2], 300)
        assert queue, fetch(opener, f"{base}/patrol/")[2][-3000:]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "Kesu is running at" in output and "demo logins" in output
    assert "Traceback" not in output


# The beat sends a task by name; a service queues one through kesu.lib.taskqueue, from a process that has
# imported no tasks module (issue 24): the worker must run both.
SENDERS = {
    "beat": "from kesu.celery import app; app.send_task('kesu.cases.tasks.flag_due_continuations')",
    "service": "import django; django.setup()\nfrom kesu.lib import taskqueue\n"
    "taskqueue.send('kesu.cases.tasks.flag_due_continuations')",
}


@pytest.mark.parametrize("sender", sorted(SENDERS))
@pytest.mark.parametrize("broker", ["filesystem", "redis"])
def test_worker_runs_scheduled_task_from_the_broker(tmp_path, broker, sender, request):
    url = request.getfixturevalue("redis_url") if broker == "redis" else ""
    env = environment(tmp_path / "data", KESU_BROKER_URL=url)
    created = subprocess.run(
        [KESU, "case", "create", "--type", "ncii", "--mandate", "2020-01-01", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    case_id = json.loads(created.stdout)["id"]
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    worker = subprocess.Popen(
        [KESU, "worker", "--concurrency", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True, cwd=workdir,
    )  # fmt: skip
    try:
        subprocess.run([sys.executable, "-c", SENDERS[sender]], env=env, check=True, timeout=60)

        def logged():
            tail = subprocess.run([KESU, "audit", "tail", "-n", "5"], env=env, capture_output=True, text=True)
            return "case.continuation_due" in tail.stdout

        assert wait_for(logged, 90), "the worker did not run the task"
    finally:
        stop(worker)
    due = subprocess.run([KESU, "case", "due", "--json"], env=env, capture_output=True, text=True).stdout
    assert json.loads(due.splitlines()[0])["id"] == case_id
    # the broker's files stay under the data directory, never in the directory the worker was started from
    assert list(workdir.iterdir()) == []


def test_a_worker_process_caps_the_native_libraries_threads(tmp_path):
    """Each pool process of ``kesu worker`` caps ONNX Runtime, OpenCV, BLAS and faiss at KESU_WORKER_THREADS and
    says so: with a team per core in every worker, a second worker on two cores added 2 % (bench/patrol_bench.py)."""
    env = environment(tmp_path / "data", KESU_WORKER_THREADS="2", KESU_BROKER_URL="")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [KESU, "worker", "--concurrency", "1"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        line = wait_for(lambda: next((x for x in log.read_text().splitlines() if "native threads:" in x), None), 120)
    finally:
        stop(worker)
    assert line, log.read_text()[-2000:]
    assert line.endswith("native threads: blas 2, openmp 2, opencv 2, faiss 2, onnxruntime 2")
