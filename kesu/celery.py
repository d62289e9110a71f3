"""The Celery application. Tasks live in each app's tasks.py and call services."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")

app = Celery("kesu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "continuation-due-daily": {
        "task": "kesu.cases.tasks.flag_due_continuations",
        "schedule": crontab(hour=6, minute=0),
    },
    "audit-verify-daily": {
        "task": "kesu.audit.tasks.verify_chain",
        "schedule": crontab(hour=3, minute=30),
    },
}
