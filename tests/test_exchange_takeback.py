"""Her hashes taken back everywhere when her case closes or is deleted (issue 21): partners' next delta says
"removed" under the label they knew, StopNCII (on loopback) receives "Withdrawn" on each; a StopNCII that fails
blocks nothing and the beat retries it. The beat reads StopNCII's new feedback from a checkpoint, and does
nothing at all when StopNCII is not configured."""

import pytest
from django.utils import translation
from test_exchange_outbound import MD5, OPERATOR, PDQ, her_case, stopncii  # noqa: F401 (fixtures)

from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.cases import timeline
from kesu.exchange import beat, outbound, partners
from kesu.exchange import services as exchange
from kesu.exchange.models import Checkpoint, SharedHash

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_everywhere(stopncii, her_case):  # noqa: F811
    """Her case shared with StopNCII and fetched once by a partner: (case, partner, its first delta, StopNCII)."""
    partner, _token = partners.add_partner(OPERATOR, "examplesite")
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    exchange.give_consent(OPERATOR, her_case, "partners")
    assert exchange.share(OPERATOR, her_case, "stopncii") == 2
    first = partners.delta(partner, 0)
    assert len(first["updates"]) == 2 and not any(u["removed"] for u in first["updates"])
    return her_case, partner, first, stopncii


def withdrawals(fake) -> list[tuple[str, str]]:
    return sorted(
        (f["hashValue"], f["feedbackValue"])
        for r in fake.requests if r["path"] == "/v1/SubmitFeedback" for f in r["body"]["hashFeedbacks"]
    )  # fmt: skip


def test_a_deleted_case_is_removed_from_partners_deltas_and_withdrawn_at_stopncii(
    shared_everywhere,
    personas,
    django_capture_on_commit_callbacks,
):
    case, partner, first, fake = shared_everywhere
    label = first["updates"][0]["label"]
    with django_capture_on_commit_callbacks(execute=True):
        cases.delete_case(personas["supervisor"], case)
    assert withdrawals(fake) == sorted([(MD5, "Withdrawn"), (PDQ, "Withdrawn")])
    after = partners.delta(partner, first["checkpoint"])
    assert sorted((u["signal"], u["removed"], u["label"]) for u in after["updates"]) == sorted(
        [(MD5, True, label), (PDQ, True, label)]
    )
    assert partners.delta(partner, after["checkpoint"])["updates"] == []  # said once
    tombstones = SharedHash.objects.filter(case__isnull=True)
    assert tombstones.count() == 4 and not tombstones.filter(withdraw_pending=True).exists()
    assert not tombstones.exclude(destination="stopncii").filter(label="").exists()


def test_closing_a_case_takes_her_hashes_back_and_says_so_on_her_timeline(
    shared_everywhere,
    django_capture_on_commit_callbacks,
):
    case, partner, first, fake = shared_everywhere
    with django_capture_on_commit_callbacks(execute=True):
        timeline.close_case(OPERATOR, case)
    assert withdrawals(fake) == sorted([(MD5, "Withdrawn"), (PDQ, "Withdrawn")])
    assert all(u["removed"] for u in partners.delta(partner, first["checkpoint"])["updates"])
    with translation.override("en"):
        titles = [e.title for e in timeline.events(case, kinds=["exchange"])]
    assert "Her hashes withdrawn from StopNCII (2 hashes)" in titles
    assert "Her hashes withdrawn from examplesite (2 hashes)" in titles


def test_a_failing_stopncii_blocks_no_deletion_and_the_beat_retries_it(
    shared_everywhere,
    personas,
    django_capture_on_commit_callbacks,
    cli,
):
    case, _partner, _first, fake = shared_everywhere
    fake.failing = True
    with django_capture_on_commit_callbacks(execute=True):
        cases.delete_case(personas["supervisor"], case)
    assert not type(case).objects.filter(pk=case.pk).exists()
    pending = list(SharedHash.objects.filter(withdraw_pending=True))
    assert len(pending) == 2 and {row.withdraw_attempts for row in pending} == {1}
    assert {row.withdraw_error for row in pending} == {"HTTPError"}
    failed = AuditEntry.objects.get(action="exchange.withdraw_failed")
    assert failed.detail["hashes"] == 2 and PDQ not in str(failed.detail)
    code, out, err = cli("--as", personas["supervisor"].username, "exchange", "pending")
    assert code == 0 and "2 StopNCII withdrawal(s) owed" in err and "HTTPError" in out and PDQ not in out

    assert beat.beat()["pending"] == 2  # still down: kept, not audited twice
    assert AuditEntry.objects.filter(action="exchange.withdraw_failed").count() == 1
    fake.failing = False
    fake.requests.clear()
    assert beat.beat() == {"withdrawn": 2, "pending": 0, "opinions": 0}
    assert withdrawals(fake) == sorted([(MD5, "Withdrawn"), (PDQ, "Withdrawn")])
    assert AuditEntry.objects.get(action="exchange.withdrawn").detail["retried"] == 2
    fake.requests.clear()
    assert beat.beat()["withdrawn"] == 0 and fake.requests == []  # idempotent: nothing owed, nothing asked


def test_the_beat_does_nothing_when_stopncii_is_not_configured(her_case, settings, cli, personas):  # noqa: F811
    for name in ("SUBSCRIPTION", "SUBMIT", "FEEDBACK", "FETCH"):
        setattr(settings, f"KESU_STOPNCII_{name}_KEY", "")
    settings.KESU_STOPNCII_URL = "http://127.0.0.1:9/v1"  # nothing listens: any request would fail the test
    timeline.close_case(OPERATOR, her_case)
    assert beat.beat() == {"withdrawn": 0, "pending": 0, "opinions": 0}
    code, out, _err = cli("--as", personas["supervisor"].username, "exchange", "beat")
    assert code == 0 and out.strip() == "withdrawn 0, pending 0, opinions 0"
    assert not Checkpoint.objects.exists()


def test_the_beat_reads_stopncii_feedback_once_from_its_checkpoint(stopncii, her_case):  # noqa: F811
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    exchange.share(OPERATOR, her_case, "stopncii")
    stopncii.records = [
        {"lastModtimestamp": 5, "signalType": "ImagePDQ", "hashValue": PDQ, "hashStatus": "Active",
         "caseNumbers": {}, "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "ExamplePlatform"}]},
    ]  # fmt: skip
    assert beat.beat()["opinions"] == 1
    assert beat.beat()["opinions"] == 0
    fetches = [r["path"] for r in stopncii.requests if r["path"].startswith("/v1/FetchHashes")]
    assert f"startTimestamp={outbound.START}&" in fetches[0] and "startTimestamp=1&" in fetches[1]
    assert Checkpoint.objects.get(name=beat.FEEDBACK_CHECKPOINT).value == 1
