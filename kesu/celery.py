"""The Celery application. Tasks live in each app's tasks.py and call services."""

import logging
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")

# Captures run a browser: a queue of their own, so they can go to machines set
# up for it (kesu worker --queues capture) without holding up the rest. Each
# patrol stage has its own queue too, so fetching, fingerprinting (CPU) and
# matching (memory: the bank) can be placed and scaled apart.
PATROL_QUEUES = ("fetch", "download", "fingerprint", "match", "alert", "recheck")
QUEUES = ("celery", "capture", *PATROL_QUEUES)

app = Celery("kesu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["kesu.capture"], related_name="tasks")
app.conf.task_routes = {
    "evidence.*": {"queue": "capture"},
    "patrol.capture": {"queue": "capture"},
    **{f"patrol.{name}": {"queue": name} for name in PATROL_QUEUES},
}
app.conf.beat_schedule = {
    "continuation-due-daily": {
        "task": "kesu.cases.tasks.flag_due_continuations",
        "schedule": crontab(hour=6, minute=0),
    },
    "sites-refresh-daily": {
        "task": "sites.refresh_stale",
        "schedule": crontab(hour=4, minute=15),
    },
    "notices-outbox-every-minute": {"task": "notices.flush_outbox", "schedule": 60.0},
    "notices-replies-every-5-minutes": {"task": "notices.fetch_replies", "schedule": 300.0},
    "notices-follow-up-every-15-minutes": {"task": "notices.follow_up", "schedule": 900.0},
    "notices-continuation-daily": {"task": "notices.continuation_mails", "schedule": crontab(hour=9, minute=0)},
    "cases-shred-references-every-5-minutes": {"task": "cases.shred_due_references", "schedule": 300.0},
    "patrol-tick-every-minute": {"task": "patrol.tick", "schedule": 60.0},
    "exchange-beat-every-5-minutes": {"task": "exchange.beat", "schedule": 300.0},
    "patrol-digest-hourly": {"task": "patrol.digest", "schedule": crontab(minute=5)},
    "audit-verify-daily": {
        "task": "kesu.audit.tasks.verify_chain",
        "schedule": crontab(hour=3, minute=30),
    },
}


@worker_process_init.connect
def _cap_native_threads(**_) -> None:
    """Each pool process caps its native libraries' teams again after the fork (kesu/lib/threads.py) and says
    what is in effect, so a worker's log shows it."""
    from .lib import threads

    threads.cap()
    logging.getLogger("kesu.worker").info("native threads: %s", threads.describe(threads.in_effect()))


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **_) -> None:
    """Around each task, as Django around each request: a connection broken or older than CONN_MAX_AGE is
    closed, a sound one kept for the next task (settings.CELERY_DB_REUSE_MAX keeps Celery from closing it
    every time). Not in eager mode: the task runs inside its caller's transaction."""
    if task is not None and not task.request.is_eager:
        from django.db import close_old_connections

        close_old_connections()
