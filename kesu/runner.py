"""``kesu run``: the web server, a worker and the scheduler as one unit.

If any of the three stops, the others are stopped too and ``kesu run``
exits non-zero, so a service manager can restart the whole.
"""

import os
import signal
import subprocess
import sys
import time


def _commands(host: str, port: int, web_workers: int, with_worker: bool) -> dict[str, list[str]]:
    from .celery import QUEUES

    py = sys.executable
    commands = {
        "web": [
            py, "-m", "gunicorn", "kesu.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(web_workers), "--threads", "4",
            "--timeout", "120", "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(L)ss',
        ],
    }  # fmt: skip
    if with_worker:
        commands["worker"] = [
            py,
            "-m",
            "celery",
            "-A",
            "kesu",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--queues",
            ",".join(QUEUES),
        ]
        commands["beat"] = [py, "-m", "celery", "-A", "kesu", "beat", "--loglevel", "INFO"]
    return commands


def run(host: str, port: int, web_workers: int = 2, with_worker: bool = True) -> int:
    processes = {
        name: subprocess.Popen(cmd, env=os.environ.copy())
        for name, cmd in _commands(host, port, web_workers, with_worker).items()
    }
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                print(f"kesu: {', '.join(dead)} stopped; stopping the rest", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        for p in processes.values():
            if p.poll() is None:
                p.terminate()
        for p in processes.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0 if stopping else 1
