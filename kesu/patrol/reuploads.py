"""Re-uploads: a copy that was removed, found again (elsewhere, or at the same site under a new address).

A new hit is a re-upload when its case has a hit that was removed (a re-check
saw its URL gone) showing the same picture: the same bytes, the same
reference, or the removed hit itself (its signals are in the bank once staff
confirmed it). The new hit points to that removed one, and the site it is on
counts one more re-upload, which routing reads (sites.routing); the requests that had the removed copy
taken down keep when it was first found again (the reports read it).
"""

from __future__ import annotations

from django.db.models import F, Q
from django.utils import timezone

from ..audit.services import log_action
from ..matching.models import Hit
from ..sites.domains import BadDomain, registrable
from ..sites.models import Site, TakedownRequest
from .models import Recheck


def removed_hits(case_id: int):
    """Hits of the case whose address a re-check has seen gone."""
    gone = Recheck.objects.filter(case_id=case_id, gone_at__isnull=False).values_list("url_key", flat=True)
    return Hit.objects.filter(case_id=case_id, source_key__in=list(gone))


def original_of(hit: Hit) -> Hit | None:
    same = Q(sha256=hit.sha256) | Q(pk=hit.matched_hit_id or 0)
    if hit.reference_id:
        same |= Q(reference_id=hit.reference_id)
    return removed_hits(hit.case_id).filter(same).exclude(pk=hit.pk).order_by("-created_at").first()


def link(hit: Hit, url: str) -> Hit | None:
    """Mark hit as a re-upload of a removed hit, if it is one; the site learns it re-uploads."""
    original = original_of(hit)
    if original is None:
        return None
    Hit.objects.filter(pk=hit.pk).update(reupload_of=original)
    hit.reupload_of = original
    try:
        domain = registrable(url)
    except BadDomain:  # an address without a registrable domain has no site to learn it
        domain = ""
    sites = Site.objects.filter(domain=domain)
    now = timezone.now()
    sites.update(reuploads=F("reuploads") + 1, last_reupload_at=now)
    # The requests that had the copy removed learn when it came back (the reports' re-upload rate and time).
    TakedownRequest.objects.filter(notice__hits=original, reuploaded_at__isnull=True).update(reuploaded_at=now)
    log_action(None, "patrol.reupload", hit, case_id=hit.case_id, original=original.pk, site=domain)
    return original
