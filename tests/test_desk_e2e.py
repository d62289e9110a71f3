"""The staff desk end to end, in real headless Chromium over ``kesu run --demo``.

One scenario in order: log in with the second factor, create a case, upload
references, let the demo patrol find the demo case's pictures, review them
with the keyboard, send a notice, see its outcome follow what the re-checks
saw, open the reports. Every screen is saved as a full-page screenshot under
``artefacts/screens/`` (or ``$KESU_ARTEFACTS/screens/``) and checked with
axe-core against WCAG 2 A and AA. Chromium enforces the desk's Content-Security-Policy and
Permissions-Policy, and any breach it reports fails the step. The steps share one server and one browser
page; each test is a step and needs the ones before it (run with ``-x``).
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from test_processes import KESU, environment, free_port, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "site" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
# The desk answers slower while the worker patrols on the same two cores.
expect.set_options(timeout=30_000)
PASSWORD = "kesu-demo-desk-2026"  # kesu.demo.load.DEMO_PASSWORD
DEMO_CODE = re.compile(r"V-[A-Z0-9]{4}-[A-Z0-9]{4}")
OUTCOMES = ("Deleted", "Partly deleted", "Still online", "On hold", "Ongoing")


def screens_dir() -> Path:
    folder = Path(os.environ.get("KESU_ARTEFACTS") or ROOT / "artefacts") / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Desk:
    """The running app and what the steps learnt so far."""

    def __init__(self, base: str, env: dict):
        self.base, self.env, self.state = base, env, {}

    def url(self, path: str) -> str:
        return self.base + path

    def totp(self) -> str:
        done = subprocess.run([KESU, "user", "totp-code", "demo"], env=self.env, capture_output=True, text=True)
        return done.stdout.strip()

    def need(self, *keys):
        missing = [key for key in keys if key not in self.state]
        assert not missing, f"an earlier step did not finish: {missing}"
        return [self.state[key] for key in keys]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    # Re-checks of a sent notice start at once, so the outcome follows within a beat or two.
    env = environment(tmp_path_factory.mktemp("desk") / "data", KESU_PATROL_RECHECK_FIRST_MINUTES="0")
    env.pop("KESU_LANGUAGE", None)  # the shipped default (Japanese); the test switches through the selector
    port, web_port, smtp_port = free_port(), free_port(), free_port()
    # The processes' output goes to a file: minutes of worker logs would fill a pipe nobody reads yet.
    log = tmp_path_factory.mktemp("desk-log") / "kesu-run.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [KESU, "run", "--demo", "--port", str(port), "--demo-web-port", str(web_port),
             "--demo-smtp-port", str(smtp_port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            yield Desk(f"http://127.0.0.1:{port}", env)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=90)
    output = log.read_text()
    assert "Traceback" not in output, output[-6000:]


@pytest.fixture(scope="module")
def page(desk):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        # The policy is enforced, as for staff: axe-core runs through the DevTools protocol, which it does not cover.
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        tab = context.new_page()
        tab.breaches = []
        tab.on("console", lambda message: _breach(tab, message.text))
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def _breach(page, text: str) -> None:
    """What Chromium says when the policy blocks something (inline code, a foreign load) or is malformed."""
    if "Content Security Policy" in text or "Content-Security-Policy" in text or "Permissions-Policy" in text:
        page.breaches.append(f"{page.url}: {text}")


def look(page, name: str) -> None:
    """Save the screen, then hold it to WCAG 2 A/AA with axe-core."""
    problems = screen(page, name)
    assert not problems, f"axe-core on {name} ({page.url}):\n{problems}"


def screen(page, name: str) -> str:
    """Save the screen; axe-core's WCAG 2 A/AA violations on it, one per line ("" when none). Fails at once
    on anything the page's policy blocked, here or on the pages before it."""
    page.wait_for_load_state("load")
    assert not page.breaches, "the policy blocked something:\n" + "\n".join(page.breaches)
    page.screenshot(path=str(screens_dir() / f"{name}.png"), full_page=True)
    assert AXE.exists(), "axe-core is missing: npm ci --prefix tests/site"
    page.evaluate(AXE.read_text())
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                                                targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return "\n".join(
        f"  {v['id']} ({v['impact']}, {v['count']}x): {v['help']} — {', '.join(v['targets'])}" for v in violations
    )


