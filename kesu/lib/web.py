"""Small helpers the views of every package share, and the headers every response carries."""

from django.http import HttpResponse

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


def private(response: HttpResponse) -> HttpResponse:
    """Sensitive responses (her media, URLs, a notice's text, a reply) are never cached by a browser or proxy."""
    response["Cache-Control"] = "no-store, private"
    return response


def revealed(data: bytes, content_type: str) -> HttpResponse:
    """Her medium itself, after a deliberate reveal: private, shown inline, never cached."""
    response = private(HttpResponse(data, content_type=content_type))
    response["Content-Disposition"] = "inline"
    return response


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
