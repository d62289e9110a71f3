"""Re-checks: every URL a notice asked to remove is looked at again on a schedule until it is gone,
then watched less often for a while in case it comes back.

What a check can see: the page gone (404/410), the media gone from a page that
still answers, an empty page that still answers 200 (soft 404), other content
in its place, a block for our country (451, or a page that says so), the
media still there, or no answer at all. A change of state is recorded with
evidence captured at that moment, and the notice's outcome follows from all
of its URLs (``notices/outcomes.py``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..accounts.principals import SystemPrincipal
from ..audit.services import log_action
from ..lib.errors import UserError
from ..matching import services as matching
from ..matching.calibration import REVIEW_CUT
from ..notices import outcomes
from ..notices.compose import urls_of
from ..notices.models import Notice
from ..vault import services as vault
from . import claims, extract, http, pipeline, politeness, reuploads, stages
from .limits import Limits, watch_for
from .models import Browser, Recheck, Stage

ACTOR = SystemPrincipal("patrol")
State = Recheck.State
MEDIA_TO_CHECK = 12
WAKE_WINDOW = 150  # seconds: the tick runs every minute; a row may be woken twice, never lost


# --- scheduling -------------------------------------------------------------------------------------------


def schedule() -> int:
    """A re-check for every URL of every notice that went out and has none yet; those already due are queued."""
    created, now = [], timezone.now()
    first = timedelta(minutes=settings.KESU_PATROL_RECHECK_FIRST_MINUTES)
    for notice in Notice.objects.filter(sent_at__isnull=False, rechecks__isnull=True).select_related("case__data_key"):
        for url in urls_of(notice):
            try:
                with transaction.atomic():
                    item = Recheck.objects.create(
                        case=notice.case, notice=notice, url_key=vault.blind_index(url),
                        url_sealed=vault.seal_text(notice.case.data_key, url, "recheck.url"),
                        host=urlsplit(url).hostname or "", stage=Stage.FETCH, due_at=notice.sent_at + first,
                    )  # fmt: skip
                created.append(item)
            except IntegrityError:
                continue
    due = [(item.pk, item.host) for item in created if item.due_at <= now]
    for pk in _by_host_in_turn(due):
        stages.enqueue(Check.name, pk)
    return len(created)


def wake_due(now=None) -> int:
    """Queue the re-checks that fell due since the last tick, hosts taken in turn so that the workers are not
    all waiting on one host's politeness while the others are free. Rows missed here are woken by the sweep."""
    now = now or timezone.now()
    due = list(
        claims.claimable(Recheck, Stage.FETCH, now)
        .filter(due_at__gt=now - timedelta(seconds=WAKE_WINDOW))
        .order_by("due_at")
        .values_list("pk", "host")[:20000]
    )
    for pk in _by_host_in_turn(due):
        stages.enqueue(Check.name, pk)
    return len(due)


def _by_host_in_turn(rows: list[tuple[int, str]]) -> list[int]:
    queues: dict[str, list[int]] = {}
    for pk, host in rows:
        queues.setdefault(host, []).append(pk)
    order, lists = [], list(queues.values())
    for index in range(max((len(q) for q in lists), default=0)):
        order.extend(q[index] for q in lists if index < len(q))
    return order


def next_check(item: Recheck, now):
    """Every KESU_PATROL_RECHECK_HOURS while online (daily after two weeks); once gone, daily for
    KESU_PATROL_WATCH_GONE_DAYS in case it comes back; then no more."""
    if item.gone_at is not None:
        if now - item.gone_at > timedelta(days=settings.KESU_PATROL_WATCH_GONE_DAYS):
            return None
        return now + timedelta(days=1)
    hours = settings.KESU_PATROL_RECHECK_HOURS
    if now - item.created_at > timedelta(days=14):
        hours = max(hours, 24)
    return now + timedelta(hours=hours)


# --- one check --------------------------------------------------------------------------------------------


class Busy(Exception):
    """The host has no free slot now; try again after ``wait`` seconds."""

    def __init__(self, wait: float):
        super().__init__(f"host busy for {wait:.1f} s")
        self.wait = wait


@stages.register
class Check(stages.Stage):
    """One look at a requested URL: the page over HTTP (its media fetched and compared with her bank), the
    browser when only it can tell; a change of state is recorded with evidence. Its rows wait in ``fetch``."""

    name = "recheck"
    waits_in = Stage.FETCH
    model = Recheck
    related = ("case__data_key", "notice")

    def watch_of(self, row: Recheck):
        return watch_for(row.host)

    def run(self, ctx: stages.Context) -> tuple[str, tuple]:
        item = ctx.row
        url = vault.open_text(item.case.data_key, item.url_sealed, "recheck.url")
        try:
            seen = _look(item, url, ctx.limits)
        except http.NeedsBrowser:
            seen = None
        except Busy as busy:  # back in the queue for the host's next free slot, not a fixed delay
            raise self.defer(ctx, busy.wait) from None
        if seen is None and ctx.limits.browser != Browser.NEVER:
            seen = _look_in_browser(item, url)
        if seen is None:
            seen = (State.UNREACHABLE, None, "needs the browser, which this host's watch does not allow")
        return url, seen

    def commit(self, ctx: stages.Context, result: tuple[str, tuple]) -> str:
        url, (state, status, detail) = result
        return record(self, ctx, url, state, status, detail)


