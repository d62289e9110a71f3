"""Queueing a Celery task by its name, so that no service imports a tasks module.

Tasks call services; a service that must wake a worker names the task instead of importing it (the tasks
module imports the service, so importing it back would close a circle). The task is looked up in the
Celery app's registry and sent with ``apply_async``, not ``send_task``: that way eager mode
(KESU_TASKS_EAGER) still runs it in this process, the app's routes still choose its queue, and a name
no task answers to fails here rather than on a worker that drops the message.
"""

from django.db import transaction

from ..celery import app


def task(name: str):
    """The registered task called name (celery.exceptions.NotRegistered, a KeyError, if none is)."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # a web or CLI process imports the apps' tasks.py on first need
    return app.tasks[name]


def send(name: str, *args, countdown: float | None = None) -> None:
    task(name).apply_async(args, countdown=countdown)


def after_commit(name: str, *args, countdown: float | None = None) -> None:
    """Send once the current transaction commits (at once outside one): the worker must find the rows."""
    transaction.on_commit(lambda: send(name, *args, countdown=countdown))
