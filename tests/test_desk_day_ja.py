"""A staff member's day at the desk, in Japanese, in real headless Chromium over ``kesu run --demo`` (issue 20,
"What must be shown").

One scenario in order, each step a test that needs the ones before it (run with ``-x``): log in with the
second factor with the desk in Japanese, open the demo case, review the video the demo patrol found behind
tubeleak.test's HLS player (its page address, site and blurred screenshot on the hit), reveal it and watch it
play, confirm it with ``c`` and take that back with ``u`` from the next page, confirm it again, prepare its
notice, see that the unsent draft cannot be closed with an outcome, send it, and find it by its KS reference on
the notices page. Labels are asserted in the catalogue's Japanese (``ja``), not in English.

The desk, the browser and their checks (axe-core, the Content-Security-Policy) are those of
``test_desk_e2e``; this module starts its own desk.
"""

import re

import pytest
import test_desk_e2e as e2e
from django.utils import translation
from playwright.sync_api import expect
from test_desk_e2e import DEMO_CODE, PASSWORD, _answers, _case_id, choose_language, look, reload_until, wait_for

pytestmark = pytest.mark.slow
CLIP = re.compile(r"^https?://tubeleak\.test(:\d+)?/v/clip-excerpt$")  # the demo's HLS video page (kesu/demo/sites.py)
desk, page = e2e.desk, e2e.page  # the same fixtures, a desk and a browser of this module's own


def ja(text: str) -> str:
    """The catalogue's Japanese for an English msgid; a label still in English would fail here, not pass."""
    with translation.override("ja"):
        said = translation.gettext(text)
    assert said != text, f"no Japanese for {text!r} in the catalogue (is django.mo compiled?)"
    return said