def _get(item: Recheck, url: str, limits: Limits, limit: int, referer: str = ""):
    host = urlsplit(url).hostname or item.host  # media may come from another host (a CDN)
    response, wait, _ = politeness.get(host, url, limits, limit, referer)
    if response is None:
        raise Busy(wait)
    return response


def _look(item: Recheck, url: str, limits: Limits):
    """(state, HTTP status, detail), or None (only the browser can tell); Busy when the host has no slot."""
    page = _get(item, url, limits, settings.KESU_PATROL_PAGE_MB * 1024 * 1024)
    if page.error and not page.status:
        return State.UNREACHABLE, None, page.error
    if page.status in (404, 410):
        return State.PAGE_GONE, page.status, ""
    if page.status == 451:
        return State.GEO_BLOCKED, 451, ""
    parsed = extract.parse(page.text, url) if page.mime in ("text/html", "application/xhtml+xml", "") else None
    if page.status == 403 and parsed is not None and parsed.says_geo_blocked:
        return State.GEO_BLOCKED, 403, ""
    if page.status != 200:
        return State.UNREACHABLE, page.status, page.error
    if page.mime.startswith(("image/", "video/")):
        return (State.ONLINE if _hers(item, page.body) else State.REPLACED), 200, "direct medium"
    return _judge_page(item, url, parsed, limits)


def _judge_page(item: Recheck, url: str, parsed: extract.Parsed, limits: Limits):
    refs = parsed.media[:MEDIA_TO_CHECK]
    missing = 0
    for ref in refs:
        medium = _get(item, ref.url, limits, settings.KESU_PATROL_MEDIA_MB * 1024 * 1024, referer=url)
        if medium.status in (404, 410):
            missing += 1
        elif medium.status == 200 and medium.body and _hers(item, medium.body):
            return State.ONLINE, 200, f"{ref.source} medium"
    if parsed.needs_browser and limits.browser != Browser.NEVER:
        return None  # a player: only the browser sees its video
    if parsed.says_geo_blocked:
        return State.GEO_BLOCKED, 200, ""
    if not refs or parsed.says_gone:
        return State.SOFT_404, 200, "answers 200 without the media"
    if missing:
        return State.MEDIA_GONE, 200, f"{missing} media answer 404"
    return State.REPLACED, 200, f"{len(refs)} other media"


def _look_in_browser(item: Recheck, url: str):
    from ..capture import services as capture_service

    try:
        captured = capture_service.capture(url)
    except UserError as error:
        return State.UNREACHABLE, None, str(error)
    document = next((e for e in captured.exchanges if e.resource_type == "Document"), None)
    status = document.status if document else None
    if status in (404, 410):
        return State.PAGE_GONE, status, "browser"
    if status == 451:
        return State.GEO_BLOCKED, status, "browser"
    if any(m.body and _hers(item, m.body) for m in captured.media):
        return State.ONLINE, status, "browser"
    if status != 200:
        return State.UNREACHABLE, status, "browser"
    return (State.REPLACED if captured.media else State.SOFT_404), status, "browser"


def _hers(item: Recheck, data: bytes) -> bool:
    """The medium is one of the case's: the very bytes of a hit of the notice, or a match against her bank."""
    sha = hashlib.sha256(data).hexdigest()
    if item.notice.hits.filter(sha256=sha).exists():
        return True
    try:
        result = matching.match(data, case_ids=[item.case_id])
    except UserError:
        return False
    return any(c.probability >= REVIEW_CUT for c in result.candidates)


# --- recording --------------------------------------------------------------------------------------------


def record(stage: Check, ctx: stages.Context, url: str, state: str, status: int | None, detail: str) -> str:
    """Write what was seen (inside the stage's commit); on a change, request evidence and re-derive the
    notice's outcome."""
    item, now = ctx.row, timezone.now()
    bundle = None
    changed = state != item.state
    came_back = changed and state == State.ONLINE and item.gone_at is not None
    fields = {"state": state, "checks": item.checks + 1, "last_checked_at": now}
    if changed:
        bundle = pipeline.request_evidence(url, item.case) if _preserve(state) else None
        entry = {"at": now.isoformat(), "state": state, "status": status, "evidence": str(bundle.pk) if bundle else ""}
        fields |= {"changed_at": now, "history": [*item.history, entry][-100:]}
        if state in Recheck.GONE and item.gone_at is None:
            fields["gone_at"] = now
        if came_back:
            fields["gone_at"] = None
        log_action(ACTOR, "patrol.recheck", item, case_id=item.case_id, state=state, status=status)
    if came_back:
        _came_back(item, url)
    for name, value in fields.items():
        setattr(item, name, value)
    due = next_check(item, now)
    stage.advance(ctx, Stage.FETCH if due else Stage.DONE, **fields)
    if due:  # woken by the scheduler's tick when due (a message held for hours would be re-delivered)
        Recheck.objects.filter(pk=item.pk).update(due_at=due)
    outcome = outcomes.apply_outcome(ACTOR, item.notice)
    if bundle:
        ctx.then.append(lambda: pipeline.preserve_inline([bundle]))
    return f"{state}{f' -> {outcome}' if outcome else ''}"


def _preserve(state: str) -> bool:
    return state != State.UNREACHABLE and settings.KESU_PATROL_PRESERVE_HITS


def _came_back(item: Recheck, url: str) -> None:
    """The copy is back at the very address it was removed from: a re-upload at the same site."""
    original = item.notice.hits.filter(source_key=item.url_key).first()
    if original is not None:
        reuploads.link(original, url)
    log_action(ACTOR, "patrol.came_back", item, case_id=item.case_id)
