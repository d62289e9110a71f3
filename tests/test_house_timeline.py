"""Issue 24, part 3: the case page's timeline and due actions come from providers each app registers; the
cases app knows none of the models of the apps built on it."""

import ast
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from test_case_timeline import base, english, make_hits, reply_for, story  # noqa: F401 (fixtures)

import kesu
from kesu.cases import references, services, timeline
from kesu.evidence.models import EvidenceBundle
from kesu.matching.models import Hit
from kesu.notices import compose
from kesu.notices.models import OutboxMessage
from kesu.patrol.models import Recheck, Stage
from kesu.vault import services as vault

CASES = Path(kesu.__file__).parent / "cases"
ABOVE = ("matching", "review", "evidence", "notices", "patrol", "sites")  # apps built on cases
# Services cases must call, named with why. No model, and nothing for the case page (that is registered).
ALLOWED = {
    # Adding a reference inspects the file and banks its signals in the same transaction: an explicit call, not
    # a hook that could be missed; revealing her medium counts towards the viewer's daily exposure like a hit.
    ("references.py", "kesu.matching.media"),
    ("references.py", "kesu.matching.services"),
    ("references.py", "kesu.review.exposure"),
    # ... and a video of hers is shown as the browser plays it, from the same sealed copy as a found video.
    ("references.py", "kesu.review.playback"),
}


def is_module(name: str) -> bool:
    path = CASES.parent.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(path: Path) -> set[str]:
    """The modules a file imports, at any depth (function-level imports too), relative ones made absolute:
    ``from ..matching import media`` imports kesu.matching.media, ``from ..matching.models import Hit``
    kesu.matching.models."""
    package = ".".join(("kesu", *path.relative_to(CASES.parent).parts[:-1]))
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            above = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(above + ([node.module] if node.module else []))
            found |= {f"{module}.{a.name}" if is_module(f"{module}.{a.name}") else module for a in node.names}
    return found


def test_cases_imports_no_model_of_the_apps_built_on_it():
    imports = {
        (str(path.relative_to(CASES)), module) for path in CASES.rglob("*.py") for module in imported_modules(path)
    }
    assert ("timeline.py", "kesu.cases.services") in imports and ("references.py", "kesu.matching.media") in imports
    above = {(name, module) for name, module in imports if module.split(".")[:2] in [["kesu", app] for app in ABOVE]}
    assert sorted(above - ALLOWED) == []


# --- a new app adds its part without touching cases ------------------------------------------------------


def helpline_calls(case, limit):
    """A fake app's provider: calls to a helpline about the case (no such app exists)."""
    at = timezone.now() - timedelta(days=2)
    yield timeline.Event(at, "helpline", "Helpline called about the case", "by Kesu", "/helpline/", "warn")


def helpline_due(case, user, now):
    return [timeline.Action("helpline_callback", "Call the helpline back", "", "/helpline/")]


@pytest.fixture
def fake_app():
    timeline.register_events({"helpline": "Helpline calls"}, helpline_calls)
    timeline.register_due(helpline_due)
    yield
    timeline.unregister(helpline_calls)
    timeline.unregister(helpline_due)
    assert "helpline" not in timeline.KINDS


def test_a_provider_registered_by_a_new_app_shows_on_the_timeline_and_in_the_filter(clients, case, fake_app):
    assert list(timeline.KINDS)[-1] == "helpline"  # a kind cases does not order comes last
    assert timeline.parse_kinds(["helpline,contact"]) == ["contact", "helpline"]
    events = timeline.events(case)
    assert ("helpline", "Helpline called about the case") in [(e.kind, e.title) for e in events]
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    assert [e.kind for e in timeline.events(case, kinds=["helpline"])] == ["helpline"]
    assert [a.kind for a in timeline.due_actions(case, clients["on_case"])] == ["helpline_callback"]

    html = clients["on_case"].get(f"/cases/{case.pk}/").content.decode()
    assert html.count('type="checkbox" name="kinds"') == len(timeline.KINDS) == 13
    assert 'value="helpline"> Helpline calls</label>' in html
    assert '<a href="/helpline/">Helpline called about the case</a>' in html
    assert "Call the helpline back" in html.split('id="next"')[1].split('id="timeline"')[0]
    section = clients["on_case"].get(f"/cases/{case.pk}/", {"kinds": "helpline"}).content.decode()
    section = section.split('id="timeline"')[1].split("</section>")[0]
    assert "Helpline called about the case" in section and "Phone call from her" not in section
    assert 'value="helpline" checked' in section


def test_a_kind_has_one_source_and_a_question_one_answer():
    with pytest.raises(ValueError, match="already registered"):
        timeline.register_events({"hit": "Hits again"}, helpline_calls)
    with pytest.raises(ValueError, match="asks no question"):
        timeline.register_answer("favourite_colour", lambda case: [])
    assert "helpline" not in timeline.KINDS


