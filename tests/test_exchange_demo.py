"""A case that holds only hashes, end to end over the demo web (issue 21, item 5): her hashes imported from a
file made by threatexchange's own hashers (as her device or StopNCII's tool makes them), a copy found on a demo
site by the patrol, reviewed with no picture of hers, a notice sent, and the re-check seeing it gone.

Real parts: the demo web's HTTP and SMTP servers on loopback, the real matching, the outbox over SMTP."""

from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from test_patrol_demo import web  # noqa: F401 (fixture)
from threatexchange.extensions.vpdq.vpdq_util import hash_file_compact, vpdq_to_json
from threatexchange.signal_type.pdq.signal import PdqSignal

from kesu.accounts.principals import SystemPrincipal
from kesu.cases import services as cases
from kesu.cases.models import Case
from kesu.demo import load as demo
from kesu.exchange import services as exchange
from kesu.matching.models import Hit
from kesu.matching.services import source_url
from kesu.notices import compose, outbox
from kesu.notices import services as notices
from kesu.patrol import rechecks, services
from kesu.patrol.models import Recheck
from kesu.review import services as review
from kesu.review.models import Decision

pytestmark = pytest.mark.slow
OPERATOR = SystemPrincipal("test")


def hash_file(tmp_path) -> bytes:
    """Her hashes as a threatexchange local file: the PDQ of her photo, the vPDQ of her video."""
    _, photo = demo._astronaut()
    _, clip = demo._clip()
    video = tmp_path / "clip.mp4"  # the demo's synthetic public-domain clip: a file is fine
    video.write_bytes(clip)
    lines = [f"pdq {PdqSignal.hash_from_bytes(photo)}", f"vpdq {vpdq_to_json(hash_file_compact(str(video), 1.0))}"]
    return "\n".join(lines).encode()


def test_a_hash_only_case_is_patrolled_reviewed_noticed_and_rechecked_over_the_demo_web(db, web, tmp_path):  # noqa: F811
    case = cases.create_case(
        OPERATOR, "ncii", details=cases.VictimDetails(name="デモ 花子"), consent=["search", "takedown", "evidence"]
    )
    case.mandate_signed_on = timezone.localdate()
    case.save(update_fields=["mandate_signed_on"])
    cases.set_status(OPERATOR, case, Case.Status.ACTIVE)
    users = demo.load()  # staff and the demo sites; no demo case, since a case exists
    cases.set_assignees(OPERATOR, case, [users["demo"]])
    items = exchange.import_file(OPERATOR, case, "her-hashes.txt", hash_file(tmp_path))
    assert [i.kind for i in items] == ["hashes", "hashes"] and not any(i.blob_id for i in items)

    for watch in demo.watch_demo_web(web.port):
        services.start(watch)
    services.drain(seconds=900)
    hits = {
        f"{urlsplit(source_url(h)).hostname}{urlsplit(source_url(h)).path}": h for h in Hit.objects.filter(case=case)
    }
    assert {
        "tubeleak.test/v/astronaut-holiday",
        "reup.test/watch/astro-holiday",
        "tubeleak.test/v/clip-excerpt",
    } <= set(hits), sorted(hits)
    assert hits["tubeleak.test/v/clip-excerpt"].signal == "vpdq"
    assert not any("filler" in key for key in hits)
    copy = hits["reup.test/watch/astro-holiday"]
    assert copy.signal == "pdq" and copy.reference.kind == "hashes"

    # reviewed with no picture of hers, then noticed: the demo web's operator removes it on the notice
    review.decide("user:demo", copy, Decision.Kind.CONFIRM)
    (notice,) = compose.prepare("user:demo", case, urls=[source_url(copy)], hit_ids=[copy.pk]).notices
    assert notices.check(notice).complete, notices.check(notice).missing
    notices.send("user:demo", notice)
    notices.dispatch(notice.pk)
    outbox.deliver_due()
    notice.refresh_from_db()
    assert notice.status == notice.Status.SENT and len(web.mailbox) >= 1

    rechecks.schedule()
    Recheck.objects.update(due_at=timezone.now())
    services.drain(seconds=300)
    (item,) = Recheck.objects.filter(notice=notice)
    assert item.state == Recheck.State.PAGE_GONE
    notice.refresh_from_db()
    assert notice.outcome == "deleted"
