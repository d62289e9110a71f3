"""The case page: one timeline of everything that happened, the next due action, and the actions staff take
from there (preserve, request removal, escalate, close). Who may see it, what it never shows (her contact
notes, the URLs of hits), and that it costs the same few queries for 5 hits or 500.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from kesu.audit.models import AuditEntry
from kesu.cases import timeline
from kesu.cases.models import Case, ContactEntry
from kesu.evidence.models import EvidenceBundle
from kesu.matching.models import Hit
from kesu.notices import compose
from kesu.notices.models import Notice, NoticeEvent, OutboxMessage, Reply
from kesu.patrol.models import Recheck, Stage
from kesu.vault import services as vault

HIT_URL = "https://leak.example/v/hanako-secret-hit-{n}"
NOTICE_URL = "https://leak.example/v/hanako-secret-notice"
EVIDENCE_URL = "https://forum.example/t/thread-about-her"
NOTE = "She called about the forum post from her ex."


@pytest.fixture(autouse=True)
def english(clients, settings):
    for client in clients.values():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def base():
    """Ten days ago at 10:00 in the desk's time zone, so a day's rows stay on one local day."""
    return timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=10)


def make_hits(case, count, *, at, pink=0, **fields) -> list[Hit]:
    """``count`` hits found ``at`` (a minute apart), the first ``pink`` of them at ≥95 %."""
    hits = Hit.objects.bulk_create(
        Hit(
            case=case,
            sha256=uuid.uuid4().hex * 2,
            signal="pdq",
            probability=0.97 if i < pink else 0.6,
            source_url_sealed=vault.seal_text(case.data_key, HIT_URL.format(n=i), "hit.source_url"),
            source_key=uuid.uuid4().hex,
            **fields,
        )
        for i in range(count)
    )
    for i, hit in enumerate(hits):  # created_at is set on insert; the story needs its own days
        Hit.objects.filter(pk=hit.pk).update(created_at=at + timedelta(minutes=i))
    return hits


def set_at(queryset, at, field="at"):
    queryset.update(**{field: at})


def sent_notice(case, at) -> Notice:
    """A notice as the worker leaves it once the server took it."""
    notice = compose.prepare("user:hana", case, urls=[NOTICE_URL]).notices[0]
    set_at(notice.events.all(), at)
    notice.status, notice.sent_at = Notice.Status.SENT, at + timedelta(hours=1)
    notice.save()
    compose.event(notice, "sent", "system:outbox", message="notice", code=250)
    set_at(notice.events.filter(kind="sent"), at + timedelta(hours=1))
    return notice


def reply_for(notice, at, proposal=Reply.Proposal.REMOVED) -> Reply:
    key = notice.case.data_key
    content = {"from": "abuse@leak.example", "subject": "Re: removal", "text": "We removed it."}
    return Reply.objects.create(
        mailbox_uid=f"1:{uuid.uuid4().hex}", notice=notice, case=notice.case, threaded_by="reply",
        from_domain="leak.example", received_at=at, data_key=key,
        sealed=vault.seal_json(key, content, "reply.content"), proposal=proposal,
    )  # fmt: skip


def recheck(case, notice, history, state=Recheck.State.PAGE_GONE) -> Recheck:
    return Recheck.objects.create(
        case=case, notice=notice, url_key=vault.blind_index(NOTICE_URL), host="leak.example",
        url_sealed=vault.seal_text(case.data_key, NOTICE_URL, "recheck.url"), stage=Stage.FETCH, state=state,
        history=[{"at": at.isoformat(), "state": s, "status": code, "evidence": ""} for at, s, code in history],
        changed_at=max((at for at, _s, _code in history), default=None),  # as notices.outcomes.apply_outcome keeps it
    )  # fmt: skip


@pytest.fixture
def story(case, personas, leak, base):
    """A case with something of every sort, each at a known time (see the expected order below)."""
    set_at(case.references.all(), base, "created_at")
    set_at(ContactEntry.objects.filter(case=case), base + timedelta(hours=1))
    make_hits(case, 12, at=base + timedelta(days=1), pink=3)
    confirmed, rejected = make_hits(case, 2, at=base + timedelta(days=2), pink=1)
    hana = personas["on_case"]
    Hit.objects.filter(pk=confirmed.pk).update(status="confirmed", decided_by=hana, decided_at=base + timedelta(days=3))
    Hit.objects.filter(pk=rejected.pk).update(
        status="rejected", decided_by=hana, decided_at=base + timedelta(days=3, minutes=1)
    )
    bundle = EvidenceBundle.objects.create(
        case=case, url_sealed=vault.seal_text(case.data_key, EVIDENCE_URL, "evidence.url"), reason="staff",
        status="done", outcome="complete", media_count=2, finished_at=base + timedelta(days=4, hours=1),
    )  # fmt: skip
    set_at(EvidenceBundle.objects.filter(pk=bundle.pk), base + timedelta(days=4), "requested_at")
    notice = sent_notice(case, base + timedelta(days=5))
    reply_for(notice, base + timedelta(days=6))
    compose.event(notice, "outcome", "user:hana", outcome="deleted")
    set_at(notice.events.filter(kind="outcome"), base + timedelta(days=7))
    history = [
        (base + timedelta(days=5, hours=2), "online", 200),
        (base + timedelta(days=7, hours=1), "page_gone", 410),
    ]
    recheck(case, notice, history)
    return {"notice": notice, "confirmed": confirmed, "rejected": rejected}


def page(client, path, method="get", **data):
    response = getattr(client, method)(path, data)
    return response.status_code, response.content.decode()


# --- the timeline --------------------------------------------------------------------------------------------


def test_the_timeline_merges_every_source_newest_first(case, story):
    events = timeline.events(case)
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    case_events = [e for e in events if e.kind == "case"]
    assert {e.title for e in case_events} == {"Case opened", "Consent recorded", "Assigned: hana"}
    assert events[: len(case_events)] == case_events  # the audit entries were written just now

    told = [(e.kind, e.title, e.detail, e.tone) for e in events if e.kind != "case"]
    assert told[:-2] == [
        ("recheck", "Re-check: Page gone", "leak.example · HTTP 410", "done"),
        ("outcome", "Leak Tube: Deleted", "by hana", "done"),
        ("reply", "Reply from Leak Tube", "looks like: Removed", ""),
        ("recheck", "Re-check: Media still there", "leak.example · HTTP 200", "warn"),
        ("notice", "Notice to Leak Tube sent", "", "done"),
        ("notice", "Notice to Leak Tube drafted", "step 1, 1 URL(s) · by hana", ""),
        ("evidence", "Page preserved", "2 media", "done"),
        ("evidence", "Preservation requested", "Requested by staff", ""),
        ("decision", "Hit rejected", "60% · by hana", ""),
        ("decision", "Hit confirmed", "97% · by hana", "done"),
        ("hit", "Hit found", "Picture hash (PDQ) · 60%", ""),
        ("hit", "Hit found", "Picture hash (PDQ) · 97%", "pink"),
        ("hit", "12 hits found", "3 at ≥95%", "pink"),
        ("contact", "Phone call from her", "by Kesu", ""),
    ]
    assert sorted(told[-2:]) == [  # both references were put at the same moment
        ("reference", "Reference added: Face photo", "by Kesu", ""),
        ("reference", "Reference added: Image", "by Kesu", ""),
    ]
    notice = story["notice"]
    links = {e.title: e.link for e in events}
    assert links["Notice to Leak Tube sent"] == f"/notices/{notice.pk}/"
    assert links["12 hits found"] == f"/review/?case={case.pk}"
    assert links["Reply from Leak Tube"] == f"/notices/replies/{Reply.objects.get().pk}/"
    text = repr(events)
    assert "secret" not in text and "forum" not in text and NOTE not in text and "Hanako" not in text


def test_the_timeline_filters_by_kind_and_keeps_the_limit(case, story):
    only = timeline.events(case, kinds=["contact", "recheck"])
    assert [e.kind for e in only] == ["recheck", "recheck", "contact"]
    assert timeline.parse_kinds(["contact,hit", "nonsense", "reply"]) == ["hit", "reply", "contact"]
    newest = timeline.events(case, limit=4)
    assert newest == timeline.events(case)[:4]


def test_many_notice_events_of_one_kind_on_one_day_become_one_line(case, story, base):
    notice = story["notice"]
    for n in range(5):
        compose.event(notice, "evidence", "system:notices", bundle=str(n), outcome="complete")
    at = base + timedelta(days=8)
    set_at(notice.events.filter(kind="evidence"), at)
    kept = [e for e in timeline.events(case, kinds=["notice"]) if "Evidence kept" in e.title]
    assert [(e.title, e.at) for e in kept] == [("Evidence kept for the notice to Leak Tube (×5)", at)]


# --- the page -----------------------------------------------------------------------------------------------


def test_the_case_page_shows_facts_next_action_timeline_then_sections(clients, case, story, victim_details):
    status, html = page(clients["on_case"], f"/cases/{case.pk}/")
    assert status == 200
    order = [html.index(marker) for marker in ('class="facts"', 'id="next"', 'id="timeline"', 'id="references"',
                                               'id="notices"', 'id="evidence"', 'id="contacts"')]  # fmt: skip
    assert order == sorted(order)
    assert "12 hits found" in html and "Phone call from her" in html and "Re-check: Page gone" in html
    assert f'<a href="/review/?case={case.pk}">12 hits found</a>' in html
    for i in range(12):
        assert HIT_URL.format(n=i) not in html
    assert "hanako-secret" not in html and NOTE not in html and "forum post" not in html
    assert victim_details.name not in html and victim_details.contact["email"] not in html
    assert EVIDENCE_URL in html  # the evidence section names its page (not a hit's), as before
    # every box of the filter has a label; the timeline says when each line happened, machine-readably too
    assert html.count('type="checkbox" name="kinds"') == len(timeline.KINDS)
    assert html.count('<label class="check"><input type="checkbox" name="kinds"') == len(timeline.KINDS)
    assert '<time datetime="' in html.split('id="timeline"')[1]

    status, html = page(clients["on_case"], f"/cases/{case.pk}/", kinds="contact")
    section = html.split('id="timeline"')[1].split("</section>")[0]
    assert "Phone call from her" in section and "hits found" not in section
    assert 'value="contact" checked' in section and "Show everything" in section


def test_contact_notes_open_only_on_a_deliberate_click_and_are_logged(clients, case):
    path = f"/cases/{case.pk}/contacts/notes/"
    assert "Show the notes (logged)" in page(clients["on_case"], f"/cases/{case.pk}/")[1]
    assert not AuditEntry.objects.filter(action="contact.view").exists()
    assert clients["on_case"].get(path).status_code == 405
    assert clients["outsider"].post(path).status_code == 404
    response = clients["on_case"].post(path)
    assert response.status_code == 200 and NOTE in response.content.decode()
    assert response["Cache-Control"] == "no-store, private"
    assert AuditEntry.objects.filter(action="contact.view", case_id=case.pk, actor="user:hana").count() == 1


def test_only_staff_on_the_case_and_supervisors_see_the_page(clients, case, story):
    assert clients["outsider"].get(f"/cases/{case.pk}/").status_code == 404
    assert clients["outsider"].get(f"/cases/{case.pk}/", {"kinds": "hit"}).status_code == 404
    assert clients["supervisor"].get(f"/cases/{case.pk}/").status_code == 200
    assert clients["admin"].get(f"/cases/{case.pk}/").status_code == 200


# --- what is due ----------------------------------------------------------------------------------------------


def kinds_due(case, user):
    return [action.kind for action in timeline.due_actions(case, user)]


def test_the_next_action_is_the_most_urgent_of_what_is_due(case, personas, leak, base):
    hana = personas["on_case"]
    assert timeline.next_action(case, hana) is None

    case.continuation_due_on = timezone.localdate() - timedelta(days=1)
    case.save()
    assert kinds_due(case, hana) == ["continuation"]

    draft = compose.prepare("user:hana", case, urls=["https://leak.example/v/draft"]).notices[0]
    assert kinds_due(case, hana) == ["drafts", "continuation"]
    assert timeline.next_action(case, hana).link == f"/notices/{draft.pk}/"

    make_hits(case, 2, at=base, pink=1)
    action = timeline.next_action(case, hana)
    assert (action.kind, action.title, action.detail, action.tone) == (
        "hits", "2 new hits to review", "1 at ≥95%", "pink",
    )  # fmt: skip
    assert action.link == f"/review/?case={case.pk}"

    notice = sent_notice(case, base)
    reply = reply_for(notice, base + timedelta(days=1), Reply.Proposal.MORE_INFO)
    assert timeline.next_action(case, hana).kind == "replies"
    assert timeline.next_action(case, hana).link == f"/notices/replies/{reply.pk}/"

    notice.deadline_hours = 48
    notice.save()
    recheck(case, notice, [(base + timedelta(days=1), "online", 200)], state=Recheck.State.ONLINE)
    action = timeline.next_action(case, hana)
    assert (action.kind, action.title) == ("past_deadline", "Still online after the deadline: Leak Tube")

    notice.escalate_at = timezone.now() - timedelta(hours=1)
    notice.save()
    action = timeline.next_action(case, hana)
    assert (action.kind, action.notice_id, action.title) == ("escalate", notice.pk, "Escalation due: Leak Tube")

    OutboxMessage.objects.create(
        key=f"notice:{notice.pk}:1", kind="reminder", case=case, notice=notice, message_id="<m1@kesu>",
        message_sealed=b"x", recipients_sealed=b"x", status="failed", next_attempt_at=timezone.now(),
    )  # fmt: skip
    assert kinds_due(case, hana) == ["failed_mail", "escalate", "replies", "hits", "drafts", "continuation"]

    reply.decision = Reply.Proposal.MORE_INFO
    reply.save()
    Hit.objects.filter(case=case).update(status="rejected")
    assert "replies" not in kinds_due(case, hana) and "hits" not in kinds_due(case, hana)


def test_the_page_shows_the_next_action_with_its_button(clients, case, leak, base):
    notice = sent_notice(case, base)
    notice.escalate_at = timezone.now() - timedelta(hours=1)
    notice.save()
    status, html = page(clients["on_case"], f"/cases/{case.pk}/")
    next_box = html.split('id="next"')[1].split('id="timeline"')[0]
    assert "Escalation due: Leak Tube" in next_box
    assert f'action="/notices/{notice.pk}/escalate/"' in next_box

    response = clients["on_case"].post(f"/notices/{notice.pk}/escalate/")
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.escalate_at is None and NoticeEvent.objects.filter(notice=notice, kind="escalated").exists()
    assert "Escalation due" not in page(clients["on_case"], f"/cases/{case.pk}/")[1]


def test_the_continuation_check_is_answered_from_the_next_action(clients, case):
    case.continuation_due_on = timezone.localdate()
    case.save()
    html = page(clients["on_case"], f"/cases/{case.pk}/")[1]
    next_box = html.split('id="next"')[1].split('id="timeline"')[0]
    assert "Ask her whether the case should continue" in next_box
    assert f'action="/cases/{case.pk}/continuation/"' in next_box
    clients["on_case"].post(f"/cases/{case.pk}/continuation/", {"answer": "continue"})
    case.refresh_from_db()
    assert case.continuation_due_on > timezone.localdate()
    assert "Nothing is due on this case." in page(clients["on_case"], f"/cases/{case.pk}/")[1]


# --- actions ------------------------------------------------------------------------------------------------------


def test_request_removal_preselects_the_confirmed_hits_not_yet_in_a_notice(clients, case, leak, base):
    confirmed = make_hits(case, 3, at=base, status="confirmed")
    make_hits(case, 2, at=base, status="rejected")
    make_hits(case, 2, at=base)
    in_notice = compose.prepare("user:hana", case, hit_ids=[confirmed[0].pk]).notices[0]
    assert list(in_notice.hits.all()) == [confirmed[0]]

    html = page(clients["on_case"], f"/cases/{case.pk}/")[1]
    wanted = ",".join(str(h.pk) for h in confirmed[1:])
    assert f'href="/cases/{case.pk}/notices/new/?hits={wanted}"' in html
    in_notice.status = Notice.Status.CANCELLED
    in_notice.save()
    assert timeline.removal_hit_ids(case) == [h.pk for h in confirmed]


def test_closing_the_case_asks_first_and_warns_of_open_notices(clients, case, leak, base):
    path = f"/cases/{case.pk}/close/"
    notice = sent_notice(case, base)
    assert clients["outsider"].get(path).status_code == 404
    assert clients["outsider"].post(path, {"confirm": case.pk, "despite_open": "1"}).status_code == 404

    status, html = page(clients["on_case"], path)
    assert status == 200 and "1 notice is still open" in html and notice.token in html
    assert 'name="despite_open" value="1" required' in html

    status, html = page(clients["on_case"], path, "post", confirm=case.pk)
    case.refresh_from_db()
    assert status == 200 and case.status != Case.Status.CLOSED
    assert "Notices are still open" in html

    response = clients["on_case"].post(path, {"confirm": case.pk, "despite_open": "1"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.closed_at is not None
    entry = AuditEntry.objects.filter(action="case.status", case_id=case.pk).last()
    assert entry.actor == "user:hana" and entry.detail == {"status": "closed"}
    html = page(clients["on_case"], f"/cases/{case.pk}/")[1]
    assert "Status: Closed" in html and f'href="{path}"' not in html


def test_a_case_without_open_notices_closes_after_one_confirmation(clients, case):
    path = f"/cases/{case.pk}/close/"
    assert f'href="{path}"' in page(clients["on_case"], f"/cases/{case.pk}/")[1]
    status, html = page(clients["on_case"], path)
    assert "No notice is open on this case." in html and "despite_open" not in html
    clients["on_case"].post(path)  # no confirmation: nothing happens
    case.refresh_from_db()
    assert case.status != Case.Status.CLOSED
    assert clients["on_case"].post(path, {"confirm": case.pk}).status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED


# --- cost -------------------------------------------------------------------------------------------------------


def queries_for(client, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_page_costs_the_same_queries_for_5_hits_or_500(clients, case, story, base, django_assert_max_num_queries):
    path = f"/cases/{case.pk}/"
    few = queries_for(clients["on_case"], path)
    for day in range(10):  # 500 more hits over ten days, some decided
        hits = make_hits(case, 50, at=base + timedelta(days=day, hours=3), pink=5)
        Hit.objects.filter(pk__in=[h.pk for h in hits[:20]]).update(
            status="confirmed", decided_at=base + timedelta(days=day, hours=5)
        )
    assert Hit.objects.filter(case=case).count() == 514
    with django_assert_max_num_queries(few + 2):
        html = clients["on_case"].get(path).content.decode()
    assert "62 hits found" in html and "20 hits confirmed" in html
    assert "312 new hits to review" in html
