"""Celery tasks of the patrol: one per stage, each on a queue of its own, each taking a row id.

A task is only a wake-up call: the row holds the state, the claim makes a
duplicate delivery harmless, and the beat's sweep re-sends what was lost.
Stage tasks dispatch by name through the registry of stages.py.
"""

from celery import shared_task

from . import alerts, rechecks, services, stages  # noqa: F401 - alerts and rechecks register their stages
from .claims import LostClaim


def _stage(name: str):
    def run(pk: int) -> str:
        try:
            return stages.handle(name, pk)
        except LostClaim:  # our lease ran out and another worker finished the row: nothing of ours was kept
            return "lost the claim"

    run.__name__ = run.__qualname__ = name
    return shared_task(name=f"patrol.{name}", acks_late=True)(run)


fetch = _stage("fetch")
capture = _stage("capture")
download = _stage("download")
fingerprint = _stage("fingerprint")
match = _stage("match")
alert = _stage("alert")
recheck = _stage("recheck")


@shared_task(name="patrol.tick")
def tick() -> dict:
    """Every minute: due watches start, sent notices get their re-checks, lost work is woken, runs finish."""
    return services.tick()


@shared_task(name="patrol.digest")
def digest() -> int:
    return services.digest()
