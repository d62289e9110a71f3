"""Her pages (no account: the link is the key, bound to her device after consent) and the staff's two
buttons on the case page. Every refusal is one line on a page that says how to reach the desk."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..cases.views import case_or_404
from ..lib.bodies import read_body
from ..lib.errors import UserError
from ..lib.web import private
from . import payload, services

COOKIE = "kesu_hashing"
# Her page runs its own code only; <video> reads her file through a blob: URL; the worker is the page's own.
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)


def _her_page(request, template: str, context: dict, status: int = 200):
    response = private(render(request, template, {"desk": settings.KESU_ORG, **context}, status=status))
    response["Content-Security-Policy"] = POLICY
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request, error: UserError, status: int = 403):
    return _her_page(request, "hashing/refused.html", {"reason": str(error)}, status)


def start(request, token: str):
    """GET: the consent page, or her hashing page once this device holds the link. POST: she accepts."""
    try:
        link = services.link_for(token)
        if request.method == "POST":
            return _accept(request, link, token)
        if not link.device_hash:
            return _her_page(request, "hashing/consent.html", {})
        services.check_device(link, request.COOKIES.get(COOKIE, ""))
    except UserError as error:
        return _refused(request, error)
    context = {"nonce": services.issue_nonce(link), "token": token, "max_files": payload.MAX_FILES}
    return _her_page(request, "hashing/page.html", context)


def _accept(request, link, token: str):
    secret = services.consent(link, request.COOKIES.get(COOKIE, ""))
    response = redirect("hashing:start", token=token)
    if secret:
        # Lax, not Strict: she comes back through the link from her mail or messenger, a cross-site visit.
        age = max(1, int(link.expires_at.timestamp() - time.time()))
        response.set_cookie(
            COOKIE, secret, max_age=age, path=request.path, httponly=True, samesite="Lax", secure=settings.KESU_HTTPS
        )
    return response


@require_POST
def submit(request, token: str):
    """The page's hashes, as JSON. Answers {"received": n} or {"error": one line}; a refusal stores nothing."""
    try:
        link = services.link_for(token)
        services.check_device(link, request.COOKIES.get(COOKIE, ""))
        body = read_body(request, payload.MAX_BODY, time.monotonic() + 60)
        if not body.complete:
            raise UserError(_("The list of hashes is too large, or it did not arrive whole. Please try again."))
        received = services.receive(link, _parsed(body.data))
    except UserError as error:
        return private(JsonResponse({"error": str(error)}, status=400))
    return private(JsonResponse({"received": received}))


def _parsed(data: bytes) -> payload.Submission:
    """Her page sends only well-formed lists: a refusal here means a changed page or a bug, so she reads, in her
    language, that nothing was stored and what to do; the detail (for the desk) stays as it was written."""
    try:
        return payload.parse(data)
    except UserError as error:
        raise UserError(
            _("This list could not be taken, and nothing was stored. Please reload the page and try again, or "
              "contact the desk. (%(detail)s)") % {"detail": error}
        ) from None  # fmt: skip


@login_required
@require_POST
def link_create(request, case_id: int):
    case = case_or_404(request, case_id)
    try:
        new = services.create_link(request.user, case)
    except UserError as error:
        messages.error(request, str(error))
        return redirect("cases:detail", case_id=case.pk)
    # Shown once: only its hash is kept. The page is private (never cached).
    return private(
        render(
            request,
            "hashing/link_created.html",
            {"case": case, "url": request.build_absolute_uri(new.path), "link": new.link},
        )
    )


@login_required
@require_POST
def link_revoke(request, case_id: int):
    case = case_or_404(request, case_id)
    ended = services.revoke(request.user, case)
    messages.success(request, _("Hashing links ended: %(n)d.") % {"n": ended})
    return redirect("cases:detail", case_id=case.pk)
