"""The shape of the knowledge files under ``kesu/sites/data``, and the checks that stop a bad one.

A checker returns None when a value is fine, else what is wrong with it; ``read_file`` and
``check_jurisdictions`` raise KnowledgeError naming the file, the entry and the field. Nothing here
builds the knowledge the desk reads (kesu.sites.knowledge) or touches the database.
"""

import json
import re
from datetime import date
from pathlib import Path

from ..cases.models import CaseType
from ..lib.errors import UserError
from .domains import BadDomain, registrable
from .models import Contact, Role

CASE_TYPES = frozenset(CaseType.values)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,119}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_URL = re.compile(r"^https?://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class KnowledgeError(UserError):
    """A data file is missing, not JSON, or an entry in it is malformed."""


# --- checkers ---------------------------------------------------------------------------------------


def _text(value):
    return None if isinstance(value, str) and value.strip() else "must be non-empty text"


def _slug(value):
    return None if isinstance(value, str) and _SLUG.match(value) else "must be a slug (a-z, 0-9, - or _)"


def _url(value):
    return None if isinstance(value, str) and _URL.match(value) else "must be an http(s) URL"


def _country(value):
    return None if isinstance(value, str) and _COUNTRY.match(value) else "must be an ISO 3166 code like 'JP'"


def _int(value):
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "must be a whole number"


def _iso_date(value):
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be a date like 2026-11-21"
    return None


def _month(value):
    return None if isinstance(value, str) and _MONTH.match(value) else "must be a month like 2024-03"


def _list_of(check, *, empty=False):
    def checker(value):
        if not isinstance(value, list) or (not value and not empty):
            return "must be a list" if empty else "must be a non-empty list"
        for item in value:
            problem = check(item)
            if problem:
                return f"item {str(item)[:60]!r} {problem}"
        return None

    return checker


def _member(allowed):
    def checker(value):
        return None if value in allowed else f"must be one of {', '.join(sorted(allowed))}"

    return checker


def _language(value):
    return None if isinstance(value, str) and _LANGUAGE.match(value) else "must be a language code like 'ja'"


def _domain(value):
    try:
        ok = isinstance(value, str) and registrable(value) == value
    except BadDomain:
        ok = False
    return None if ok else "must be a registrable domain in lower-case ASCII"


def _contact(value):
    if not isinstance(value, dict):
        return "must be an object"
    channel, address = value.get("channel"), value.get("address")
    if channel not in Contact.Channel.values:
        return f"channel must be one of {', '.join(Contact.Channel.values)}"
    if channel == Contact.Channel.EMAIL and not (isinstance(address, str) and _EMAIL.match(address)):
        return "address must be an e-mail address"
    if channel in (Contact.Channel.FORM, Contact.Channel.API) and _url(address):
        return "address must be an http(s) URL"
    if _text(address):
        return "address must be non-empty text"
    if "case_types" in value and _list_of(_member(CASE_TYPES))(value["case_types"]):
        return "case_types " + _list_of(_member(CASE_TYPES))(value["case_types"])
    if not isinstance(value.get("verified"), bool):
        return "verified must be true or false"
    return None


def _accepts(value):
    if not isinstance(value, dict) or not isinstance(value.get("csam"), bool):
        return "must say csam: true/false"
    return None if value.get("ncii", None) in (True, False, None) else "ncii must be true, false or null"


def _deadline(value):
    if not isinstance(value, dict) or _text(value.get("basis")):
        return "must have a non-empty 'basis'"
    hours = value.get("hours")
    if hours is None or (isinstance(hours, int) and hours > 0):
        return None
    return "hours must be a positive number or null"


def _categories(value):
    def category(item):
        if not isinstance(item, dict) or _text(item.get("name")):
            return "must have a name"
        if _list_of(_member(CASE_TYPES), empty=True)(item.get("case_types")):
            return "case_types must list case types"
        return None if isinstance(item.get("can_ask_not_to_forward_to_operator"), bool) else "needs a true/false flag"

    return _list_of(category)(value)


ORGANISATION = {
    "key": _slug,
    "name": _text,
    "country": _country,
    "website": _url,
    "source": _url,
    "languages": _list_of(_language),
    "contacts": _list_of(_contact),
}
ENTRY_FIELDS = {
    "search_engines.json": ORGANISATION,
    "cloudflare.json": {**ORGANISATION, "customer_response_hours": _int, "categories": _categories},
    "inhope_hotlines.json": {**ORGANISATION, "accepts": _accepts},
    "platforms.json": {**ORGANISATION, "domains": _list_of(_domain), "regimes": _list_of(_slug, empty=True)},
    "stopncii_partners.json": {"key": _slug, "name": _text, "source": _url, "announced": _month},
}
OPTIONAL_FIELDS = {"results_from": _slug}


# --- reading a file ---------------------------------------------------------------------------------


def fail(name: str, index: int | None, entry, message: str):
    where = name if index is None else f"{name}: entry {index + 1}"
    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
        where += f" ({entry['key']!r})"
    raise KnowledgeError(f"{where}: {message}")


def read_file(path: Path) -> dict:
    """One file, parsed and checked: its header and every entry against ``ENTRY_FIELDS``."""
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"{name}: missing from {path.parent}") from None
    except UnicodeDecodeError:
        raise KnowledgeError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise KnowledgeError(f"{name}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise KnowledgeError(f"{name}: must hold one JSON object")
    _check_header(name, data)
    return data


def _check_header(name: str, data: dict) -> None:
    for key, check in (("source", _list_of(_url)), ("compiled_on", _iso_date), ("note", _text)):
        problem = check(data.get(key))
        if problem:
            fail(name, None, None, f"top-level {key!r} {problem}")
    if name not in ENTRY_FIELDS:  # jurisdictions.json: the desk's own periods, no entries (the law is kesu.law)
        return
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        fail(name, None, None, "top-level 'entries' must be a non-empty list")
    seen = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            fail(name, index, entry, "must be a JSON object")
        _check_entry(name, index, entry)
        if entry["key"] in seen:
            fail(name, index, entry, "key is used twice in this file")
        seen.add(entry["key"])


def _check_entry(name: str, index: int, entry: dict) -> None:
    for key, check in ENTRY_FIELDS[name].items():
        if key not in entry:
            fail(name, index, entry, f"{key!r} is missing")
        problem = check(entry[key])
        if problem:
            fail(name, index, entry, f"{key!r} {problem}")
    for key, check in OPTIONAL_FIELDS.items():
        if key in entry and check(entry[key]):
            fail(name, index, entry, f"{key!r} {check(entry[key])}")


def check_jurisdictions(data: dict) -> None:
    """The desk's own periods in jurisdictions.json: a deadline for every role, a default, the escalation rules."""
    name = "jurisdictions.json"
    if _country(data.get("home_country")):
        fail(name, None, None, "top-level 'home_country' " + _country(data.get("home_country")))
    for key in ("role_deadlines", "escalation"):
        if not isinstance(data.get(key), dict):
            fail(name, None, None, f"top-level {key!r} must be an object")
    for role in Role.values:
        if _deadline(data["role_deadlines"].get(role)):
            fail(name, None, None, f"role_deadlines.{role} {_deadline(data['role_deadlines'].get(role))}")
    if _deadline(data.get("default_deadline")):
        fail(name, None, None, f"default_deadline {_deadline(data.get('default_deadline'))}")
