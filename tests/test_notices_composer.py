"""The notice composer: 1 copies · 2 who and which law · 3 template · 4 check · 5 send.

The routing proposal (step 2) is ``compose.propose``: it must write nothing and name exactly the recipients
and laws that ``compose.prepare`` then drafts for. Sites, organisations and contacts are created directly,
as the resolvers would leave them; the shipped templates are loaded as in production.
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from kesu.matching.models import Hit
from kesu.notices import compose, templates
from kesu.notices.models import Notice, NoticeEvent, NoticeTemplate
from kesu.sites import prediction
from kesu.sites.models import Contact, Organisation, Outcome, Role, Site, TakedownRequest
from kesu.vault import services as vault

TUBE = "https://leak.example/v/1"
MIRROR = "https://mirror-pics.example/p/7"


@pytest.fixture(autouse=True)
def english(clients, settings):
    for client in clients.values():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture(autouse=True)
def fresh_model():
    prediction.forget_model()
    yield
    prediction.forget_model()


def org(role, key, name, country="", *contacts):
    organisation = Organisation.objects.create(role=role, key=key, name=name, country=country)
    for priority, (channel, address) in enumerate(contacts, 1):
        Contact.objects.create(organisation=organisation, channel=channel, address=address, priority=priority * 10)
    return organisation


@pytest.fixture
def sites(db):
    """leak.example: operator by e-mail, a known host behind it, and a settled history to predict from;
    mirror-pics.example: an operator that takes notices only through its web form."""
    templates.sync_shipped()
    host = org(Role.HOST, "nl-host", "Dutch Hosting B.V.", "NL", ("email", "abuse@nlhost.example"))
    tube = Site.objects.create(
        domain="leak.example",
        operator=org(Role.OPERATOR, "leak", "Leak Tube", "", ("email", "abuse@leak.example")),
        host=host,
    )
    mirror = Site.objects.create(
        domain="mirror-pics.example",
        operator=org(Role.OPERATOR, "mirror", "Mirror Pics", "", ("form", "https://mirror-pics.example/report")),
    )
    now = timezone.now()
    for i in range(6):
        sent = now - timedelta(days=60 + i)
        TakedownRequest.objects.create(
            site=tube,
            recipient=tube.operator,
            role=Role.OPERATOR,
            case_type="ncii",
            sent_at=sent,
            outcome=Outcome.DELETED if i % 2 else Outcome.STILL_ONLINE,
            resolved_at=sent + timedelta(days=3),
        )
    return tube, mirror


def hit(case, url, probability=0.9, status=Hit.Status.CONFIRMED, signal="pdq"):
    return Hit.objects.create(
        case=case,
        sha256=f"{Hit.objects.count():064x}",
        signal=signal,
        probability=probability,
        status=status,
        source_url_sealed=vault.seal_text(case.data_key, url, "hit.source_url"),
    )


def page(client, path, method="get", **data):
    response = getattr(client, method)(path, data)
    return response.status_code, response.content.decode()


def written():
    """Everything preparing a notice writes: notices, their events, the hits they name."""
    return Notice.objects.count(), NoticeEvent.objects.count(), Notice.hits.through.objects.count()


def test_the_routing_proposal_writes_nothing_and_prepare_drafts_the_same_recipients(clients, case, sites):
    tube_hit = hit(case, TUBE)
    path = f"/cases/{case.pk}/notices/new/"
    form = {"hits": [str(tube_hit.pk)], "urls": f"{MIRROR}\nhttps://nowhere-known.example/x\n"}
    before = written()
    status, html = page(clients["on_case"], path, "post", stage="propose", **form)
    assert status == 200 and written() == before == (0, 0, 0)

    assert "Leak Tube" in html and "Mirror Pics" in html
    assert "Site operator" in html and "E-mail" in html and "Web form" in html
    assert "General removal request" in html  # neither site has a jurisdiction: the general request
    assert "Dutch Hosting B.V." in html and "Hosting provider" in html  # the next rung after the operator
    assert "nobody to send a notice to" in html  # the unknown site, with its reason
    assert "%" in html.split("Chance of deletion")[1].split("</dd>")[0]  # Leak Tube has a history
    assert 'value="prepare"' in html and f'value="{tube_hit.pk}"' in html  # the choice is carried on

    plan = compose.propose(case, urls=form["urls"].splitlines(), hit_ids=[tube_hit.pk])
    proposed = {(p.recipient.name, p.regime.key, p.step.channel, p.language) for p in plan.proposals}
    assert written() == before
    response = clients["on_case"].post(path, {**form, "stage": "prepare"}, follow=True)
    drafts = Notice.objects.all()
    assert {(n.recipient.name, n.regime, n.channel, n.language) for n in drafts} == proposed
    assert len(proposed) == 2 and response.redirect_chain[-1][0] == f"/cases/{case.pk}/notices/"
    assert list(Notice.objects.get(recipient__name="Leak Tube").hits.all()) == [tube_hit]

    # Proposed again, the same copies are said to be in open notices already.
    plan = compose.propose(case, urls=[MIRROR], hit_ids=[tube_hit.pk])
    assert [p.already_open for p in plan.proposals] == [1, 1] and Notice.objects.count() == 2


def test_a_single_draft_opens_at_the_template_step(clients, case, sites):
    response = clients["on_case"].post(f"/cases/{case.pk}/notices/new/", {"urls": TUBE, "stage": "prepare"})
    notice = Notice.objects.get()
    assert response.url == f"/notices/{notice.pk}/"


def test_nothing_chosen_stays_on_the_copies_step(clients, case, sites):
    status, html = page(clients["on_case"], f"/cases/{case.pk}/notices/new/", "post", stage="propose", urls=" ")
    assert status == 200 and "choose at least one URL or hit" in html and 'value="propose"' in html
    assert Notice.objects.count() == 0


def test_the_copies_step_preselects_the_hits_passed_in_the_address(clients, case, sites):
    sure, likely, other = hit(case, TUBE, 0.97), hit(case, MIRROR, 0.81), hit(case, "https://leak.example/v/3")
    rejected = hit(case, "https://leak.example/v/rejected", status=Hit.Status.REJECTED)
    status, html = page(clients["on_case"], f"/cases/{case.pk}/notices/new/?hits={sure.pk},{likely.pk},{rejected.pk}")
    assert status == 200
    assert f'value="{sure.pk}" id="hit-{sure.pk}" checked' in html
    assert f'value="{likely.pk}" id="hit-{likely.pk}" checked' in html
    assert f'value="{other.pk}" id="hit-{other.pk}">' in html  # shown, not ticked
    assert "v/rejected" not in html and f'id="hit-{rejected.pk}"' not in html
    assert '<span class="tag urgent">97 %' in html and "81 %" in html and '<span class="tag urgent">81' not in html
    assert "<strong>leak.example</strong>" in html and TUBE in html and "Picture hash (PDQ)" in html
    assert "1 Copies" in html and 'aria-current="step"' in html

    # Back from the proposal, the choice is kept.
    data = {"hits": [str(likely.pk)], "urls": "https://extra.example/1", "stage": "choose"}
    html = page(clients["on_case"], f"/cases/{case.pk}/notices/new/", "post", **data)[1]
    assert f'id="hit-{likely.pk}" checked' in html and f'id="hit-{sure.pk}" checked' not in html
    assert "https://extra.example/1</textarea>" in html


def test_another_template_version_or_language_re_renders_the_preview(clients, personas, case, sites):
    notice = compose.prepare("user:hana", case, urls=[TUBE]).notices[0]
    slot = NoticeTemplate.objects.get(regime=notice.regime, language="en", case_type="", role="")
    first = templates.latest(slot)
    templates.save_version(personas["supervisor"], slot, first.subject, first.body + "\nWith thanks from the desk.\n")
    path = f"/notices/{notice.pk}/"

    html = page(clients["on_case"], path)[1]
    assert "With thanks from the desk." in html and "3 Template" in html
    assert f'<option value="{first.pk}">' in html and "General removal request" in html

    clients["on_case"].post(f"/notices/{notice.pk}/template/", {"version": str(first.pk)})
    html = page(clients["on_case"], path)[1]
    assert "With thanks from the desk." not in html and f'<option value="{first.pk}" selected>' in html
    assert notice.events.filter(kind="template").exists()

    clients["on_case"].post(f"/notices/{notice.pk}/template/", {"version": ""})
    assert "With thanks from the desk." in page(clients["on_case"], path)[1]

    other = NoticeTemplate.objects.get(regime="dmca", language="en", case_type="", role="")
    response = clients["on_case"].post(f"/notices/{notice.pk}/template/", {"version": str(templates.latest(other).pk)})
    assert response.status_code == 302 and Notice.objects.get().template_version is None  # not this regime's
    assert clients["outsider"].post(f"/notices/{notice.pk}/template/", {"version": ""}).status_code == 404

    clients["on_case"].post(f"/notices/{notice.pk}/language/", {"language": "ja"})
    html = page(clients["on_case"], path)[1]
    assert "の削除のご依頼" in html and "With thanks from the desk." not in html  # the Japanese text


def test_the_checklist_ticks_every_element_and_send_waits_for_the_missing_one(clients, case, sites):
    notice = compose.prepare("user:hana", case, urls=[TUBE]).notices[0]
    required = compose.check(notice).regime.required_for(case.case_type)
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert html.count("<strong>Present:</strong>") == len(required) - 1
    assert html.count("<strong>Missing:</strong>") == 1
    assert "statement that the desk acts for her (power of attorney) — <em>the case has no signed mandate" in html
    assert '<button aria-describedby="send-why" class="primary" disabled>Send</button>' in html
    why = html.split('id="send-why"')[1].split("</p>")[0]
    assert "1 required element is missing" in why and "power of attorney" in why

    case.mandate_signed_on = date(2026, 10, 1)
    case.save()
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert html.count("<strong>Present:</strong>") == len(required) and "Missing:" not in html
    assert '<button class="primary">Send</button>' in html and 'id="send-why"' not in html
    assert "sends the e-mail through the outbox" in html


def test_the_send_step_says_when_the_web_form_helper_applies(clients, case, sites):
    case.mandate_signed_on = date(2026, 10, 1)
    case.save()
    notice = compose.prepare("user:hana", case, urls=[MIRROR]).notices[0]
    assert notice.channel == Notice.Channel.FORM
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert "takes notices only through its web form" in html
    assert '<button class="primary">Prepare for the web form</button>' in html


def test_every_step_renders_in_japanese(clients, case, sites, settings):
    client = clients["on_case"]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    tube_hit = hit(case, TUBE)
    new = f"/cases/{case.pk}/notices/new/"
    steps = [
        page(client, f"{new}?hits={tube_hit.pk}"),
        page(client, new, "post", stage="propose", hits=[str(tube_hit.pk)]),
    ]
    client.post(new, {"stage": "prepare", "hits": [str(tube_hit.pk)]})
    steps.append(page(client, f"/notices/{Notice.objects.get().pk}/"))
    for status, html in steps:
        assert status == 200 and '<html lang="ja">' in html
        assert "新規削除依頼" in html or "削除依頼" in html  # the heading, from the shipped catalogue
    assert "Leak Tube" in steps[1][1] and "法的根拠" in steps[1][1]
    assert "プレビュー" in steps[2][1]
