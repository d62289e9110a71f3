"""The contract of every registered patrol stage (kesu/patrol/stages.py), on real rows and a real local site.

A page with her picture and a page with a player go through the whole pipeline, one stage at a time in
ORDER, and a notice already sent for the first page gives the re-check its row. At each stage, on one of
its rows: a row not yet due, or held by another worker, is left alone; and when another worker takes the
row over while ours runs (our lease ran out), our commit raises LostClaim and nothing of it is kept. Then
the stage's rows are worked for real, which makes the next stage's rows.
A new stage registered without a row reaching it here fails this test: give the site a page that leads there.
"""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from test_patrol import jpeg, operated, sent_notice, site, watch_of  # noqa: F401 - operated and site are fixtures

from kesu.audit.models import AuditEntry
from kesu.evidence.models import EvidenceBundle
from kesu.lib.workrows import LostClaim
from kesu.matching.models import Hit
from kesu.notices.models import Notice
from kesu.patrol import alerts, claims, rechecks, services, stages  # noqa: F401 - alerts registers its stage
from kesu.patrol.models import Fingerprint, Page, Recheck, Run, Sighting


@pytest.fixture
def fresh_browser(settings):
    from kesu.capture import services as capturing

    settings.KESU_CAPTURE_PAGE_SECONDS = 30
    settings.KESU_CAPTURE_WARM_CONTEXTS = 0
    capturing.shutdown()
    yield
    capturing.shutdown()


def test_every_registered_stage_is_in_the_order_drain_and_the_tasks_follow():
    from kesu.patrol import tasks

    assert set(stages.REGISTRY) == set(stages.ORDER)
    for name, stage in stages.REGISTRY.items():
        assert issubclass(stage, stages.Stage) and stage.name == name
        assert getattr(tasks, name).name == f"patrol.{name}"


# Without the browser every stage but capture is walked; the slow run (a real browser) walks them all.
@pytest.mark.parametrize("browser", ["never", pytest.param("auto", marks=pytest.mark.slow)])
def test_every_stage_commits_only_while_its_claim_is_ours(db, case, fresh_browser, astronaut_png, browser, request):
    web = request.getfixturevalue("operated")  # the site, whose operator takes notices: a re-check needs one sent
    web.html("/latest", '<a href="/v/1">one</a> <a href="/v/2">two</a>')
    web.html("/v/1", '<img src="/m/1.jpg">')
    web.html("/v/2", '<video></video><img src="/m/1.jpg">')  # a player: only the browser sees it
    web.pages["/m/1.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.6, 75))
    sent_notice(case, [web.url("/v/1")])
    assert rechecks.schedule() == 1
    Recheck.objects.update(due_at=timezone.now())
    services.start(watch_of(web, browser=browser))

    walked = set()
    with stages.inline():
        for stage in stages.ordered():
            rows = stage.model.objects.filter(stage=stage.row_stage())
            pk = rows.order_by("pk").values_list("pk", flat=True).first()
            if pk is None:
                continue
            _not_due_or_taken(stage, pk)
            _lost_claim_keeps_nothing(stage, pk)
            _work(stage)
            walked.add(stage.name)
    assert walked == set(stages.ORDER) - ({"capture"} if browser == "never" else set())
    assert Hit.objects.filter(case=case).count() == 2  # /v/1 and /v/2: the pipeline still works after all that


def _not_due_or_taken(stage, pk):
    model = stage.model
    before = model.objects.values().get(pk=pk)
    model.objects.filter(pk=pk).update(due_at=timezone.now() + timedelta(hours=1))
    assert stage().handle(pk) == stages.NOT_DUE
    model.objects.filter(pk=pk).update(due_at=before["due_at"])
    other = claims.claim(model, pk, stage.row_stage())  # another worker holds it
    assert other and stage().handle(pk) == stages.NOT_DUE
    claims.defer(model, pk, other, 0)
    assert model.objects.values().get(pk=pk) | {"due_at": before["due_at"]} == before


def _lost_claim_keeps_nothing(stage, pk):
    model, ours = stage.model, stage()
    ctx = ours.claim(pk)
    assert ctx is not None and ours.claim(pk) is None
    result = ours.run(ctx)  # the real work, outside any transaction
    expired = timezone.now() - claims.lease() - timedelta(seconds=1)
    model.objects.filter(pk=pk).update(claimed_at=expired)  # ours ran past its lease
    other = claims.claim(model, pk, stage.row_stage())
    assert other, f"{stage.name}: a claim past its lease was not taken over"
    before = _world()
    with pytest.raises(LostClaim):
        ours.settle(ctx, result)
    assert _world() == before, f"{stage.name}: a commit without the claim kept something"
    row = model.objects.get(pk=pk)
    assert (row.stage, row.claim) == (stage.row_stage(), other)
    claims.defer(model, pk, other, 0)


def _world() -> dict:
    """What a stage's commit may write."""
    counts = {model.__name__: model.objects.count() for model in (Page, Sighting, Fingerprint, Hit, Run, AuditEntry,
                                                                   EvidenceBundle)}  # fmt: skip
    rows = {model.__name__: sorted(model.objects.values_list("pk", "stage", "completions", "error"))
            for model in (Page, Sighting, Fingerprint)}  # fmt: skip
    seen = {"rechecks": sorted(Recheck.objects.values_list("pk", "stage", "completions", "state", "checks")),
            "outcomes": sorted(Notice.objects.values_list("pk", "outcome"))}  # fmt: skip
    return counts | rows | seen | {"run hits": Run.objects.aggregate(n=Sum("hits"))["n"]}


def _work(stage):
    """Work this stage's rows for real until none is left but those due later than a minute from now (a
    politeness wait is short here; a re-check's next look is hours away)."""
    deadline = timezone.now() + timedelta(seconds=60)
    while timezone.now() < deadline:
        ids = list(claims.claimable(stage.model, stage.row_stage()).values_list("pk", flat=True))
        soon = stage.model.objects.filter(stage=stage.row_stage(), due_at__lte=timezone.now() + timedelta(minutes=1))
        if not ids and not soon.exists():
            return
        for pk in ids:
            stage().handle(pk)
    raise AssertionError(f"rows stuck in stage {stage.name}")
