"""The patrol as the desk runs it: watches, the scheduler's tick, finished runs and their reports, the digest.

- ``save_watch``: a site's watch list (seeds, searches, patterns, limits, politeness), checked;
- ``tick``: what the beat does every minute: start due runs, schedule re-checks, follow replies, sweep;
- ``sweep``: wake rows whose message was lost or whose worker died;
- ``finish_runs``: close runs with nothing left and write what happened;
- ``drain``: work every due row in this process, without workers (the command line, the demo, tests);
- ``runs_for``, ``hosts_for``: what each person may see of the patrol (need to know);
- ``digest``: one e-mail per staff member with counts of new hits in her cases; never media, never URLs.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from ..audit.services import current_anchor, log_action
from ..cases.services import visible_cases
from ..lib.errors import UserError
from ..matching.calibration import PINK
from ..matching.models import Hit
from ..sites.domains import registrable
from ..sites.models import Site
from . import alerts, claims, discovery, forgetting, rechecks, stages  # noqa: F401 - alerts registers the last stage
from .claims import LostClaim
from .models import Browser, Fingerprint, HostState, Page, Recheck, Run, Sighting, Stage, Watch

ACTIVE = {
    Page: (Stage.FETCH, Stage.CAPTURE),
    Sighting: (Stage.DOWNLOAD, Stage.FINGERPRINT, Stage.MATCH, Stage.ALERT),
    Fingerprint: (Stage.FINGERPRINT,),
}


# --- watches ----------------------------------------------------------------------------------------------


def save_watch(actor, domain: str, *, watch: Watch | None = None, **values) -> Watch:
    """Create or change a site's watch; every URL and pattern is checked first (UserError names the fault)."""
    from ..capture.policy import check_url

    domain = registrable(domain)
    for url in values.get("seeds", []):
        check_url(url)
    for template in values.get("searches", []):
        if "{query}" not in template:
            raise UserError(f"search template without {{query}}: {template[:120]!r}")
        check_url(template.replace("{query}", "q"))
    for name in ("item_pattern", "listing_pattern"):
        try:
            re.compile(values.get(name) or "")
        except re.error as error:
            raise UserError(f"{name.replace('_', ' ')} is not a regular expression: {error}") from None
    if values.get("browser", Browser.AUTO) not in Browser.values:
        raise UserError(f"browser must be one of {', '.join(Browser.values)}")
    site, _ = Site.objects.get_or_create(domain=domain)
    watch = watch or Watch(site=site)
    watch.site = site
    for name, value in values.items():
        setattr(watch, name, value)
    watch.name = watch.name or site.domain
    watch.next_run_at = watch.next_run_at or timezone.now()
    watch.save()
    log_action(actor, "patrol.watch", watch, site=site.domain)
    return watch


def start(watch: Watch, *, searches: bool = True) -> list[Run]:
    """One pass of a watch now: its listings, and its searches for every case she allowed us to search for."""
    runs = [discovery.Listings.start(watch)] if watch.seeds else []
    if searches:
        for case in discovery.searchable_cases():
            run = discovery.Searches.start(watch, case)
            if run:
                runs.append(run)
    Watch.objects.filter(pk=watch.pk).update(next_run_at=timezone.now() + timedelta(minutes=watch.every_minutes))
    return runs


# --- the scheduler's tick ---------------------------------------------------------------------------------


def tick() -> dict:
    """What the beat does every minute; each part is idempotent."""
    now = timezone.now()
    started = 0
    for watch in Watch.objects.filter(enabled=True).filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)):
        started += len(start(watch))
    return {
        "runs": started,
        "rechecks": rechecks.schedule(),
        "rechecks_due": rechecks.wake_due(),
        "from_replies": discovery.from_replies(),
        "woken": sweep(),
        "finished": finish_runs(),
        "forgotten": forgetting.forget_media(),
        "disowned": forgetting.forget_disowned(),
    }


def sweep() -> int:
    """Rows that should be moving but nobody is on: a lost message, a dead worker's expired claim.
    Each is woken and its clock reset, so a long queue is not flooded with copies; waking twice is harmless."""
    now = timezone.now()
    woken = _unblock_waiting()
    for model, names in {**ACTIVE, Recheck: (Stage.FETCH,)}.items():
        for stage in names:
            if model is Sighting and stage == Stage.FINGERPRINT:
                continue  # waits for its fingerprint, which is swept itself
            stale = list(claims.claimable(model, stage, now).filter(due_at__lte=now - claims.lease()).values_list(
                "pk", flat=True)[:1000])  # fmt: skip
            model.objects.filter(pk__in=stale).update(due_at=now)
            for pk in stale:
                stages.enqueue(rechecks.Check.name if model is Recheck else stage, pk)
            woken += len(stale)
    return woken


