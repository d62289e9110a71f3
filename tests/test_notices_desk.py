"""Notices at the desk: an unsent draft closes with one click and has no outcome, the steps stay in view in every
state, and a notice is found by its KS reference, its recipient or a URL (by blind index, never in clear)."""

import pytest
import test_notices_pages as pages
from django.utils import timezone

from kesu.lib.errors import UserError
from kesu.notices import services
from kesu.notices.models import Notice, NoticeUrl
from kesu.vault import services as vault

URL = pages.URL
draft, english = pages.draft, pages.english  # the pages' fixtures: a draft to that URL, the pages in English


def html(client, path, **post) -> str:
    response = client.post(path, post, follow=True) if post else client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_an_unsent_draft_has_no_outcome_and_closes_with_one_click(clients, draft):
    client = clients["on_case"]
    page = html(client, f"/notices/{draft.pk}/")
    assert 'value="deleted"' not in page and "Escalate now" not in page
    assert "Close: it will not be sent" in page
    # refused in the service, not only hidden
    with pytest.raises(UserError, match=f"Notice {draft.token} was never sent"):
        services.set_outcome("user:hana", draft, "deleted")
    page = html(client, f"/notices/{draft.pk}/outcome/", outcome="deleted")
    assert f"Notice {draft.token} was never sent" in page
    draft.refresh_from_db()
    assert (draft.status, draft.outcome) == (Notice.Status.DRAFT, "")
    # the one click
    page = html(client, f"/notices/{draft.pk}/cancel/", go="1")
    draft.refresh_from_db()
    assert draft.status == Notice.Status.CANCELLED and "Notice cancelled." in page
    assert "never sent, so it has no outcome." in page and "Close: it will not be sent" not in page


def test_the_steps_stay_in_view_in_every_state(clients, draft):
    client = clients["on_case"]
    for status, sent in (("draft", False), ("queued", False), ("cancelled", False), ("closed", True), ("sent", True)):
        Notice.objects.filter(pk=draft.pk).update(status=status, sent_at=timezone.now() if sent else None)
        page = html(client, f"/notices/{draft.pk}/")
        steps = page.split('aria-label="Steps of the notice"')[1].split("</nav>")[0]
        assert steps.count("<li") == 5, status
        finished = status in ("sent", "closed", "cancelled")
        assert ('aria-current="step"' in steps) != finished, status
        assert (steps.count("(done)") == 5) == finished, status
    # a sent notice takes an outcome
    page = html(client, f"/notices/{draft.pk}/outcome/", outcome="deleted")
    assert Notice.objects.get(pk=draft.pk).outcome == "deleted" and "Outcome recorded." in page


def test_notices_are_found_by_reference_recipient_or_url(clients, draft, case, caplog):
    client = clients["on_case"]
    # the URL is kept only as its blind index
    assert list(NoticeUrl.objects.filter(notice=draft).values_list("key", flat=True)) == [vault.blind_index(URL)]
    assert not NoticeUrl.objects.filter(key__contains="leak").exists()

    def found(text: str) -> bool:
        page = html(client, "/notices/", q=text)
        section = page.split('id="found"')[1].split("</section>")[0]
        return f">{draft.token}</a>" in section

    assert found(draft.token) and found(draft.token.lower()) and found(draft.token[3:])
    assert found("Leak Tube") and found("leak tube")
    assert found(URL) and found(f"  {URL} ")
    assert not found(URL + "-other") and not found("Another Org") and not found("KS-NOPE00")
    assert URL not in caplog.text
    # the form posts: the URL is in no address, history or access log
    page = html(client, "/notices/")
    assert 'method="post" action="/notices/" class="search"' in page
    # outsiders to the case find nothing of it
    page = html(clients["outsider"], "/notices/", q=draft.token)
    assert draft.token not in page.split('id="found"')[1]
