"""NCMEC through threatexchange's own ``NCMECHashAPI`` (issue 21): it reads NCMEC's entries and votes on them.

It cannot upload (NCMEC's list is fed by CyberTipline reports, not by this API). What it can do for a CSAM case
that consented to ``ncmec``: read NCMEC's entries (bounded: ``PAGES`` pages a run), tell which of her hashes
NCMEC already lists, so staff know NCMEC's members block them, and upvote those entries (``submit_upvote``),
which tells members the entry is confirmed. The requests carry Kesu's basic auth, a date range and NCMEC's own
entry ids: nothing of hers.
"""

from dataclasses import dataclass
from itertools import islice
from types import SimpleNamespace

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from threatexchange.exchanges.clients.ncmec.hash_api import FingerprintType, NCMECEnvironment, NCMECHashAPI

from ..audit.services import log_action
from ..cases.models import Case, CaseType
from ..lib.errors import UserError
from ..matching.models import Hit, Signal
from .models import NCMEC
from .services import live_consents

PAGES = 20  # NCMEC answers 1000 entries a page: a run reads at most 20,000 entries
# Kesu's signal kind -> NCMEC's fingerprint tag (as in the entries' XML) and its type for a vote.
FINGERPRINTS = {"pdq": ("pdq", FingerprintType.pdq), "md5": ("md5", FingerprintType.md5)}


@dataclass(frozen=True)
class Listed:
    """One of her hashes found in an NCMEC entry: the entry (its uploader's ESP id and its id) and the type."""

    kind: str
    value: str
    member_id: int
    entry_id: str


@dataclass(frozen=True)
class Scan:
    entries: int  # entries read
    complete: bool  # False: NCMEC has more entries than a run reads
    listed: list[Listed]
    upvoted: int


def client() -> NCMECHashAPI:
    if not (settings.KESU_NCMEC_USER and settings.KESU_NCMEC_PASSWORD):
        raise UserError("NCMEC is not configured: set KESU_NCMEC_USER and KESU_NCMEC_PASSWORD")
    # The client reads only ``environment.value``: NCMEC's own environments by name, any other base URL (a new
    # environment, a test NCMEC on loopback) as an object with that attribute.
    url = settings.KESU_NCMEC_URL
    environment = next((e for e in NCMECEnvironment if e.value == url), None) or SimpleNamespace(value=url)
    return NCMECHashAPI(settings.KESU_NCMEC_USER, settings.KESU_NCMEC_PASSWORD, environment)


def her_hashes(case: Case) -> dict[str, set[str]]:
    """NCMEC's fingerprint tag -> her values (references and confirmed hits), lower-case hex."""
    rows = (
        Signal.objects.in_use()
        .filter(case=case, kind__in=FINGERPRINTS)
        .filter(Q(reference__isnull=False) | Q(hit__status=Hit.Status.CONFIRMED))
    )
    hers: dict[str, set[str]] = {tag: set() for tag, _type in FINGERPRINTS.values()}
    for kind, value in rows.values_list("kind", "value"):
        if value:
            hers[FINGERPRINTS[kind][0]].add(value.lower())
    return hers


def check(actor, case: Case) -> Scan:
    """Read NCMEC's entries, find hers, upvote each entry found once; audited and on her timeline."""
    if case.case_type != CaseType.CSAM:
        raise UserError("NCMEC lists child sexual abuse material only: this case is not a CSAM case")
    if not live_consents(case).filter(destination=NCMEC).exists():
        raise UserError("she has not consented to share her hashes with ncmec")
    hers = her_hashes(case)
    if not any(hers.values()):
        raise UserError(f"case {case.pk} holds no PDQ or MD5 to look for at NCMEC")
    api = client()
    try:
        entries, complete, listed = _read(api, hers)
        upvoted = _upvote(api, listed)
    except requests.RequestException as error:
        status = getattr(error.response, "status_code", None)
        raise UserError(f"NCMEC did not answer: {type(error).__name__}" + (f" {status}" if status else "")) from None
    with transaction.atomic():
        log_action(actor, "exchange.ncmec", case, case_id=case.pk, destination=NCMEC, entries=entries,
                   complete=complete, listed=len(listed), upvoted=upvoted)  # fmt: skip
    return Scan(entries, complete, listed, upvoted)


def _read(api: NCMECHashAPI, hers: dict[str, set[str]]) -> tuple[int, bool, list[Listed]]:
    read, found, complete = 0, {}, False
    kinds = {tag: kind for kind, (tag, _type) in FINGERPRINTS.items()}
    for page in islice(api.get_entries_iter(), PAGES):
        complete = not page.next
        for entry in page.updates:
            read += 1
            for tag, value in entry.fingerprints.items() if not entry.deleted else ():
                if tag in hers and value.lower() in hers[tag]:
                    found[(tag, value.lower())] = Listed(kinds[tag], value.lower(), entry.member_id, entry.id)
    return read, complete, sorted(found.values(), key=lambda x: (x.kind, x.value))


def _upvote(api: NCMECHashAPI, listed: list[Listed]) -> int:
    votes = {(item.member_id, item.entry_id, FINGERPRINTS[item.kind][1]) for item in listed}
    for member_id, entry_id, fingerprint in sorted(votes, key=lambda v: (v[0], v[1], v[2].value)):
        api.submit_upvote(member_id, entry_id, fingerprint)
    return len(votes)
