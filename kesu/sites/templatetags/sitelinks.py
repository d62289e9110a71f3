"""Links to addresses a site, an import or RDAP supplied: only http(s) becomes a link."""

from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def web_url(value) -> str:
    """The URL when it is plain http(s), else "" (``javascript:``, ``data:`` and the like are never linked)."""
    text = str(value or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    return text if scheme in ("http", "https") else ""