def test_every_app_registers_its_providers():
    found = timeline.registered()
    owners = {name_of(source): sorted(kinds) for source, kinds in found["events"].items()}
    assert owners == {
        "kesu.cases.providers.references": ["reference"],
        "kesu.cases.providers.contacts": ["contact"],
        "kesu.cases.providers.case_changes": ["case"],
        "kesu.review.timeline.hits_found": ["hit"],
        "kesu.review.timeline.decisions": ["decision"],
        "kesu.evidence.timeline.preservations": ["evidence"],
        "kesu.notices.timeline.notice_events": ["notice", "outcome"],
        "kesu.notices.timeline.replies": ["reply"],
        "kesu.patrol.timeline.rechecks": ["recheck"],
        "kesu.exchange.timeline.exchange_events": ["exchange"],
        "kesu.hashing.timeline.hashing_events": ["hashing"],
    }
    assert tuple(timeline.KINDS) == timeline.ORDER  # every kind cases orders has its source, and no other
    assert sorted(source.__module__ for source in found["due"]) == [
        "kesu.cases.providers", "kesu.notices.timeline", "kesu.patrol.timeline", "kesu.review.timeline",
    ]  # fmt: skip
    assert sorted(source.__module__ for source in found["sections"]) == [
        "kesu.evidence.timeline",
        "kesu.exchange.timeline",
        "kesu.hashing.timeline",
        "kesu.notices.timeline",
    ]
    assert {q: a.__module__ for q, a in found["answers"].items()} == dict.fromkeys(
        timeline.QUESTIONS, "kesu.notices.timeline"
    )


# --- cost: every provider stays within a few queries however much the case holds ---------------------------


def much_more(case, notice, start):
    """Tens of rows of every sort, over several days (a provider that queries per row would show it)."""
    for day in range(4):
        hits = make_hits(case, 15, at=start + timedelta(days=day, hours=3), pink=2)
        decided = Hit.objects.filter(pk__in=[hit.pk for hit in hits[:5]])
        decided.update(status="confirmed", decided_at=start + timedelta(days=day, hours=4))
    for n in range(12):
        compose.event(notice, "evidence", "system:notices", bundle=str(n), outcome="complete")
        reply_for(notice, start + timedelta(days=n % 4, hours=n))
        references.add_text("user:hana", case, "keyword", f"keyword {n}")
        services.add_contact("user:hana", case, "out", "email", "", at=start + timedelta(days=n % 3))
        EvidenceBundle.objects.create(
            case=case, url_sealed=vault.seal_text(case.data_key, f"https://x.example/{n}", "evidence.url"),
            reason="staff", status="done", outcome="complete", media_count=1, finished_at=start + timedelta(days=n % 3),
        )  # fmt: skip
        url = f"https://leak.example/v/more-{n}"
        Recheck.objects.create(
            case=case, notice=notice, url_key=vault.blind_index(url), host=f"host{n}.example",
            url_sealed=vault.seal_text(case.data_key, url, "recheck.url"), stage=Stage.FETCH, state="online",
            history=[{"at": (start + timedelta(days=n % 4)).isoformat(), "state": "online", "status": 200}],
            changed_at=start + timedelta(days=n % 4),
        )  # fmt: skip
        OutboxMessage.objects.create(
            key=f"notice:{notice.pk}:{uuid.uuid4().hex}", kind="reminder", case=case, notice=notice,
            message_id=f"<m{n}@kesu>", message_sealed=b"x", recipients_sealed=b"x", status="failed",
            next_attempt_at=timezone.now(),
        )  # fmt: skip
    notice.deadline_hours, notice.escalate_at = 1, timezone.now() - timedelta(hours=1)
    notice.save()


def name_of(source) -> str:
    return f"{source.__module__}.{source.__name__}"


def queries_per_source(case, user) -> dict[str, int]:
    found = timeline.registered()
    calls = [(source, lambda s: list(s(case, 200))) for source in found["events"]]
    calls += [(source, lambda s: list(s(case, user, timezone.now()))) for source in found["due"]]
    calls += [
        (source, lambda s: [list(v) for v in s(case).values() if isinstance(v, QuerySet)])
        for source in found["sections"]
    ]
    calls += [(answer, lambda s: s(case)) for answer in found["answers"].values()]
    counts = {}
    for source, call in calls:
        with CaptureQueriesContext(connection) as captured:
            call(source)
        counts[name_of(source)] = len(captured)
    return counts


def test_every_provider_costs_a_few_queries_however_much_the_case_holds(case, story, base, personas):  # noqa: F811
    few = queries_per_source(case, personas["on_case"])
    much_more(case, story["notice"], base)
    many = queries_per_source(case, personas["on_case"])
    assert many.keys() == few.keys()
    due = {name_of(source) for source in timeline.registered()["due"]}
    over = {name: (few[name], n) for name, n in many.items() if n > (6 if name in due else 2)}
    assert over == {}  # the notices' due list: failed mail, counts, escalations, replies, a draft, a form
    assert sum(many.values()) <= sum(few.values()) + 2
    events = timeline.events(case)
    hits = [e.title for e in events if e.kind in ("hit", "decision")]
    assert hits.count("15 hits found") == 2 and hits.count("5 hits confirmed") == 4  # bunched per day
    assert [a.kind for a in timeline.due_actions(case, personas["on_case"])][:3] == [
        "failed_mail", "escalate", "replies",
    ]  # fmt: skip
