"""``kesu run``: the web server, a worker and the scheduler as one unit.

If any of the three stops, the others are stopped too and ``kesu run``
exits non-zero, so a service manager can restart the whole.
"""

import os
import signal
import subprocess
import sys
import time


def _commands(
    host: str, port: int, web_workers: int, with_worker: bool, demo_web: tuple[int, int] | None = None
) -> dict[str, list[str]]:
    from .celery import QUEUES

    py = sys.executable
    commands = {
        "web": [
            py, "-m", "gunicorn", "kesu.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(web_workers), "--threads", "4",
            "--timeout", "120", "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(L)ss',
            "--logger-class", "kesu.lib.accesslog.AccessLog",
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
    if demo_web:
        kesu = os.path.join(os.path.dirname(py), "kesu")
        commands["demo-web"] = [kesu, "demo", "web", "--port", str(demo_web[0]), "--smtp-port", str(demo_web[1])]
    return commands


def _environment(demo_web: tuple[int, int] | None) -> dict[str, str]:
    """With the demo web, every process may reach its *.test sites on loopback (and nothing else new),
    and notices go to its SMTP server unless an SMTP server is configured."""
    env = os.environ.copy()
    if demo_web:
        env["KESU_ALLOW_LOOPBACK"] = "1"
        rules = [rule for rule in env.get("KESU_CAPTURE_HOSTS", "").split(",") if rule.strip()]
        env["KESU_CAPTURE_HOSTS"] = ",".join([*rules, "*.test=127.0.0.1"])
        if not env.get("KESU_SMTP_PORT"):
            env["KESU_SMTP_HOST"], env["KESU_SMTP_PORT"] = "127.0.0.1", str(demo_web[1])
    return env


def run(
    host: str, port: int, web_workers: int = 2, with_worker: bool = True, demo_web: tuple[int, int] | None = None
) -> int:
    env = _environment(demo_web)
    processes = {
        name: subprocess.Popen(cmd, env=env)
        for name, cmd in _commands(host, port, web_workers, with_worker, demo_web).items()
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
