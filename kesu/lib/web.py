"""Small helpers the views of every package share."""

from django.http import HttpResponse


def private(response: HttpResponse) -> HttpResponse:
    """Sensitive responses (her media, URLs, a notice's text, a reply) are never cached by a browser or proxy."""
    response["Cache-Control"] = "no-store, private"
    return response


def revealed(data: bytes, content_type: str) -> HttpResponse:
    """Her medium itself, after a deliberate reveal: private, shown inline, never cached."""
    response = private(HttpResponse(data, content_type=content_type))
    response["Content-Disposition"] = "inline"
    return response