def exact(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


# --- 1. log in with the second factor, in Japanese ---------------------------------------------------------------


def test_01_log_in_in_japanese_with_the_second_factor(desk, page):
    # The demo makes its media and models before it answers: minutes on two busy cores.
    assert wait_for(lambda: _answers(desk.url("/accounts/login/")), 300), "kesu run did not start"
    page.goto(desk.url("/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    choose_language(page, "ja")
    page.get_by_label(ja("User name")).fill("demo")
    page.get_by_label(ja("Password")).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=ja("Next")).click()
    expect(page).to_have_url(re.compile(r"/accounts/otp/"))
    page.get_by_label(ja("Code from your authenticator")).fill(desk.totp())
    with page.expect_navigation():
        page.get_by_role("button", name=ja("Verify")).click()
    expect(page).to_have_url(desk.url("/"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    codes = page.locator("main a", has_text=DEMO_CODE)
    expect(codes.first).to_be_visible()
    demo = min(codes.all(), key=_case_id)
    desk.state["code"], desk.state["case"] = demo.inner_text().strip(), _case_id(demo)
    look(page, "ja-01-case-list")


# --- 2. open a case --------------------------------------------------------------------------------------------


def test_02_open_the_case(desk, page):
    code, case = desk.need("code", "case")
    page.goto(desk.url("/"))
    with page.expect_navigation():
        page.locator(f"main a[href='/cases/{case}/']", has_text=code).first.click()
    expect(page).to_have_url(desk.url(f"/cases/{case}/"))
    expect(page.locator("h1")).to_contain_text(code)
    look(page, "ja-02-case")


# --- 3. review the found video: where it was found, its screenshot, reveal and play ------------------------------


def test_03_the_hit_shows_its_page_site_and_blurred_screenshot(desk, page):
    (case,) = desk.need("case")
    queue = desk.url(f"/review/?case={case}&site=tubeleak.test&signal=vpdq")
    page.goto(queue)
    rows = page.locator("tr[data-hit-id]")
    assert reload_until(page, lambda: rows.count() > 0, 600), "the demo patrol found no video on tubeleak.test"
    expect(page.locator("h1")).to_contain_text(ja("Review queue"))
    with page.expect_navigation():
        rows.first.locator("a[href*='/review/hits/']").first.click()
    item = page.locator("section#review-item[data-hit-id]")
    hit = item.get_attribute("data-hit-id")
    desk.state["hit"] = hit
    where = page.locator("section.where")
    expect(where.get_by_role("heading", name=ja("Where it was found"))).to_be_visible()
    expect(where.locator("code.page-url")).to_have_text(CLIP)
    expect(where.locator("a[href='/sites/tubeleak.test/']")).to_be_visible()
    # The patrol preserves every page with a new hit; the capture worker takes a little while.
    shot = where.locator("figure", has_text=ja("Screenshot of the page"))
    assert reload_until(page, lambda: shot.count() > 0, 300), "the hit's page was not captured in 5 minutes"
    # Captured; or captured and asked again (each new hit on the page asks for it), its screenshot still shown.
    states = "|".join(re.escape(ja(label)) for label in ("Captured", "Capture requested"))
    expect(where.locator(".capture-state .tag")).to_have_text(re.compile(rf"^\s*({states})\s*$"))
    blurred = shot.locator("img.blurred")
    expect(blurred).to_have_attribute("src", f"/review/hits/{hit}/screenshot/")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=blurred.element_handle())
    expect(shot.get_by_role("button", name=re.compile(re.escape(ja("Reveal (logged)"))))).to_be_visible()
    expect(page.get_by_label(ja("Blur of previews"))).to_have_value("strong")
    look(page, "ja-03-hit-with-its-page")
    # A lighter blur for her session, still a blur: the page comes back with it chosen.
    page.get_by_label(ja("Blur of previews")).select_option("medium")
    with page.expect_navigation():
        page.get_by_role("button", name=ja("Set blur")).click()
    expect(page.get_by_label(ja("Blur of previews"))).to_have_value("medium")
    blurred = page.locator("section.where img.blurred")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=blurred.element_handle())


def test_04_the_found_hls_video_plays_after_reveal(desk, page):
    (hit,) = desk.need("hit")
    item = page.locator(f"section#review-item[data-hit-id='{hit}']")
    expect(item).to_be_visible()
    counted = int(page.locator("#exposure").get_attribute("data-count"))
    page.keyboard.press("r")  # the found video, as the browser plays it (the look is logged and counted)
    video = item.locator("video.revealed")
    video.wait_for()
    page.wait_for_function("v => v.videoWidth > 0", arg=video.element_handle(), timeout=60_000)
    page.evaluate("() => document.querySelector('video.revealed').play()")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle(), timeout=60_000)
    expect(page.locator("#exposure")).to_have_attribute("data-count", str(counted + 1))
    look(page, "ja-04-video-playing")


# --- 4. decide, undo from the next page, decide again -------------------------------------------------------------


def test_05_c_then_u_takes_the_decision_back_and_it_is_decided_again(desk, page):
    (hit,) = desk.need("hit")
    with page.expect_navigation():
        page.keyboard.press("c")
    page.wait_for_load_state("load")
    assert f"/review/hits/{hit}/" not in page.url  # on to the next hit, or the queue when none is left
    expect(page.locator("#review-status")).to_contain_text(f"#{hit}")
    with page.expect_navigation():
        page.keyboard.press("u")
    expect(page.locator(f"section#review-item[data-hit-id='{hit}']")).to_be_visible()
    waits = ja("Hit #%(id)d waits for review again.") % {"id": int(hit)}
    expect(page.locator("#review-status")).to_have_text(exact(waits))
    expect(page.locator(".decide .tag")).to_have_text(exact(ja("New")))
    look(page, "ja-05-undone")
    with page.expect_navigation():
        page.keyboard.press("c")
    page.goto(desk.url(f"/review/hits/{hit}/"))
    expect(page.locator(".decide .tag")).to_have_text(exact(ja("Confirmed")))


# --- 5. a notice: prepared, not closable unsent, sent, found by its reference -------------------------------------


def test_06_prepare_the_notice_and_an_unsent_draft_has_no_outcome(desk, page):
    (hit,) = desk.need("hit")
    with page.expect_navigation():
        page.get_by_role("link", name=ja("Request removal")).click()
    box = page.locator(f"input[type=checkbox][name=hits][value='{hit}']")
    expect(box).to_be_checked()
    labels = (ja("Next: who gets it, under which law"), ja("Prepare these drafts"))
    onward = page.locator("main").get_by_role("button", name=re.compile("^(" + "|".join(map(re.escape, labels)) + ")"))
    steps = 0
    while onward.count() and steps < 4:
        with page.expect_navigation():
            onward.first.click()
        steps += 1
    if not re.search(r"/notices/\d+/$", page.url):
        draft = page.locator("main tr", has=page.locator(".tag", has_text=ja("Draft"))).locator("a[href^='/notices/']")
        with page.expect_navigation():
            draft.first.click()
    notice = int(re.search(r"/notices/(\d+)/$", page.url).group(1))
    token = re.search(r"KS-[A-Z0-9-]+", page.locator("h1").inner_text()).group(0)
    desk.state["notice"], desk.state["token"] = notice, token
    settle = page.locator("section[aria-labelledby=settle]")
    expect(settle).to_contain_text(ja("This notice was never sent, so it has no outcome yet."))
    for outcome in ("Deleted", "Still online"):  # no outcome button on a draft
        expect(settle.get_by_role("button", name=ja(outcome), exact=True)).to_have_count(0)
    # Even posted by hand, an outcome on the draft is refused, and the draft stays a draft.
    csrf = settle.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    answer = page.request.post(
        desk.url(f"/notices/{notice}/outcome/"), form={"csrfmiddlewaretoken": csrf, "outcome": "deleted"}
    )
    refused = ja("Notice %(token)s was never sent: it has no outcome. Close the draft instead.") % {"token": token}
    assert answer.ok and refused in answer.text(), answer.text()[:500]  # said on the page it leads back to
    page.reload()
    expect(page.locator("main p span.tag").first).to_have_text(exact(ja("Draft")))
    look(page, "ja-06-draft")


def test_07_send_it_and_find_it_by_its_reference(desk, page):
    notice, token = desk.need("notice", "token")
    send = page.get_by_role("button", name=ja("Send"), exact=True)
    expect(send).to_be_enabled()
    with page.expect_navigation():
        send.click()
    mail = page.locator("section[aria-labelledby=outbox] span.tag", has_text=exact(ja("Sent")))
    assert reload_until(page, lambda: mail.count() > 0, 120, 3), "the notice was not sent within 2 minutes"
    page.goto(desk.url("/notices/"))
    page.get_by_label(ja("Find a notice by its reference (KS-…), recipient or URL")).fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name=ja("Find"), exact=True).click()
    found = page.locator("section[aria-labelledby=found]")
    expect(found.locator(f"a[href='/notices/{notice}/']").first).to_be_visible()
    look(page, "ja-07-notice-found")


def test_08_the_policy_blocked_nothing(page):
    assert not page.breaches, "the policy blocked something:\n" + "\n".join(page.breaches)
