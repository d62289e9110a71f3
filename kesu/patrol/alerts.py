"""The last stage of a sighting: its new hits get evidence of the page, and their leads are followed.

A stage like those in pipeline.py (one row id, claimed, idempotent), kept apart because it hands hits on
to discovery, and discovery adds pages to the pipeline.
"""

from django.conf import settings
from django.db import transaction

from ..audit.services import log_action
from ..matching.models import Hit
from . import claims, discovery
from .models import Sighting, Stage
from .pipeline import open_url, preserve_inline, request_evidence


def alert(sighting_id: int) -> str:
    """New hits are in the review queue the moment they are written; here: evidence and leads to follow."""
    token = claims.claim(Sighting, sighting_id, Stage.ALERT)
    if token is None:
        return "not due or taken"
    sighting = Sighting.objects.select_related("page__run").get(pk=sighting_id)
    page_url = open_url(sighting.page.url_sealed, "patrol.page")
    bundles = []
    with transaction.atomic():
        for hit in Hit.objects.filter(pk__in=sighting.new_hits).select_related("case"):
            log_action(None, "patrol.alert", hit, case_id=hit.case_id, pink=hit.pink)
            if settings.KESU_PATROL_PRESERVE_HITS and hit.case.status != "closed":
                bundles.append(request_evidence(page_url, hit.case))
            discovery.follow_hit(hit, sighting.page, page_url)
        claims.advance(Sighting, sighting.pk, token, Stage.DONE)
    preserve_inline(bundles)
    return "alerted"
