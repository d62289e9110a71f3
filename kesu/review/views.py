"""Staff pages of the review queue. Views parse and render; ``services`` decides what anyone sees or changes.

Outsiders to a case get 404 for its hits. Every page that may name a host or show a preview is private
(never cached). The keyboard layer (static/kesu/review.js) only presses the buttons these pages render, so
everything also works without it.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..accounts.models import User
from ..lib.errors import NotFound, UserError
from ..lib.web import blur_of, first_look, private, revealed, unplayable
from . import calibration, exposure, services
from .context import BLUR_LABELS, capture_of, place_of, screenshot_preview, screenshot_reveal, set_blur
from .models import Decision
from .services import Filters


def _hit(request, hit_id):
    try:
        return services.hit_for(request.user, hit_id)
    except NotFound:
        raise Http404 from None


def _supervisor_or_404(request) -> None:
    if not request.user.sees_all_cases:
        raise Http404


def _with(url: str, filters: Filters) -> str:
    query = filters.as_query()
    return f"{url}?{urlencode(query)}" if query else url


def _back(request, fallback: str) -> str:
    """Where a form on a review page returns to: that page (a review URL of this desk), else ``fallback``."""
    back = request.POST.get("back", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts=None) and back.startswith("/review/"):
        return back
    return fallback


def _item_url(hit_id: int | None, filters: Filters) -> str:
    if hit_id is None:
        return _with(reverse("review:queue"), filters)
    return _with(reverse("review:item", args=[hit_id]), filters)


@login_required
def queue(request):
    filters = Filters.from_query(request.GET)
    page, hits = services.page_of(request.user, filters, request.GET.get("page"))
    context = {
        "page": page,
        "hits": hits,
        "filters": filters,
        "query": urlencode(filters.as_query()),
        "choices": services.choices(request.user),
        "statuses": [
            ("new", _("Waiting")),
            ("confirmed", _("Confirmed")),
            ("rejected", _("Rejected")),
            ("all", _("All")),
        ],
        "orders": [
            ("priority", _("Priority")),
            ("probability", _("Probability")),
            ("nudity", _("Nudity")),
            ("age", _("Oldest first")),
        ],
        "exposure": exposure.today(request.user),
        "done": request.session.pop("review_done", ""),  # the last decision of the queue, said here
        "recent": services.recent(request.user),
        "back": request.get_full_path(),
    }
    return private(render(request, "review/queue.html", context))


@login_required
def item(request, hit_id):
    hit = _hit(request, hit_id)
    filters = Filters.from_query(request.GET)
    where = services.place(request.user, filters, hit.pk)
    context = {
        "hit": hit,
        "filters": filters,
        "query": urlencode(filters.as_query()),
        "place": where,
        "previous_url": _item_url(where.previous, filters) if where.previous else "",
        "next_url": _item_url(where.next, filters) if where.next else "",
        "queue_url": _with(reverse("review:queue"), filters),
        "evidence": services.evidence_of(hit),
        "exposure": exposure.today(request.user),
        "decisions": hit.decisions.select_related("user")[:10],
        "found_video": hit.media_type.startswith("video/"),
        "done": request.session.pop("review_done", ""),
        "recent": services.recent(request.user),
        "back": request.get_full_path(),
        "same_count": hit.case.hits.filter(sha256=hit.sha256, status="new").exclude(pk=hit.pk).count(),
        "where": place_of(request.user, hit),
        "blur": blur_of(request.session),
        "blur_levels": list(BLUR_LABELS.items()),
    }
    return private(render(request, "review/item.html", context))


@login_required
@require_POST
def decide(request, hit_id):
    hit = _hit(request, hit_id)
    filters = Filters.from_query(request.POST)
    following = services.place(request.user, filters, hit.pk).next
    kind = request.POST.get("kind", "")
    try:
        decided = services.decide(request.user, hit, kind)
    except UserError as error:
        messages.error(request, str(error))
        return redirect(_item_url(hit.pk, filters))
    label = Decision.Kind(kind).label
    # Two messages, not a plural: the second names how many more, which Japanese's one plural form cannot.
    text = _("Hit #%(id)d: %(what)s.") if len(decided) == 1 else _("Hit #%(id)d and %(more)d more: %(what)s.")
    # Said on the next hit's page, in its status region (read out by screen readers), not as a banner.
    request.session["review_done"] = text % {"id": hit.pk, "more": len(decided) - 1, "what": label}
    return redirect(_item_url(following, filters))


@login_required
@require_POST
def undo(request, hit_id):
    hit = _hit(request, hit_id)
    filters = Filters.from_query(request.POST)
    try:
        services.undo(request.user, hit)
    except UserError as error:
        messages.error(request, str(error))
        # From the toast on another page: back there, where the refusal is said.
        return redirect(_back(request, _item_url(hit.pk, filters)))
    else:
        request.session["review_done"] = _("Hit #%(id)d waits for review again.") % {"id": hit.pk}
    return redirect(_item_url(hit.pk, filters))


@login_required
def preview(request, hit_id):
    hit = _hit(request, hit_id)
    try:
        jpeg = services.preview(request.user, hit, blur_of(request.session))
    except NotFound:
        raise Http404 from None
    return private(HttpResponse(jpeg, content_type="image/jpeg"))


@login_required
@require_POST
def blur(request):
    """The reviewer's blur level for her session; back to the page she set it on."""
    try:
        set_blur(request.user, request.session, request.POST.get("level", ""))
    except UserError:
        messages.error(request, _("Choose a blur level: strong, medium or light."))
    return redirect(_back(request, reverse("review:queue")))


