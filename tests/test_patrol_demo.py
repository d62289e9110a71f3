"""The whole loop over the demo web, as a new user sees it after ``scripts/run``:

reference photos and a video -> patrol of the demo sites -> scored hits (a re-encoded video excerpt
behind an HLS player, a cropped photo, re-encoded photos) -> a notice sent to the demo web's SMTP
server -> the site removes the item -> the re-check sees it gone and the notice is settled "deleted"
-> the re-upload under a new address is found and linked to the removed copy.

Real parts: the demo web's HTTP and SMTP servers on loopback, Debian's Chromium for the video page,
the real matching models, the outbox over SMTP.
"""

from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from kesu.capture import services as capturing
from kesu.demo import load as demo
from kesu.demo.web import DemoWeb
from kesu.lib.netsettings import parse_host_rules
from kesu.matching.models import Hit
from kesu.matching.services import source_url
from kesu.notices import compose, outbox
from kesu.notices import services as notices
from kesu.patrol import rechecks, services
from kesu.patrol.models import Recheck, Run, Stage
from kesu.review import services as review
from kesu.review.models import Decision
from kesu.sites.models import Site

pytestmark = pytest.mark.slow


@pytest.fixture
def web(settings, tmp_path_factory):
    with DemoWeb(tmp_path_factory.mktemp("demo-web"), removal_delay=0) as web:
        settings.KESU_ALLOW_LOOPBACK = True
        settings.KESU_CAPTURE_HOSTS = parse_host_rules([web.host_rules()], "test")
        settings.KESU_CAPTURE_WARM_CONTEXTS = 0
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", web.smtp_port
        settings.KESU_MAIL_ARCHIVE = ""
        settings.KESU_PATROL_RECHECK_FIRST_MINUTES = 0
        capturing.shutdown()
        yield web
        capturing.shutdown()


def found(case) -> dict[str, Hit]:
    """The case's hits by host and path of where they were found."""
    places = {}
    for hit in Hit.objects.filter(case=case):
        parts = urlsplit(source_url(hit))
        places[f"{parts.hostname}{parts.path}"] = hit
    return places


def diagnosis() -> list:
    """What did not go through, for a failing assertion's message."""
    from kesu.patrol.models import Page, Sighting

    stuck = [("page", p.stage, p.error) for p in Page.objects.exclude(stage=Stage.DONE)]
    stuck += [("sighting", s.stage, s.error) for s in Sighting.objects.exclude(stage=Stage.DONE)]
    return stuck


def test_the_demo_loop_from_reference_photos_to_a_removed_and_re_uploaded_copy(db, web):
    users = demo.load()
    case = users["demo"].cases.get()
    watches = demo.watch_demo_web(web.port)

    for watch in watches:
        services.start(watch)
    services.drain(seconds=900)

    hits = found(case)
    assert {
        "tubeleak.test/v/astronaut-holiday",
        "tubeleak.test/v/clip-excerpt",
        "imgboard.test/p/103",
        "imgboard.test/p/112",
        "reup.test/watch/astro-holiday",
        "geoblock.test/i/4",
    } <= set(hits), (sorted(hits), diagnosis())
    clip, cropped = hits["tubeleak.test/v/clip-excerpt"], hits["imgboard.test/p/103"]
    assert clip.signal == "vpdq" and clip.probability >= 0.95  # the re-encoded excerpt behind the HLS player
    assert cropped.probability >= 0.5  # the cropped photo, which PDQ alone misses
    assert hits["tubeleak.test/v/astronaut-holiday"].pink
    assert not any("filler" in key for key in hits)  # nothing unrelated matched
    assert all(run.status in (Run.Status.DONE, Run.Status.LIMITED) for run in Run.objects.all())

    # a reviewer confirms the re-upload site's copy; its notice goes to the demo web's SMTP server, which removes it
    original = hits["reup.test/watch/astro-holiday"]
    review.decide("user:demo", original, Decision.Kind.CONFIRM)
    (notice,) = compose.prepare("user:demo", case, urls=[source_url(original)], hit_ids=[original.pk]).notices
    assert notices.check(notice).complete, notices.check(notice).missing
    notices.send("user:demo", notice)
    notices.dispatch(notice.pk)
    outbox.deliver_due()
    notice.refresh_from_db()
    assert notice.status == notice.Status.SENT and len(web.mailbox) >= 1

    # the re-check sees it gone, with evidence of the change, and settles the notice
    rechecks.schedule()
    Recheck.objects.update(due_at=timezone.now())
    services.drain(seconds=300)
    (item,) = Recheck.objects.filter(notice=notice)
    assert item.state == Recheck.State.PAGE_GONE and item.gone_at is not None
    from kesu.evidence.models import EvidenceBundle

    change = EvidenceBundle.objects.get(pk=item.history[-1]["evidence"])  # preserved at the change
    assert change.status == EvidenceBundle.Status.DONE and change.reason == EvidenceBundle.Reason.PATROL
    notice.refresh_from_db()
    assert notice.outcome == "deleted" and notice.status == notice.Status.CLOSED

    # the site puts it back under a new address: the next patrol finds it and links it to the removed copy
    for watch in watches:
        services.start(watch, searches=False)
    services.drain(seconds=600)
    again = Hit.objects.get(case=case, reupload_of=original)
    assert source_url(again).endswith("/watch/astro-holiday-re1")
    assert Site.objects.get(domain="reup.test").reuploads == 1
    assert not Recheck.objects.exclude(stage__in=[Stage.FETCH, Stage.DONE]).exists()
