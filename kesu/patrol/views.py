"""Staff pages for the patrol: its runs, watches and hosts, the queue of new hits, URLs handed in to look at,
and the re-checks shown on a notice's page.

Views parse and render; ``services`` and ``discovery`` do the work. Staff see what concerns their own cases:
their runs and the sites' listings (no one's case), of each only the hits in their cases, the hosts those runs
reached, and no request counts (``services.runs_for``, ``hosts_for``); watches are no one's personal data.
Changing a watch or starting it is for supervisors and admins: for anybody else those pages do not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ..audit.services import log_action
from ..cases.services import visible_cases
from ..cases.views import case_or_404
from ..lib.errors import UserError
from ..lib.web import private
from ..matching.models import Hit
from ..matching.services import host_of_url, source_url
from ..vault import services as vault
from . import discovery, services
from .forms import SubmitForm, WatchForm
from .models import Recheck, Run, Watch

RUNS_SHOWN = 50
HOSTS_SHOWN = 200
HITS_PER_PAGE = 100


def _supervisor_or_404(request) -> None:
    if not request.user.sees_all_cases:
        raise Http404


@login_required
def home(request):
    runs = services.runs_for(request.user, RUNS_SHOWN)
    context = {
        "runs": runs,
        "running": any(run.status == Run.Status.RUNNING for run in runs),
        "watches": Watch.objects.select_related("site"),
        "hosts": services.hosts_for(request.user, HOSTS_SHOWN),
        "hosts_shown": HOSTS_SHOWN,
    }
    return private(render(request, "patrol/home.html", context))


@login_required
def watch_edit(request, watch_id: int | None = None):
    _supervisor_or_404(request)
    watch = get_object_or_404(Watch.objects.select_related("site"), pk=watch_id) if watch_id else None
    form = WatchForm(request.POST or None, instance=watch)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_watch(request.user, form.cleaned_data["domain"], watch=watch, **form.values())
        except UserError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Watch saved: %(name)s") % {"name": saved.name})
            return redirect("patrol:home")
    return private(render(request, "patrol/watch.html", {"form": form, "watch": watch}))


@login_required
@require_POST
def run_now(request, watch_id: int):
    _supervisor_or_404(request)
    watch = get_object_or_404(Watch, pk=watch_id)
    runs = services.start(watch)
    log_action(request.user, "patrol.run_now", watch)
    text = ngettext("%(n)d run started for %(name)s.", "%(n)d runs started for %(name)s.", len(runs))
    messages.success(request, text % {"n": len(runs), "name": watch.name})
    return redirect("patrol:home")


# --- the review queue -------------------------------------------------------------------------------------


@dataclass
class HitRow:
    hit: Hit
    host: str  # only the host: the full address leads to her images and stays sealed here


def _host_of(hit: Hit) -> str:
    if hit.host or hit.source_url_sealed is None:
        return hit.host  # kept in the clear since the review queue; older hits open their sealed URL
    return host_of_url(source_url(hit))


@login_required
def hits(request):
    queue = Hit.objects.filter(status=Hit.Status.NEW, case__in=visible_cases(request.user))
    queue = queue.select_related("case__victim", "case__data_key").order_by("-created_at", "-pk")
    page = Paginator(queue, HITS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [HitRow(hit, _host_of(hit)) for hit in page]
    return private(render(request, "patrol/hits.html", {"page": page, "rows": rows}))


# --- URLs handed in ---------------------------------------------------------------------------------------


@login_required
def submit(request, case_id: int):
    case = case_or_404(request, case_id)
    form = SubmitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = discovery.Submitted.start(request.user, case, form.url_list(), by=form.cleaned_data["by"])
        except UserError as error:
            form.add_error("urls", str(error))
        else:
            _report_submitted(request, run)
            return redirect("patrol:home")
    return private(render(request, "patrol/submit.html", {"case": case, "form": form}))


def _report_submitted(request, run: Run | None) -> None:
    count = run.pages.count() if run else 0
    text = ngettext("The patrol looks at %(n)d URL now.", "The patrol looks at %(n)d URLs now.", count)
    messages.success(request, text % {"n": count})
    if run and run.notes:
        messages.warning(request, _("Some lines were not usable URLs: see the run's notes below."))


# --- re-checks on a notice's page -------------------------------------------------------------------------


@dataclass
class RecheckRow:
    item: Recheck
    url: str
    history: list[dict]  # {"at": datetime, "state": label, "status": int | None, "evidence": bundle id or ""}


def _change(entry: dict, labels: dict) -> dict:
    return {
        "at": datetime.fromisoformat(entry["at"]),
        "state": labels.get(entry.get("state"), entry.get("state")),
        "status": entry.get("status"),
        "evidence": entry.get("evidence") or "",
    }


def recheck_rows(notice) -> list[RecheckRow]:
    """The notice's re-checks with their URLs opened (staff on the case see the notice's URLs anyway)."""
    labels = dict(Recheck.State.choices)
    key = notice.case.data_key
    return [
        RecheckRow(
            item, vault.open_text(key, item.url_sealed, "recheck.url"), [_change(e, labels) for e in item.history]
        )
        for item in notice.rechecks.order_by("pk")
    ]