def _unblock_waiting() -> int:
    """Sightings left waiting on a fingerprint that finished in the same instant."""
    ids = list(
        Sighting.objects.filter(stage=Stage.FINGERPRINT, fingerprint__stage__in=(Stage.DONE, Stage.FAILED)).values_list(
            "pk", flat=True
        )[:1000]
    )
    Sighting.objects.filter(pk__in=ids, stage=Stage.FINGERPRINT).update(stage=Stage.MATCH)
    for pk in ids:
        stages.enqueue(Stage.MATCH, pk)
    return len(ids)


def finish_runs() -> int:
    finished = 0
    for run in Run.objects.filter(status=Run.Status.RUNNING).select_related("watch"):
        busy = (
            Page.objects.filter(run=run, stage__in=ACTIVE[Page]).exists()
            or Sighting.objects.filter(page__run=run, stage__in=ACTIVE[Sighting]).exists()
        )
        if busy:
            continue
        with transaction.atomic():
            finished += _finish(run)
    return finished


def _finish(run: Run) -> int:
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != Run.Status.RUNNING:
        return 0
    pages = Page.objects.filter(run=run)
    counts = dict(pages.values_list("stage").annotate(n=Count("pk")).values_list("stage", "n"))
    items = pages.filter(kind=Page.Kind.ITEM).count()
    notes = list(run.notes)
    failed = pages.filter(stage=Stage.FAILED).values_list("error", flat=True)
    for error, n in _tally(failed):
        notes.append(f"{n} page(s) failed: {error}")
    watch = run.watch
    if run.source == Run.Source.LISTING and watch is not None:
        if watch.last_items and not items:
            notes.append(
                f"no item pages found on {watch.site.domain} (the last run found {watch.last_items}): "
                "the site may have changed its layout; check the watch's patterns"
            )
        Watch.objects.filter(pk=watch.pk).update(last_items=items)
    limited = any("limit" in text for text in notes) or counts.get(Stage.SKIPPED)
    run.status = Run.Status.LIMITED if limited else Run.Status.DONE
    run.finished_at = timezone.now()
    run.notes = notes[:200]
    run.save(update_fields=["status", "finished_at", "notes"])
    log_action(None, "patrol.run", run, case_id=run.case_id, pages=pages.count(), hits=run.hits, status=run.status)
    return 1


def _tally(errors) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for error in errors:
        counts[error or "unknown"] = counts.get(error or "unknown", 0) + 1
    return sorted(counts.items(), key=lambda pair: -pair[1])[:10]


def report(run: Run) -> dict:
    """What happened in a run; its hits as the reader may see them when it came from ``runs_for``."""
    pages = Page.objects.filter(run=run)
    return {
        "id": run.pk,
        "source": run.source,
        "watch": run.watch.name if run.watch else None,
        "case": run.case_id,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "pages": dict(pages.values_list("stage").annotate(n=Count("pk")).values_list("stage", "n")),
        "items": pages.filter(kind=Page.Kind.ITEM).count(),
        "media": Sighting.objects.filter(page__run=run).count(),
        "hits": getattr(run, "seen_hits", run.hits),
        "notes": run.notes,
    }


# --- what each person may see of the patrol ------------------------------------------------------------------
# Staff see the runs of their cases and the sites' listings (no one's case), the hosts those runs reached, and
# of every run only the hits in their cases: a run of her case, or a listing, also finds other cases' copies.


def visible_runs(user):
    runs = Run.objects.all()
    if not getattr(user, "sees_all_cases", False):
        runs = runs.filter(Q(case__isnull=True) | Q(case__in=visible_cases(user)))
    return runs


def runs_for(user, limit: int) -> list[Run]:
    """The newest runs this user may see, each with its pages counted by stage (counted for these runs only, after
    they are chosen: counting every run's pages first took ~150 ms with 3,000 runs) and ``seen_hits``, the new
    hits it made that this user may see."""
    runs = list(visible_runs(user).select_related("watch", "case__victim").order_by("-started_at", "-pk")[:limit])
    counts: dict[int, dict[str, int]] = {}
    stages = Page.objects.filter(run__in=runs).values_list("run_id", "stage").annotate(n=Count("pk")).order_by()
    for run_id, stage, n in stages:
        counts.setdefault(run_id, {})[stage] = n
    seen = None if getattr(user, "sees_all_cases", False) else _hits_seen(user, runs)
    for run in runs:
        by_stage = counts.get(run.pk, {})
        run.done, run.failed, run.skipped = (by_stage.get(s, 0) for s in (Stage.DONE, Stage.FAILED, Stage.SKIPPED))
        run.total, run.settled = sum(by_stage.values()), run.done + run.failed + run.skipped
        run.seen_hits = run.hits if seen is None else seen.get(run.pk, 0)
    return runs


def _hits_seen(user, runs: list[Run]) -> dict[int, int]:
    """Per run: its new hits (``Run.hits`` counts them for every case) in the cases this user may see."""
    made: dict[int, set[int]] = {}
    sightings = Sighting.objects.filter(page__run__in=runs, hits__isnull=False).distinct()
    for run_id, new_hits in sightings.values_list("page__run_id", "new_hits"):
        made.setdefault(run_id, set()).update(new_hits)
    ids = set().union(*made.values()) if made else set()
    hers = set(Hit.objects.filter(pk__in=ids, case__in=visible_cases(user)).values_list("pk", flat=True))
    return {run_id: len(found & hers) for run_id, found in made.items()}


