"""What a reviewer needs around a hit to decide it: where it was found (the page, its site in the knowledge
base), the capture of that page (its evidence bundle's state, its screenshot) and how blurred previews are.

The page URL leads to her images: it is opened only for the hit's page, and that opening is audited. The
screenshot shows the page as the browser did, her picture on it: it is blurred on the server like any preview
and shown sharp only through the same audited, counted reveal as the media themselves. The blur level is the
reviewer's own, for her session: stronger or lighter, never none (a reveal is the way to see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy

from ..audit.services import log_action
from ..evidence import bundle as evidence_files
from ..evidence.models import EvidenceBundle
from ..lib.errors import NotFound, UserError
from ..lib.web import BLUR_LEVELS, BLUR_SESSION_KEY, DEFAULT_BLUR, blur_of
from ..matching import media
from ..matching import services as matching
from ..matching.models import Hit
from ..vault import services as vault

SCREENSHOT = "screenshot.png"
BLUR_LABELS = {"strong": gettext_lazy("Strong"), "medium": gettext_lazy("Medium"), "light": gettext_lazy("Light")}


# --- the blur level of a session ------------------------------------------------------------------------------


def set_blur(actor, session, level: str) -> str:
    """Set the blur level of this reviewer's session (audited); UserError names an unknown level."""
    if level not in BLUR_LEVELS:
        raise UserError(f"unknown blur level {level[:20]!r}: use {', '.join(BLUR_LEVELS)}")
    before = blur_of(session)
    session[BLUR_SESSION_KEY] = level
    log_action(actor, "review.blur", None, level=level, before=before)
    return level


def blurred(image, level: str) -> bytes:
    return media.blurred_preview(image, strength=BLUR_LEVELS.get(level, BLUR_LEVELS[DEFAULT_BLUR]))


# --- where it was found ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """The state of the newest evidence bundle of the hit's page, as the reviewer reads it, and whether a
    screenshot of the page is kept (from the newest bundle that holds one: a page captured again stays shown
    while its new capture is under way)."""

    bundle: EvidenceBundle
    state: str  # requested / captured / failed
    at: datetime
    has_screenshot: bool

    @property
    def label(self) -> str:
        return str(CAPTURE_STATES[self.state])


CAPTURE_STATES = {
    "requested": gettext_lazy("Capture requested"),
    "captured": gettext_lazy("Captured"),
    "failed": gettext_lazy("Capture failed"),
}


@dataclass(frozen=True)
class Place:
    """The page a hit was found on: its URL (opened for this page only), host, and its site's entry."""

    url: str
    host: str
    site: object | None  # kesu.sites.models.Site, when the knowledge base knows the site
    capture: Capture | None


def place_of(actor, hit: Hit) -> Place:
    """The hit's page, site and capture; opening the URL is audited (it leads to her images)."""
    url = ""
    if hit.source_url_sealed is not None:
        url = matching.source_url(hit)
        log_action(actor, "hit.url", hit, case_id=hit.case_id)
    return Place(url=url, host=hit.host, site=_site(hit.host), capture=capture_state(hit))


def _site(host: str):
    from ..sites.services import site_for

    if not host:
        return None
    try:
        return site_for(host)
    except NotFound:
        return None


def bundles_of(hit: Hit) -> list[EvidenceBundle]:
    """The evidence bundles of the page the hit was found on, newest first.

    Bundles keep their URL sealed, so the case's bundles are opened and compared (a case has tens, not
    thousands)."""
    from ..evidence.services import url_of

    if hit.source_url_sealed is None:
        return []
    url = matching.source_url(hit)
    bundles = hit.case.evidence.select_related("case__data_key").order_by("-requested_at")[:200]
    return [bundle for bundle in bundles if url_of(bundle) == url]


def capture_of(hit: Hit) -> EvidenceBundle | None:
    """The newest evidence bundle of the page the hit was found on, or None."""
    return next(iter(bundles_of(hit)), None)


def capture_state(hit: Hit) -> Capture | None:
    found = bundles_of(hit)
    if not found:
        return None
    item, shown = found[0], _screenshot_of(found) is not None
    if item.status == EvidenceBundle.Status.PENDING:
        return Capture(item, "requested", item.requested_at, shown)
    state = "captured" if item.status == EvidenceBundle.Status.DONE else "failed"
    return Capture(item, state, item.finished_at or item.requested_at, shown)


def _screenshot_of(bundles: list[EvidenceBundle]) -> tuple[EvidenceBundle, bytes] | None:
    """The newest screenshot among the bundles, with its bundle."""
    for item in bundles:
        if item.blob is None:
            continue
        try:
            shot = evidence_files.from_zip(vault.read_blob(item.blob)).get(SCREENSHOT)
        except evidence_files.BundleError:
            continue
        if shot is not None:
            return item, shot
    return None


def _hit_screenshot(hit: Hit) -> tuple[EvidenceBundle, bytes]:
    found = _screenshot_of(bundles_of(hit))
    if found is None:
        raise NotFound("this hit's page has no screenshot")
    return found


def screenshot_preview(actor, hit: Hit, level: str) -> bytes:
    """The capture's screenshot, blurred at the session's level (audited like any preview: her picture is on
    the page)."""
    item, shot = _hit_screenshot(hit)
    log_action(actor, "media.preview", item, case_id=hit.case_id, hit=hit.pk, what="screenshot", blur=level)
    try:
        return blurred(media.open_image(shot), level)
    except UserError:
        raise NotFound("the screenshot cannot be shown") from None


def screenshot_reveal(actor, hit: Hit) -> tuple[bytes, str]:
    """The screenshot itself, for a reviewer who chose to look: audited and counted as exposure."""
    from . import exposure

    item, shot = _hit_screenshot(hit)
    shown = media.display_copy(shot, size=2400)
    log_action(actor, "media.view", item, case_id=hit.case_id, hit=hit.pk, what="screenshot")
    exposure.count(actor)
    return shown
