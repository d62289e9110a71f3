"""Small helpers the views of every package share, and the headers every response carries."""

from django.http import HttpResponse
from django.utils.translation import gettext as _

# Only the desk's own files run or style a page: no inline script, style attribute or <style>, nothing from
# elsewhere, no plug-ins, no framing. data: images are the second-factor QR code (drawn on the server).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Nothing on the desk needs a sensor, a device or a payment; video plays only when she presses play.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "geolocation",
        "gyroscope", "hid", "idle-detection", "magnetometer", "microphone", "midi", "payment",
        "picture-in-picture", "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
    )
)  # fmt: skip


# How blurred a reviewer's previews are, for her session: a share of the default (heavy) blur's radius. The
# review sets it (audited: kesu.review.context.set_blur); every page with previews of her material reads it.
BLUR_LEVELS = {"strong": 1.0, "medium": 0.55, "light": 0.3}
DEFAULT_BLUR = "strong"
BLUR_SESSION_KEY = "review_blur"


def blur_of(session) -> str:
    """The session's blur level: the default, strong, unless the reviewer chose another. Never none."""
    level = session.get(BLUR_SESSION_KEY, DEFAULT_BLUR)
    return level if level in BLUR_LEVELS else DEFAULT_BLUR


def private(response: HttpResponse) -> HttpResponse:
    """Sensitive responses (her media, URLs, a notice's text, a reply) are never cached by a browser or proxy."""
    response["Cache-Control"] = "no-store, private"
    return response


def revealed(data: bytes, content_type: str, range_header: str = "") -> HttpResponse:
    """Her medium itself, after a deliberate reveal: private, shown inline, never cached. With the request's
    ``Range`` header, the part asked for (206), as a video player asks while it plays and seeks."""
    window = byte_range(range_header, len(data))
    if window is None:
        response = HttpResponse(data, content_type=content_type)
    elif window == ():
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{len(data)}"
    else:
        start, end = window
        response = HttpResponse(data[start : end + 1], content_type=content_type, status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = "inline"
    return private(response)


def first_look(range_header: str) -> bool:
    """Whether a reveal request is a new look: a player's later range requests (seeking, the next part) are
    the same look, so only a request without a range, or from the first byte, is audited and counted."""
    return not range_header or range_header.replace(" ", "").startswith("bytes=0-")


def unplayable() -> HttpResponse:
    """What a reveal answers when the medium cannot be decoded: nothing of hers was shown, nothing counted."""
    message = _("This medium cannot be shown: it could not be decoded. Nothing was counted against your limit.")
    return private(HttpResponse(message, status=422, content_type="text/plain; charset=utf-8"))


def byte_range(header: str, size: int) -> tuple[int, int] | tuple[()] | None:
    """The one byte range of an HTTP ``Range`` header as (first, last) inclusive, clipped to ``size``.

    None: no header, or one this does not serve as a range (several ranges, another unit, a malformed
    value): the whole body answers, as RFC 9110 allows. ``()``: a range that lies wholly past the end (416)."""
    unit, _sep, spec = header.replace(" ", "").partition("=")
    if unit != "bytes" or "," in spec or "-" not in spec:
        return None
    first, _sep, last = spec.partition("-")
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or first == last == "":
        return None
    if first == "":  # the last N bytes
        return (max(0, size - int(last)), size - 1) if size and int(last) else ()
    start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size:
        return ()
    return None if end < start else (start, end)


class SecurityHeadersMiddleware:
    """Every response Django makes gets the strict policy and is never stored: staff pages all show case data,
    and a page that forgets to say so must not end up in a browser's or proxy's cache. Static files, served
    by WhiteNoise before this runs, stay cacheable. A view that needs another policy sets its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = private(self.get_response(request))
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