def hosts_for(user, limit: int):
    """Politeness per host, refusing hosts first. Staff see only the hosts their runs (and the re-checks of their
    cases) reached: a host another case's submitted URL or search led to is that case's business."""
    hosts = HostState.objects.all()
    if getattr(user, "sees_all_cases", False):
        return hosts.order_by("-refusals", "-requests", "host")[:limit]
    runs = visible_runs(user)
    reached = (
        Exists(Page.objects.filter(host=OuterRef("host"), run__in=runs))
        | Exists(Sighting.objects.filter(host=OuterRef("host"), page__run__in=runs))
        | Exists(Recheck.objects.filter(host=OuterRef("host"), case__in=visible_cases(user)))
    )
    return hosts.filter(reached).order_by("-refusals", "host")[:limit]


# --- the digest to staff ----------------------------------------------------------------------------------


def digest(now=None) -> int:
    """Per staff member with an e-mail address: how many new hits (and how many pink) in each of her cases since
    her last digest. Only counts and case codes: the images and where they are stay in Kesu."""
    from ..accounts.models import User
    from ..notices import outbox
    from ..notices.models import OutboxMessage
    from .models import DigestMark

    now = now or timezone.now()
    sent, anchor = 0, None
    for user in User.objects.filter(is_active=True).exclude(email=""):
        mark, _ = DigestMark.objects.get_or_create(user=user)
        hits = Hit.objects.filter(case__assignees=user, status=Hit.Status.NEW, pk__gt=mark.last_hit_id)
        rows = list(
            hits.values("case_id", "case__victim__code")
            .annotate(n=Count("pk"), pink=Count("pk", filter=Q(probability__gte=PINK)))
            .order_by("case_id")
        )
        if not rows:
            continue
        top = hits.order_by("-pk").values_list("pk", flat=True).first()
        anchor = anchor or current_anchor()
        message = _digest_message(user, rows, now, anchor)
        outbox.queue(key=f"digest:{user.pk}:{top}", kind=OutboxMessage.Kind.DIGEST, case=None, to=user.email,
                     data=message.as_bytes(), message_id=message["Message-ID"].strip("<>"))  # fmt: skip
        DigestMark.objects.filter(pk=mark.pk).update(last_hit_id=top, sent_at=now)
        sent += 1
    return sent


def _digest_message(user, rows: list[dict], now, anchor) -> EmailMessage:
    total = sum(r["n"] for r in rows)
    pink = sum(r["pink"] for r in rows)
    lines = [f"{total} new hit(s) to review, {pink} of them with probability {round(PINK * 100)} % or more.", ""]
    lines += [f"  {r['case__victim__code']}: {r['n']} new, {r['pink']} pink" for r in rows]
    lines += ["", f"Review them in Kesu: {settings.KESU_BASE_URL.rstrip('/')}/patrol/hits/", "",
              "This message never contains images or the addresses where they were found."]  # fmt: skip
    if anchor is not None:  # a copy of the audit log's head outside Kesu: a log cut back later fails to verify
        lines += ["", "Audit log anchor (kesu audit verify --anchor):", f"  {anchor.token}"]
    message = EmailMessage()
    message["From"] = settings.DEFAULT_FROM_EMAIL
    message["To"] = user.email
    message["Subject"] = f"[Kesu] {total} new hit(s) to review"
    message["Date"] = formatdate(now.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "kesu.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(lines))
    return message


# --- running in this process ----------------------------------------------------------------------------


def drain(seconds: float = 600, rechecks: bool = True) -> dict:
    """Work every due row in this process until nothing is left (or the time is up); counts per stage."""
    order = [
        (stage.model, stage.row_stage(), stage().handle)
        for stage in stages.ordered()
        if rechecks or stage.model is not Recheck
    ]
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    with stages.inline():
        while time.monotonic() < deadline:
            worked = False
            for model, stage, function in order:
                ids = list(claims.claimable(model, stage).order_by("pk").values_list("pk", flat=True)[:50])
                for pk in ids:
                    try:
                        function(pk)
                    except LostClaim:
                        continue
                    counts[f"{model.__name__.lower()}.{stage}"] = counts.get(f"{model.__name__.lower()}.{stage}", 0) + 1
                    worked = True
            if not worked:
                if not _waiting(order):
                    break
                time.sleep(0.2)
    finish_runs()
    return counts


def _waiting(order) -> bool:
    """Pages and media still on their way (a politeness wait, a retry) are waited for, however long, within
    the deadline; re-checks only when due within a minute (the next ones are hours away)."""
    soon = timezone.now() + timedelta(seconds=60)
    return any(
        model.objects.filter(
            stage=stage, **({} if model in (Page, Sighting, Fingerprint) else {"due_at__lte": soon})
        ).exists()
        for model, stage, _ in order
    )
