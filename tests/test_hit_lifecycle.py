"""One owner for a hit's life (kesu.matching.lifecycle): every state against every event, legal and illegal, and
the web, the CLI and the notice composer all refused the same way."""

import uuid

import pytest
from django.utils import timezone, translation
from test_review import OPERATOR, make_hit

from kesu.lib.errors import UserError
from kesu.matching import lifecycle
from kesu.matching.lifecycle import Event, State
from kesu.matching.models import Hit
from kesu.notices import compose
from kesu.patrol.models import Recheck
from kesu.review import services as review

# Written out, not read from the module: the table the desk agreed on.
LEGAL = {
    ("found", "find"): "waiting",
    ("waiting", "confirm"): "confirmed",
    ("waiting", "reject"): "rejected",
    ("waiting", "same"): "same",
    ("confirmed", "reject"): "rejected",
    ("same", "reject"): "rejected",
    ("rejected", "confirm"): "confirmed",
    ("confirmed", "undo"): "waiting",
    ("same", "undo"): "waiting",
    ("rejected", "undo"): "waiting",
    ("confirmed", "name"): "in_notice",
    ("same", "name"): "in_notice",
    ("in_notice", "name"): "in_notice",
    ("back_online", "name"): "in_notice",
    ("in_notice", "gone"): "removed",
    ("back_online", "gone"): "removed",
    ("removed", "back"): "back_online",
}


@pytest.fixture(autouse=True)
def english(request):
    """The assertions read English (the CLI and services speak the active language)."""
    if "clients" in request.fixturenames:
        for client in request.getfixturevalue("clients").values():
            client.cookies["django_language"] = "en"
    with translation.override("en"):
        yield


def _named(case, hit) -> Hit:
    review.decide(OPERATOR, hit, "confirm")
    [notice] = compose.prepare(OPERATOR, case, hit_ids=[hit.pk]).notices
    return hit


def _rechecked(case, hit, state: str) -> Hit:
    _named(case, hit)
    notice = hit.notices.get()
    Recheck.objects.create(
        case=case, notice=notice, url_key=hit.source_key, url_sealed=b"sealed", host=hit.host, state=state,
        gone_at=timezone.now(), stage="fetch",
    )  # fmt: skip
    return hit


def in_state(case, state: str) -> Hit:
    """A hit brought to ``state`` the way the desk brings it there."""
    if state == State.FOUND:
        return Hit(case=case, sha256=uuid.uuid4().hex * 2, signal="pdq", probability=0.9)
    hit = make_hit(case, 0.9, url=f"https://leak.example/v/{uuid.uuid4().hex}")
    steps = {
        State.WAITING: lambda: hit,
        State.CONFIRMED: lambda: review.decide(OPERATOR, hit, "confirm"),
        State.REJECTED: lambda: review.decide(OPERATOR, hit, "reject"),
        State.SAME: lambda: review.decide(OPERATOR, hit, "same"),
        State.IN_NOTICE: lambda: _named(case, hit),
        State.REMOVED: lambda: _rechecked(case, hit, Recheck.State.PAGE_GONE),
        State.BACK_ONLINE: lambda: _rechecked(case, hit, Recheck.State.ONLINE),
    }
    steps[state]()
    hit.refresh_from_db()
    return hit


def test_every_state_against_every_event(case, leak):
    hits = {state: in_state(case, state) for state in State.values}
    assert {state: lifecycle.state(hit) for state, hit in hits.items()} == {s: s for s in State.values}
    wrong = []
    for state, hit in hits.items():
        for event in Event.values:
            try:
                after = lifecycle.check(hit, event)
            except UserError as refused:
                after = None
                message = str(refused)
                named = f"#{hit.pk}" in message if hit.pk else "not recorded yet" in message
                if "\n" in message or not named:
                    wrong.append((state, event, f"refusal is not one line naming the hit: {message!r}"))
            if after != LEGAL.get((state, event)):
                wrong.append((state, event, after))
    assert wrong == []
    assert dict(lifecycle.TRANSITIONS) == LEGAL


def test_moves_write_the_status_and_an_illegal_move_writes_nothing(case, leak):
    hit = in_state(case, State.WAITING)
    assert lifecycle.move(OPERATOR, hit, Event.REJECT) == State.REJECTED
    assert Hit.objects.get(pk=hit.pk).status == Hit.Status.REJECTED and hit.decided_at is not None
    assert lifecycle.move(OPERATOR, hit, Event.UNDO) == State.WAITING
    hit.refresh_from_db()
    assert (hit.status, hit.decided_at) == (Hit.Status.NEW, None)
    named = in_state(case, State.IN_NOTICE)
    with pytest.raises(UserError, match=f"Hit #{named.pk} is named in a notice: cancel the notice first"):
        lifecycle.move(OPERATOR, named, Event.UNDO)
    with pytest.raises(ValueError):
        lifecycle.move(OPERATOR, named, Event.GONE)  # derived from the re-checks, never written
    assert Hit.objects.get(pk=named.pk).status == Hit.Status.CONFIRMED


def test_a_rejected_or_waiting_hit_cannot_be_named_from_the_command_line(cli, case, leak):
    rejected, waiting = in_state(case, State.REJECTED), in_state(case, State.WAITING)
    for hit, says in ((rejected, "is Rejected"), (waiting, "waits for review")):
        code, out, err = cli("notice", "prepare", "--case", str(case.pk), "--hits", str(hit.pk))
        assert code != 0 and f"Hit #{hit.pk}" in err and says in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and not hit.notices.exists()
    code, _, err = cli("notice", "prepare", "--case", str(case.pk), "--hits", "999999")
    assert code != 0 and "No hit #999999 in this case" in err
    confirmed = in_state(case, State.CONFIRMED)
    code, out, _ = cli("notice", "prepare", "--case", str(case.pk), "--hits", str(confirmed.pk), "--json")
    assert code == 0 and confirmed.notices.count() == 1


def test_the_web_refuses_to_undo_a_hit_a_notice_names(clients, case, leak):
    named = in_state(case, State.IN_NOTICE)
    response = clients["on_case"].post(f"/review/hits/{named.pk}/undo/", follow=True)
    assert "is named in a notice" in response.content.decode()
    assert Hit.objects.get(pk=named.pk).status == Hit.Status.CONFIRMED
