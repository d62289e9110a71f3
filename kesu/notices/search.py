"""Finding a notice by what staff have in hand: its KS reference, its recipient's name, or a URL it names.

A URL is never kept, logged or compared in clear: it is looked for by its blind index
(``vault.blind_index``), in the keys every notice keeps of its URLs (``NoticeUrl``) and, for notices
prepared before those keys existed, in its hits' and re-checks' keys. The search form posts, so the URL is
not in an address bar, a browser's history or a server's access log either.
"""

from django.db.models import Q, QuerySet

from ..vault import services as vault

MAX_QUERY = 2000  # characters: longer than any URL a notice names


def looks_like_url(text: str) -> bool:
    return "://" in text or (text.count("/") and "." in text.split("/", 1)[0])


def find(notices: QuerySet, text: str) -> QuerySet:
    """The notices among ``notices`` that ``text`` names, newest first (none for an empty text)."""
    text = text.strip()[:MAX_QUERY]
    if not text:
        return notices.none()
    key = vault.blind_index(text)
    match = Q(url_keys__key=key) | Q(hits__source_key=key) | Q(rechecks__url_key=key)
    if not looks_like_url(text):
        match |= Q(token__iexact=text) | Q(token__icontains=text.upper()) | Q(recipient__name__icontains=text)
    return notices.filter(match).distinct().order_by("-pk")
