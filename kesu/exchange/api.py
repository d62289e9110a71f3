"""The partner API that HMA and the ``threatexchange`` CLI subscribe to (``kesu.exchange.threatexchange``).

``GET /api/exchange/v1/delta?checkpoint=N`` and ``POST /api/exchange/v1/feedback`` (JSON: ``signal_type``,
``signal``, ``opinion``), each with ``Authorization: Bearer <token>``. Answers are JSON; a refusal is
``{"error": "<one line>"}`` with 400, 401 or 429. The logic is in ``partners``.
"""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ..lib.errors import NotFound, UserError
from . import partners

MAX_BODY = 64 * 1024


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _partner(request):
    """(partner, None) or (None, the refusal)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        partner = partners.authenticate(token.strip() if scheme.lower() == "bearer" else "")
    except NotFound as exc:
        return None, _refuse(401, str(exc))
    if not partners.within_rate(partner):
        return None, _refuse(429, f"more than {partner.rate_per_minute} requests a minute")
    return partner, None


@csrf_exempt
@require_GET
def delta(request):
    partner, refusal = _partner(request)
    if refusal:
        return refusal
    text = request.GET.get("checkpoint", "0")
    if not text.isdigit():
        return _refuse(400, "checkpoint must be a whole number (0 for everything)")
    return JsonResponse(partners.delta(partner, int(text)))


@csrf_exempt
@require_POST
def feedback(request):
    partner, refusal = _partner(request)
    if refusal:
        return refusal
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY:
        return _refuse(400, f"a feedback is at most {MAX_BODY} bytes")
    try:
        body = json.loads(request.body)
        given = [str(body[key]) for key in ("signal_type", "signal", "opinion")]
        return JsonResponse({"recorded": partners.feedback(partner, *given)})
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "the body must be JSON with signal_type, signal and opinion")
    except UserError as exc:
        return _refuse(400, str(exc))
