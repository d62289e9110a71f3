"""The last stage of a sighting: its new hits get evidence of the page, and their leads are followed.

A stage like those in pipeline.py (the contract is in stages.py), kept apart because it hands hits on to
discovery, and discovery adds pages to the pipeline.
"""

from django.conf import settings

from ..audit.services import log_action
from ..matching.models import Hit
from . import discovery, stages
from .models import Sighting, Stage
from .pipeline import open_url, preserve_inline, request_evidence


@stages.register
class Alert(stages.Stage):
    """New hits are in the review queue the moment they are written; here: evidence and leads to follow."""

    name, model, related = Stage.ALERT, Sighting, ("page__run",)

    def run(self, ctx: stages.Context) -> str:
        return open_url(ctx.row.page.url_sealed, "patrol.page")

    def commit(self, ctx: stages.Context, page_url: str) -> str:
        sighting, bundles = ctx.row, []
        for hit in Hit.objects.filter(pk__in=sighting.new_hits).select_related("case"):
            log_action(None, "patrol.alert", hit, case_id=hit.case_id, pink=hit.pink)
            if settings.KESU_PATROL_PRESERVE_HITS and hit.case.status != "closed":
                bundles.append(request_evidence(page_url, hit.case))
            discovery.follow_hit(hit, sighting.page, page_url)
        self.advance(ctx, Stage.DONE)
        ctx.then.append(lambda: preserve_inline(bundles))  # a capture takes seconds: not inside the transaction
        return "alerted"
