"""The patrol's stages: each a class with one contract, registered by name, taking one row id.

    page:      fetch (listing -> more pages; item -> media) -> [capture in the browser] -> done
    sighting:  download (light, over HTTP) -> fingerprint (by SHA-256, shared) -> match -> alert -> done

The contract, kept by ``Stage.handle``:

1. **claim**: the row is taken only if it is in this stage, due, and not held by a live claim (claims.py);
   otherwise nothing happens and the answer is NOT_DUE.
2. **run**: the work (the network, the browser, decoding, matching), outside any transaction. It may end
   early by raising the Stop that ``defer`` and ``retry_or_fail`` return: the row is then given back or failed.
3. **commit**: the results, written in one transaction that moves the row on with ``advance``, guarded by the
   claim. When another worker took the row over (ours ran past its lease), ``advance`` raises LostClaim and
   the whole transaction, results included, rolls back.
4. what ``commit`` put in ``ctx.then`` runs once the transaction is committed (evidence captured inline).

Celery only carries ids (tasks.py, one queue per stage, ``patrol.<name>``); ``services.drain`` runs the same
stages in this process, in ORDER. A new stage is a subclass registered with ``@register``, named in ORDER;
``tests/test_patrol_stages.py`` runs every registered stage through the contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import transaction

from ..lib import taskqueue
from . import claims
from .limits import Limits
from .models import Stage as StageName
from .models import Watch

NOT_DUE = "not due or taken"
ORDER = ("fetch", "capture", "download", "fingerprint", "match", "alert", "recheck")
MAX_ATTEMPTS = 4
RETRY_SECONDS = 30
FINAL_STATUSES = (404, 410, 403, 401, 451)  # no use trying again

REGISTRY: dict[str, type[Stage]] = {}
_inline = threading.local()


def register(cls: type[Stage]) -> type[Stage]:
    REGISTRY[cls.name] = cls
    return cls


def handle(name: str, pk: int) -> str:
    """Run stage ``name`` on row pk (LostClaim when another worker took the row over; nothing of ours kept)."""
    return REGISTRY[name]().handle(pk)


def ordered() -> list[type[Stage]]:
    return [REGISTRY[name] for name in ORDER]


# --- queueing -------------------------------------------------------------------------------------------


def enqueue(stage: str, pk: int, countdown: float = 0) -> None:
    """Wake a worker for row pk of stage ``stage`` (its task is ``patrol.<stage>``) after the current
    transaction commits (nothing to do in ``services.drain``)."""
    if getattr(_inline, "active", False):
        return
    taskqueue.after_commit(f"patrol.{stage}", pk, countdown=max(0, countdown))


@contextmanager
def inline():
    """The stages run in this process (``services.drain``): nothing is queued, evidence is captured here."""
    _inline.active = True
    try:
        yield
    finally:
        _inline.active = False


def running_inline() -> bool:
    return getattr(_inline, "active", False)


# --- the contract -----------------------------------------------------------------------------------------


class Stop(Exception):
    """Ends a stage before its commit: the row has been given back (to wait, or to try again) or failed."""


@dataclass
class Context:
    """One claimed row: what ``run`` and ``commit`` work on."""

    row: Any
    token: str
    limits: Limits
    then: list[Callable[[], object]] = field(default_factory=list)  # after the commit
    advanced: bool = False


class Stage:
    """One step of a row through the patrol (see the module docstring for the contract).

    ``name`` is the task's name and, unless ``waits_in`` says otherwise, the row's stage while it waits for
    this one; ``model`` the kind of row; ``related`` what to load with it. Subclasses write ``run`` and
    ``commit``, and ``watch_of`` when the row's watch sets its limits.
    """

    name: ClassVar[str]
    model: ClassVar[type]
    related: ClassVar[tuple[str, ...]] = ()
    waits_in: ClassVar[str] = ""  # the row's stage while due for this one, when it is not ``name``

    @classmethod
    def row_stage(cls) -> str:
        return cls.waits_in or cls.name

    def handle(self, pk: int) -> str:
        ctx = self.claim(pk)
        if ctx is None:
            return NOT_DUE
        try:
            result = self.run(ctx)
        except Stop as stop:
            return str(stop)
        text = self.settle(ctx, result)
        for action in ctx.then:
            action()
        return text

    def claim(self, pk: int) -> Context | None:
        token = claims.claim(self.model, pk, self.row_stage())
        if token is None:
            return None
        row = self.model.objects.select_related(*self.related).get(pk=pk)
        return Context(row, token, Limits.of(self.watch_of(row)))

    def watch_of(self, row) -> Watch | None:
        return None

    def run(self, ctx: Context) -> Any:
        raise NotImplementedError

    def commit(self, ctx: Context, result) -> str:
        """Write the results and ``advance`` the row; called inside the transaction."""
        raise NotImplementedError

    def settle(self, ctx: Context, result) -> str:
        """``commit`` in one transaction; a commit that did not move the row on is a bug, not a state."""
        with transaction.atomic():
            text = self.commit(ctx, result)
            if not ctx.advanced:
                raise RuntimeError(f"stage {self.name}: commit did not advance {self.model.__name__} {ctx.row.pk}")
        return text

    # --- for run and commit ---

    def advance(self, ctx: Context, stage: str, **fields) -> None:
        """Move the row on (inside the commit's transaction); LostClaim when it is no longer ours."""
        claims.advance(self.model, ctx.row.pk, ctx.token, stage, **fields)
        ctx.advanced = True

    def defer(self, ctx: Context, seconds: float, said: str = "deferred", *, attempt: bool = False, **fields) -> Stop:
        """Give the row back to be taken again after ``seconds``; raise what it returns."""
        claims.defer(self.model, ctx.row.pk, ctx.token, seconds, attempt=attempt, **fields)
        enqueue(self.name, ctx.row.pk, seconds)
        return Stop(said)

    def retry_or_fail(self, ctx: Context, error: str, status: int | None = None, said: str = "") -> Stop:
        """Try again later (backing off) while attempts are left and the answer may change; else fail the row.
        Raise what it returns."""
        attempts = ctx.row.attempts
        if attempts < MAX_ATTEMPTS and status not in FINAL_STATUSES:
            wait = RETRY_SECONDS * 2 ** (attempts - 1)
            return self.defer(ctx, wait, said or error, attempt=True, error=error[:300])
        with transaction.atomic():
            self.advance(ctx, StageName.FAILED, error=error[:300], **({"status": status} if status else {}))
        return Stop(said or error)