@login_required
def screenshot(request, hit_id):
    """The capture's screenshot of the hit's page, blurred at the session's level."""
    hit = _hit(request, hit_id)
    try:
        jpeg = screenshot_preview(request.user, hit, blur_of(request.session))
    except NotFound:
        raise Http404 from None
    return private(HttpResponse(jpeg, content_type="image/jpeg"))


@login_required
def screenshot_media(request, hit_id):
    """The screenshot unblurred: a reveal like the media's, with the same daily limit."""
    hit = _hit(request, hit_id)
    if exposure.today(request.user).reached and request.GET.get("anyway") != "1":
        return private(HttpResponse(_("Daily exposure limit reached: confirm on the page to look anyway."), status=403))
    try:
        data, content_type = screenshot_reveal(request.user, hit)
    except NotFound:
        raise Http404 from None
    return revealed(data, content_type)


@login_required
def media(request, hit_id):
    """The unblurred medium. Past the person's daily limit only with ``anyway=1`` (the page asked her first)."""
    hit = _hit(request, hit_id)
    range_header = request.headers.get("Range", "")
    first = first_look(range_header)
    if first and exposure.today(request.user).reached and request.GET.get("anyway") != "1":
        return private(HttpResponse(_("Daily exposure limit reached: confirm on the page to look anyway."), status=403))
    try:
        data, content_type = services.reveal(request.user, hit, first=first)
    except NotFound:
        raise Http404 from None
    except UserError:
        return unplayable()
    return revealed(data, content_type, range_header)


@login_required
def capture(request, hit_id):
    """The evidence bundle of the page the hit was found on; POST asks for one when there is none yet."""
    hit = _hit(request, hit_id)
    filters = Filters.from_query(request.POST or request.GET)
    if request.method == "POST":
        try:
            services.request_capture(request.user, hit)
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("The page will be captured; the bundle appears here when it is done."))
        return redirect(_with(reverse("review:capture", args=[hit.pk]), filters))
    context = {"hit": hit, "bundle": capture_of(hit), "filters": filters}
    context["item_url"] = _item_url(hit.pk, filters)
    context["back"] = request.get_full_path()
    return private(render(request, "review/capture.html", context))


@login_required
def exposure_overview(request):
    _supervisor_or_404(request)
    if request.method == "POST":
        user = get_object_or_404(User, pk=request.POST.get("user"))
        value = request.POST.get("daily", "").strip()
        try:
            exposure.set_limit(request.user, user, int(value) if value else None)
        except (UserError, ValueError):
            messages.error(request, _("The daily limit must be a whole number between 1 and 10000."))
        else:
            messages.success(request, _("The limit of %(name)s was saved.") % {"name": user.username})
        return redirect("review:exposure")
    context = {"rows": exposure.overview(request.user), "default": exposure.today(None).limit}
    return render(request, "review/exposure.html", context)


@login_required
def calibration_view(request):
    _supervisor_or_404(request)
    results = None
    if request.method == "POST":
        if request.POST.get("action") == "forget":
            calibration.forget(request.user)
            messages.success(request, _("Back to the shipped calibration."))
            return redirect("review:calibration")
        results = calibration.refit(request.user)
    context = {"results": results, "summary": calibration.summary()}
    return render(request, "review/calibration.html", context)
