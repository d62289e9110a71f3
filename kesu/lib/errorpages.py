"""Kesu's own error pages (400, 403, 404, 500, a refused CSRF check), in the user's language, with a way back.

They render without the request's context processors: those read the session and the user from the
database, and a 500 is often the database being down. Nothing of the error itself is shown (no exception,
no path, no reason from the CSRF check): the page says what happened in plain words and where to go next.
"""

from django.http import HttpResponse
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

PAGES = {
    400: (_("The request could not be read"), _("Something in the request was malformed. Nothing was changed.")),
    403: (_("Not allowed"), _("Your account may not open this page. Ask a supervisor if you need it.")),
    404: (_("Page not found"), _("There is no such page, or it is not one you can see.")),
    500: (
        _("Something went wrong on the desk"),
        _("The desk could not finish this request. Nothing you had saved is lost; try again in a moment."),
    ),
}
CSRF = (
    _("The form had expired"),
    _("For your safety the form was refused: it was older than your session or came from another page. "
      "Go back, reload the page and send it again."),
)  # fmt: skip


def render(request, status: int, title_text: tuple | None = None) -> HttpResponse:
    """The error page for ``status``; ``request`` may be None (only its referrer is read)."""
    title, text = title_text or PAGES[status]
    back = _previous_page(request)
    html = loader.get_template("errors/page.html").render(
        {"status": status, "title": title, "text": text, "back": back}
    )
    response = HttpResponse(html, status=status)
    response["Cache-Control"] = "no-store, private"
    return response


def _previous_page(request) -> str:
    """The referring page of this desk, never another site's (or "" when there is none)."""
    if request is None:
        return ""
    referrer = request.META.get("HTTP_REFERER", "")
    if referrer and url_has_allowed_host_and_scheme(referrer, {request.get_host()}, request.is_secure()):
        return referrer
    return ""


def bad_request(request, exception=None):
    return render(request, 400)


def permission_denied(request, exception=None):
    return render(request, 403)


def page_not_found(request, exception=None):
    return render(request, 404)


def server_error(request):
    return render(request, 500)


def csrf_failure(request, reason=""):
    return render(request, 403, CSRF)
