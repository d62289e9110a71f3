"""Language codes as words in the reader's language (ja → 日本語, en → 英語 on a Japanese page)."""

from django.utils.translation import get_language_info, gettext_noop

# Django names Chinese by script; the desk stores the plain language code.
ALIASES = {"zh": "zh-hans"}
# Django's catalogue calls English 英語(米国); the desk's says 英語. Marked so makemessages keeps the entry.
gettext_noop("English")


def name(code: str) -> str:
    """The language's name in the active language; a code Django does not know, as it is."""
    try:
        return get_language_info(ALIASES.get(code, code))["name_translated"]
    except KeyError:
        return code


def choices(codes) -> list[tuple[str, str]]:
    return [(code, name(code)) for code in codes]