def choose_language(page, code: str) -> None:
    """Through the selector at the top, as a person would; the page reloads in that language."""
    page.get_by_label(re.compile(r"^(Language|言語)$")).select_option(code)
    page.wait_for_function("code => document.documentElement.lang === code", arg=code)
    page.wait_for_load_state("load")


def reload_until(page, predicate, seconds: float, every: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
        page.reload()


# --- 1. log in with the second factor ---------------------------------------------------------------------------


def test_01_log_in_with_the_second_factor(desk, page):
    assert wait_for(lambda: _answers(desk.url("/accounts/login/")), 300), "kesu run did not start"
    page.goto(desk.url("/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    choose_language(page, "en")
    look(page, "01-login")
    page.get_by_label("User name").focus()
    page.keyboard.type("demo")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/otp/"))
    look(page, "02-second-factor")
    page.get_by_label("Code from your authenticator").focus()
    page.keyboard.type(desk.totp())
    page.keyboard.press("Enter")
    expect(page).to_have_url(desk.url("/"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    codes = page.locator("main a", has_text=DEMO_CODE)
    expect(codes.first).to_be_visible()
    # The demo case is the first one made (a fresh desk holds only it; the test makes more later).
    demo = min(codes.all(), key=_case_id)
    desk.state["demo_code"], desk.state["demo_case"] = demo.inner_text().strip(), _case_id(demo)
    look(page, "03-case-list")


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _case_id(link) -> int:
    href = link.get_attribute("href")
    found = re.search(r"/cases/(\d+)/", href)
    assert found, href
    return int(found.group(1))


# --- 2. create a case ---------------------------------------------------------------------------------------------


def test_02_create_a_case(desk, page):
    page.goto(desk.url("/cases/new/"))
    look(page, "04-new-case")
    page.get_by_label("Case type", exact=True).select_option("ncii")
    page.get_by_label("Mandate signed on").fill("2026-11-01")
    page.get_by_label("Search the web for her images").check()
    page.get_by_label("Request removal on her behalf").check()
    page.get_by_label("Name", exact=True).fill("Test Person (synthetic)")
    page.get_by_label("E-mail", exact=True).fill("person@example.invalid")
    page.get_by_label("Her language", exact=True).select_option("en")
    page.get_by_role("button", name="Create case").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+/$"))
    desk.state["case"] = int(re.search(r"/cases/(\d+)/$", page.url).group(1))
    assert desk.state["case"] != desk.state["demo_case"]
    expect(page.locator("h1")).to_contain_text(DEMO_CODE)
    look(page, "05-case")


# --- 3. upload references -----------------------------------------------------------------------------------------


def test_03_upload_references(desk, page, tmp_path):
    from PIL import Image
    from skimage import data

    (case,) = desk.need("case")
    files = []
    for name, picture in (("chelsea.png", data.chelsea()), ("rocket.png", data.rocket())):
        Image.fromarray(picture).save(tmp_path / name, "PNG")
        files.append(str(tmp_path / name))
    page.goto(desk.url(f"/cases/{case}/"))
    page.locator("#upload #files").set_input_files(files)
    with page.expect_navigation():  # the upload script reloads the page once both are in
        page.locator("#upload").get_by_role("button", name="Upload").click()
    previews = page.locator("img.blurred")
    expect(previews).to_have_count(2)
    for preview in previews.all():
        expect(preview).to_have_js_property("complete", True)
        assert preview.evaluate("img => img.naturalWidth") > 0
        assert "/preview/" in preview.get_attribute("src")
    look(page, "06-references-blurred")
    first = page.locator("li.ref").first
    first.get_by_role("button", name="Reveal (logged)").click()
    shown = first.locator("img")
    expect(shown).not_to_have_class(re.compile(r"\bblurred\b"))
    expect(shown).to_have_attribute("src", re.compile(r"/media/$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shown.element_handle())
    expect(page.locator("img.blurred")).to_have_count(1)  # only the one she asked for is shown
    look(page, "07-reference-revealed")


# --- 4. the demo patrol -------------------------------------------------------------------------------------------


def test_04_demo_patrol_finds_the_demo_case(desk, page):
    (code,) = desk.need("demo_code")
    page.goto(desk.url("/patrol/"))
    expect(page.get_by_role("heading", name="Patrol", exact=True)).to_be_visible()
    look(page, "08-patrol")
    page.goto(desk.url("/patrol/hits/"))
    # tubeleak.test answers 404 for what it was told to remove: the notice later names one of its copies.
    rows = page.locator("main tbody tr", has_text=code).filter(has_text="tubeleak.test")
    # Two of them, so that review can walk (j, k), confirm one and reject another.
    found = reload_until(page, lambda: rows.count() >= 2, 300)
    assert found, "the demo patrol did not find two of the demo case's pictures on tubeleak.test in 5 minutes"
    look(page, "09-patrol-hits")


# --- 5. review with the keyboard ----------------------------------------------------------------------------------


def test_05_review_hits_with_the_keyboard(desk, page):
    (code,) = desk.need("demo_code")
    assert page.goto(desk.url("/review/")).status == 200
    rows = page.locator("tr[data-hit-id]")
    expect(rows.first).to_be_visible()
    expect(page.get_by_label("Signal", exact=True)).to_be_visible()
    _filter(page, code, "tubeleak.test")
    expect(rows.first).to_be_visible()
    assert all("tubeleak.test" in text for text in rows.all_inner_texts())
    look(page, "10-review-queue")
    ids = [row.get_attribute("data-hit-id") for row in rows.all()]
    page.keyboard.press("j")  # selects the first row and focuses its link
    expect(rows.first.locator("a[href*='/review/hits/']").first).to_be_focused()
    with page.expect_navigation():  # a key pressed while a page is still leaving presses nothing
        page.keyboard.press("Enter")
    item = page.locator("main section#review-item[data-hit-id]")
    expect(item).to_be_visible()
    first = item.get_attribute("data-hit-id")
    assert first == ids[0]
    expect(item.locator(".compare img.blurred")).to_have_count(2)  # her reference beside what was found
    for key in "cxsor":  # every key has its button (or link) for those who use a mouse or a switch
        expect(page.locator(f'[data-key="{key}"]').first).to_be_visible()
    look(page, "11-review-item")
    assert len(ids) >= 2, ids
    with page.expect_navigation():  # j and k walk the queue without deciding anything
        page.keyboard.press("j")
    expect(item).not_to_have_attribute("data-hit-id", first)
    with page.expect_navigation():
        page.keyboard.press("k")
    expect(item).to_have_attribute("data-hit-id", first)
    page.keyboard.press("r")  # the found item, unblurred (the view is logged)
    expect(item.locator(".compare img.blurred")).to_have_count(1)
    expect(item.locator("img.revealed")).to_have_js_property("complete", True)
    with page.expect_navigation():
        page.keyboard.press("c")
    _moved_on(page, item, first)
    expect(_said(page, first, "confirm")).to_be_visible()
    desk.state["confirmed"] = int(first)
    rejected = item.get_attribute("data-hit-id")  # the next one is not hers
    with page.expect_navigation():
        page.keyboard.press("x")
    _moved_on(page, item, rejected)
    if item.count():  # said on the next hit; back in the queue the decision shows in the lists below
        expect(_said(page, rejected, "reject")).to_be_visible()
    desk.state["rejected"] = int(rejected)
    look(page, "12-review-after-decisions")
    for decision, hit in (("Waiting", None), ("Confirmed", first), ("Rejected", rejected)):
        page.goto(desk.url("/review/"))
        page.get_by_label("Status", exact=True).select_option(label=decision)
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        listed = {row.get_attribute("data-hit-id") for row in page.locator("tr[data-hit-id]").all()}
        if hit:
            assert hit in listed, f"hit #{hit} is not among the {decision.lower()} ones"
        else:
            assert first not in listed and rejected not in listed, "a decided hit still waits for review"


def _filter(page, code: str, site: str) -> None:
    """The queue's filters by their labels: the demo case (a list of cases, or a field for its code) and the site
    whose removed items answer 404, so that the notice sent later ends in "Deleted"."""
    case = page.get_by_label("Case", exact=True)
    if case.evaluate("el => el.tagName") == "SELECT":
        case.select_option(case.locator("option", has_text=code).first.get_attribute("value"))
    else:
        case.fill(code)
    page.get_by_label("Site", exact=True).fill(site)
    with page.expect_navigation():
        page.get_by_label("Site", exact=True).press("Enter")


def _said(page, hit: str, decision: str):
    return page.locator("[role=status]", has_text=re.compile(rf"#{hit}\b.*{decision}", re.I)).first


def _moved_on(page, item, decided: str) -> None:
    """After a decision: the next hit, or the queue when none is left."""
    page.wait_for_function(
        """decided => {
            const item = document.querySelector('section#review-item[data-hit-id]');
            return !item || item.dataset.hitId !== decided;
        }""",
        arg=decided,
    )
    page.wait_for_load_state("load")


# --- 6. send a notice ---------------------------------------------------------------------------------------------


def test_06_send_a_notice(desk, page):
    (case,) = desk.need("demo_case")
    page.goto(desk.url(f"/cases/{case}/notices/new/"))
    look(page, "13-notice-compose")
    chosen = desk.state.get("confirmed")
    boxes = page.locator("input[type=checkbox][name=hits]")
    box = page.locator(f"input[type=checkbox][name=hits][value='{chosen}']") if chosen else boxes.first
    expect(box).to_be_visible()
    box.check()
    steps = 0  # the composer's steps: copies, then who gets it under which law, then the drafts
    onward = page.locator("main").get_by_role("button", name=re.compile(r"^(Next|Prepare|Continue)"))
    while onward.count() and steps < 4:
        with page.expect_navigation():  # the next step's page, loaded, before anything is pressed on it
            onward.first.click()
        steps += 1
        if steps == 1:
            look(page, "14-notice-recipients")
    draft = _open_draft(desk, page)
    desk.state["notice"] = int(re.search(r"/notices/(\d+)/", draft).group(1))
    look(page, "15-notice-draft")
    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_enabled()
    with page.expect_navigation():  # no reload while the form is still on its way
        send.click()
    # The e-mail went out through the outbox (the notice itself may already be closed by a first re-check).
    mail = page.locator("section[aria-labelledby=outbox] span.tag", has_text=re.compile(r"^Sent$"))
    assert reload_until(page, lambda: mail.count() > 0, 120, 3), "the notice was not sent within 2 minutes"
    status = page.locator("main span.tag", has_text=re.compile(r"^(Sent|Closed)$")).first
    expect(status).to_be_visible()
    expect(
        page.locator("dl.facts dt", has_text=re.compile(r"^Sent$")).locator("xpath=following-sibling::dd[1]")
    ).to_contain_text(re.compile(r"\d"))
    look(page, "16-notice-sent")


def _open_draft(desk, page) -> str:
    """The composer ends on the draft, or on the case's notices with a link to each draft."""
    if not re.search(r"/notices/\d+/$", page.url):
        links = page.locator("main tr", has=page.locator(".tag", has_text="Draft")).locator("a[href^='/notices/']")
        hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        drafts = [h for h in hrefs if re.fullmatch(r"/notices/\d+/", h)]
        assert drafts, f"no draft prepared: {page.locator('main').inner_text()[:500]}"
        page.goto(desk.url(drafts[0]))
    assert re.search(r"/notices/\d+/$", page.url), page.url
    return page.url


# --- 7. the outcome follows the re-checks -------------------------------------------------------------------------


def test_07_outcome_updates(desk, page):
    (notice,) = desk.need("notice")
    page.goto(desk.url(f"/notices/{notice}/"))
    deleted = page.locator("main span.tag", has_text=re.compile(r"^Deleted$"))
    assert reload_until(page, lambda: deleted.count() > 0, 300, 10), "no outcome within 5 minutes of sending"
    expect(page.locator("#rechecks")).to_be_visible()
    expect(page.locator("article.recheck span.tag", has_text=re.compile("gone", re.I)).first).to_be_visible()
    look(page, "17-notice-outcome")


# --- 8. reports ---------------------------------------------------------------------------------------------------


def test_08_reports(desk, page):
    page.goto(desk.url("/reports/"))
    look(page, "18-reports")
    table = page.locator("main table").filter(has=page.locator("th", has_text="Deleted"))
    expect(table.first).to_be_visible()
    for category in OUTCOMES:
        expect(table.first.get_by_text(category, exact=True).first).to_be_visible()
    page.goto(desk.url("/reports/compliance/?by=host"))
    expect(page.locator("main table").first).to_be_visible()
    look(page, "19-reports-compliance")


# --- 9. keyboard everywhere, and the desk in Japanese --------------------------------------------------------------


@pytest.mark.parametrize("where", ["list", "case"])
def test_09_tab_reaches_skip_link_then_navigation(desk, page, where):
    (case,) = desk.need("demo_case")
    page.goto(desk.url("/" if where == "list" else f"/cases/{case}/"))
    page.keyboard.press("Tab")
    focused = page.evaluate_handle("document.activeElement")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("(el, focused) => el === focused", focused), "the first Tab does not reach the skip link"
    _focus_is_visible(page)
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0 and box["width"] > 1, "the skip link stays hidden on focus"
    page.screenshot(path=str(screens_dir() / f"20-skip-link-{where}.png"))
    reached = set()
    for _ in range(12):
        page.keyboard.press("Tab")
        _focus_is_visible(page)
        reached.add(page.evaluate("document.activeElement.getAttribute('href')"))
    nav = page.get_by_role("navigation", name="Main").locator("a")
    expected = {link.get_attribute("href") for link in nav.all()}
    assert {"/", "/cases/new/", "/patrol/"} <= expected
    assert expected - {"/admin/"} <= reached, f"Tab skipped links of the main navigation: {expected - reached}"
    page.keyboard.press("Shift+Tab")  # back to the top, then jump over the navigation
    skip.focus()
    page.keyboard.press("Enter")
    expect(page.locator("main #content")).to_be_focused()


def _focus_is_visible(page) -> None:
    style = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return {style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
    )
    assert style["style"] != "none" and style["width"] >= 2, f"focus is not visible: {style}"


def test_10_case_list_in_japanese(desk, page):
    page.goto(desk.url("/"))
    choose_language(page, "ja")
    expect(page.get_by_role("navigation", name="メインメニュー")).to_be_visible()
    expect(page.get_by_role("link", name="案件一覧", exact=True)).to_be_visible()
    look(page, "21-case-list-ja")
    choose_language(page, "en")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_11_the_other_screens_pass_axe(desk, page):
    """The screens the scenario did not pass through, each saved and checked like the others."""
    (case,) = desk.need("demo_case")
    screens = {
        "22-continuation-checks": "/cases/due/",
        "23-notices-queue": "/notices/",
        "24-case-notices": f"/cases/{case}/notices/",
        "25-patrol-submit": f"/cases/{case}/patrol/submit/",
        "26-sites": "/sites/",
        "27-site": "/sites/tubeleak.test/",
        "29-sites-import": "/sites/import/",
        "30-notice-templates": "/notices/templates/",
        "31-message-to-her": f"/cases/{case}/victim-message/",
        "32-case-edit": f"/cases/{case}/edit/",
        "33-reports-reuploads": "/reports/reuploads/",
    }
    found = {}
    for name, path in screens.items():
        response = page.goto(desk.url(path))
        assert response.status == 200, f"{path}: {response.status}"
        problems = screen(page, name)
        if problems:
            found[path] = problems
    page.goto(desk.url("/sites/route/"))  # her URL goes in the body of a POST, never in the address
    page.get_by_label("URL:", exact=True).fill("https://x.com/a/status/1")
    page.get_by_label("Case type:", exact=True).select_option("ncii")
    with page.expect_navigation():
        page.get_by_role("button", name="Show the escalation ladder").click()
    expect(page.locator("ol.ladder li").first).to_be_visible()
    assert page.url == desk.url("/sites/route/"), page.url
    if problems := screen(page, "28-route"):
        found["/sites/route/ (POST)"] = problems
    assert not found, "axe-core:\n" + "\n".join(f"{path}\n{problems}" for path, problems in found.items())


def test_12_the_policy_blocked_nothing(page):
    """Every step passed through ``screen``, which checks as it goes; this catches what came after the last one."""
    assert not page.breaches, "the policy blocked something:\n" + "\n".join(page.breaches)
