"""Staff record the legal events of a sent notice: DSA 16(4) confirmation, 16(5) decision, eSafety's removal
notice. Through Django's test client (the notice page's forms) and the CLI, on real rows.

The notices are written as rows already sent (the outbox's own tests send real mail); what is under test
is recording the events: the event, its audit entry, the history row the reports read, the clock, the
case timeline, and a clear one-line refusal of anything wrong with nothing stored.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from kesu.audit.models import AuditEntry
from kesu.notices.models import Notice, NoticeEvent
from kesu.sites.models import Organisation, Site, TakedownRequest


@pytest.fixture
def plain_case(personas, victim_details):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import services

    return services.create_case(SystemPrincipal("test"), "ncii", details=victim_details,
                                assignees=[personas["on_case"]], consent=["search", "takedown"])  # fmt: skip


def sent_notice(case, regime: str, *, role="host", sent_at=None, token="KS-LEGAL01") -> Notice:
    org = Organisation.objects.create(role="host", key=f"host-{token}", name=f"Provider {token}", country="DE")
    site = Site.objects.create(domain=f"{token.lower()}.example", host=org)
    sent_at = sent_at or timezone.now() - timedelta(days=3)
    request = TakedownRequest.objects.create(site=site, recipient=org, role=role, case_type=case.case_type,
                                             case_id=case.pk, legal_basis=regime, sent_at=sent_at,
                                             reference=f"kesu-notice:{token}")  # fmt: skip
    return Notice.objects.create(case=case, recipient=org, site=site, request=request, role=role, channel="email",
                                 address="abuse@provider.example", regime=regime, language="en", token=token,
                                 urls_sealed=b"", url_count=1, status=Notice.Status.SENT, sent_at=sent_at,
                                 created_by="user:hana")  # fmt: skip


def post(client, notice, **data):
    return client.post(f"/notices/{notice.pk}/legal-event/", data, follow=True)


def test_a_dsa_notice_takes_the_16_4_confirmation_and_the_16_5_decision(plain_case, clients):
    notice = sent_notice(plain_case, "eu_dsa_16")
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert 'id="receipt-form"' in page and 'id="decision-form"' in page and 'id="authority-form"' not in page

    confirmed = notice.sent_at + timedelta(hours=5)
    response = post(
        client, notice, kind="receipt_confirmed", at=timezone.localtime(confirmed).strftime("%Y-%m-%dT%H:%M")
    )
    assert "Recorded on the notice" in response.content.decode()
    request = TakedownRequest.objects.get(pk=notice.request_id)
    assert request.receipt_confirmed_at == confirmed.replace(second=0, microsecond=0)
    assert NoticeEvent.objects.filter(notice=notice, kind="receipt_confirmed").count() == 1
    assert AuditEntry.objects.filter(action="notice.receipt_confirmed", case_id=plain_case.pk).count() == 1

    decided = (notice.sent_at + timedelta(days=1)).replace(microsecond=0)
    post(client, notice, kind="decision", decision="refused", at=decided.isoformat())
    request.refresh_from_db()
    assert (request.decision, request.decided_at) == ("refused", decided)
    assert AuditEntry.objects.get(action="notice.decision").detail["decision"] == "refused"
    assert request.outcome == "ongoing"  # what the re-checks see stays the notice's outcome

    timeline = client.get(f"/cases/{plain_case.pk}/").content.decode()
    assert f"Provider {notice.token} confirmed receipt of the notice" in timeline
    assert f"Provider {notice.token} notified its decision" in timeline and "Refused" in timeline


@pytest.mark.parametrize(
    "data, error",
    [
        ({"kind": "decision", "decision": "shrugged", "at": "2026-12-01T10:00+00:00"}, "unknown decision"),
        ({"kind": "receipt_confirmed", "at": "yesterday"}, "is not a date and time"),
        ({"kind": "receipt_confirmed", "at": "2099-01-01T10:00+00:00"}, "is in the future"),
        ({"kind": "receipt_confirmed", "at": "2000-01-01T10:00+00:00"}, "is before the notice was sent"),
        ({"kind": "authority_notice", "at": "2026-12-01T10:00+00:00"}, "takes no authority notice"),
    ],
)
def test_bad_input_gets_one_line_and_nothing_is_stored(plain_case, clients, data, error):
    notice = sent_notice(plain_case, "eu_dsa_16", sent_at=datetime(2026, 11, 1, tzinfo=UTC))
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = post(client, notice, **data).content.decode()
    assert error in page and "Traceback" not in page
    request = TakedownRequest.objects.get(pk=notice.request_id)
    assert (request.receipt_confirmed_at, request.decision, request.decided_at) == (None, "", None)
    assert not NoticeEvent.objects.filter(notice=notice).exists()
    assert not AuditEntry.objects.filter(action__in=("notice.receipt_confirmed", "notice.decision")).exists()


def test_esafetys_removal_notice_starts_the_24_hour_clock(plain_case, clients):
    notice = sent_notice(plain_case, "au_osa_iba", role="host")
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert 'id="authority-form"' in page and 'id="receipt-form"' not in page
    assert "Removal notice given by eSafety Commissioner on" in page
    given = notice.sent_at + timedelta(days=1)
    post(client, notice, kind="authority_notice", at=given.isoformat())
    notice.refresh_from_db()
    assert notice.clock_started_at == given and notice.clock_due_at == given + timedelta(hours=24)
    assert TakedownRequest.objects.get(pk=notice.request_id).clock_due_at == notice.clock_due_at
    assert AuditEntry.objects.filter(action="notice.clock_start", case_id=plain_case.pk).count() == 1
    timeline = client.get(f"/cases/{plain_case.pk}/").content.decode()
    assert f"Legal clock of the notice to Provider {notice.token}" in timeline


def test_a_regime_without_legal_events_shows_no_form_and_refuses_them(plain_case, clients):
    notice = sent_notice(plain_case, "us_take_it_down")
    client = clients["on_case"]
    assert 'id="legal"' not in client.get(f"/notices/{notice.pk}/").content.decode()
    post(client, notice, kind="receipt_confirmed", at=(notice.sent_at + timedelta(hours=1)).isoformat())
    assert TakedownRequest.objects.get(pk=notice.request_id).receipt_confirmed_at is None


def test_a_draft_takes_no_legal_event_and_staff_off_the_case_get_404(plain_case, clients):
    notice = sent_notice(plain_case, "eu_dsa_16")
    assert (
        clients["outsider"].post(f"/notices/{notice.pk}/legal-event/", {"kind": "receipt_confirmed"}).status_code == 404
    )
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.DRAFT, sent_at=None)
    page = clients["on_case"].get(f"/notices/{notice.pk}/").content.decode()
    assert 'id="receipt-form"' not in page


def test_the_cli_records_the_same_events(plain_case, cli):
    notice = sent_notice(plain_case, "eu_dsa_16")
    at = (notice.sent_at + timedelta(hours=2)).isoformat()
    code, out, err = cli("notice", "legal-event", notice.token, "decision", "--decision", "removed", "--at", at)
    assert code == 0, err
    request = TakedownRequest.objects.get(pk=notice.request_id)
    assert request.decision == "removed" and request.decided_at == notice.sent_at + timedelta(hours=2)
    code, out, err = cli("notice", "legal-event", notice.token, "receipt_confirmed", "--at", "2026-12-01T10:00")
    assert code == 1 and err.strip() == "kesu: error: --at needs a time zone, e.g. +00:00"


def test_the_forms_and_the_timeline_speak_japanese(plain_case, clients):
    notice = sent_notice(plain_case, "eu_dsa_16")
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert "法的な出来事" in page and "受領確認を記録する" in page and "判断を記録する" in page
    post(client, notice, kind="decision", decision="disabled", at=(notice.sent_at + timedelta(hours=3)).isoformat())
    timeline = client.get(f"/cases/{plain_case.pk}/").content.decode()
    assert f"Provider {notice.token} が判断を通知しました" in timeline and "アクセス無効化" in timeline
