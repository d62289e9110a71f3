"""Issue 18, finding 5 (headers): a strict Content-Security-Policy, no-store and a Permissions-Policy on every
page, no inline script or style anywhere for the policy to trip on, and her URLs only ever in a POST body.

Every page is reached by walking the URL patterns with each persona, so a page added later is covered too.
"""

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from test_notices_pages import reply_for
from test_review import make_hit

import kesu
from kesu.notices import compose
from kesu.notices.models import NoticeTemplate
from kesu.patrol.models import Watch
from kesu.sites.models import Site

pytestmark = pytest.mark.django_db

TEMPLATES = Path(kesu.__file__).parent / "templates"
SECRET_URL = "https://leak.example/v/private-hanako-0042.html"
REQUIRED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")
URL_FIELDS = {"url", "urls"}  # form fields that carry her URLs
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data"}


class InlineCode(HTMLParser):
    """What a strict policy would block or a page would need 'unsafe-inline' for, and every form with its method."""

    def __init__(self):
        super().__init__()
        self.problems, self.forms, self._script = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        for name, value in attrs.items():
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script":
            # A data block (JSON for a script file to read) runs nothing; the Django admin uses one.
            data_block = attrs.get("type", "").lower() == "application/json"
            self._script = None if "src" in attrs or data_block else ""
        if tag == "form":
            self.forms.append({"method": (attrs.get("method") or "get").lower(), "fields": set()})
        if tag in ("input", "textarea", "select") and self.forms:
            self.forms[-1]["fields"].add(attrs.get("name", ""))
            if attrs.get("type") == "url":
                self.forms[-1]["fields"].add("url")

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            if self._script.strip():
                self.problems.append("<script> with a body")
            self._script = None


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser


def csp_directives(header: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


# --- every page a user can reach ---------------------------------------------------------------------------------


@pytest.fixture
def world(case, leak, astronaut_png):
    """One of everything a page can be about, so that the walk renders real pages, not only 404s."""
    notice = compose.prepare("user:hana", case, urls=[SECRET_URL]).notices[0]
    hit = make_hit(case, 0.97, data=astronaut_png)
    site = Site.objects.get(domain="leak.example")
    return {
        "case_id": case.pk,
        "ref_id": case.references.get(kind="image").pk,
        "bundle_id": uuid.uuid4(),
        "template_id": NoticeTemplate.objects.first().pk,
        "reply_id": reply_for(notice).pk,
        "message_id": 1,
        "notice_id": notice.pk,
        "action": "send",
        "watch_id": Watch.objects.create(site=site, name="Leak", seeds=["https://leak.example/new"]).pk,
        "hit_id": hit.pk,
        "domain": site.domain,
        "contact_id": leak.contacts.first().pk,
        "token": "no-such-hashing-link",
    }


def desk_paths(values: dict) -> list[str]:
    """Every named URL of the desk (the admin has its own test), its parameters filled from ``values``."""
    found = []

    def walk(patterns, namespace, converters):
        for entry in patterns:
            here = {**converters, **getattr(entry.pattern, "converters", {})}
            if isinstance(entry, URLResolver):
                if entry.namespace != "admin":
                    walk(entry.url_patterns, entry.namespace or namespace, here)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append(reverse(name, kwargs={key: values[key] for key in here}))

    walk(get_resolver().url_patterns, None, {})
    return found


def assert_strict_headers(response, where: str) -> None:
    csp = csp_directives(response.get("Content-Security-Policy", ""))
    for directive, value in REQUIRED_CSP.items():
        assert csp.get(directive) == value, f"{where}: CSP {directive} is {csp.get(directive)!r}, not {value!r}"
    assert "'unsafe-inline'" not in str(csp) and "'unsafe-eval'" not in str(csp), where
    assert "no-store" in response.get("Cache-Control", ""), f"{where}: Cache-Control {response.get('Cache-Control')}"
    policy = response.get("Permissions-Policy", "")
    for feature in DENIED_FEATURES:
        assert f"{feature}=()" in policy, f"{where}: Permissions-Policy does not deny {feature}: {policy!r}"


def assert_no_inline_code(response, where: str) -> None:
    if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
        return
    page = inline_code(response.content.decode())
    assert not page.problems, f"{where}: {page.problems}"
    for form in page.forms:
        if form["fields"] & URL_FIELDS:
            assert form["method"] == "post", f"{where}: a form with a URL field is sent by {form['method']}"


@pytest.mark.parametrize("persona", ["on_case", "outsider", "supervisor", "admin"])
def test_finding5_every_page_has_the_strict_policy_no_store_and_no_inline_code(clients, world, persona):
    paths = desk_paths(world)
    assert len(paths) > 50 and "/sites/route/" in paths
    client = clients[persona]
    shown = 0
    for path in paths:
        response = client.get(path)
        assert_strict_headers(response, f"{persona} GET {path}")
        assert_no_inline_code(response, f"{persona} GET {path}")
        shown += response.status_code == 200
    assert shown >= (10 if persona == "outsider" else 25), "the walk rendered too few real pages to mean much"


def test_finding5_pages_before_login_and_errors_have_the_policy_too(db):
    anonymous = Client()
    for path in ("/accounts/login/", "/accounts/otp/", "/", "/review/", "/no-such-page/", "/sites/route/"):
        response = anonymous.get(path)
        assert_strict_headers(response, f"anonymous GET {path}")
        assert_no_inline_code(response, f"anonymous GET {path}")
    assert anonymous.get("/accounts/login/").status_code == 200


def test_finding5_the_second_factor_setup_draws_its_qr_code_within_the_policy(make_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = make_user("newcomer")
    TOTPDevice.objects.filter(user=user).delete()  # not enrolled yet: the setup page shows the QR code
    client = Client()
    client.force_login(user)
    response = client.get("/accounts/otp/setup/")
    assert response.status_code == 200 and 'src="data:image/svg+xml;base64,' in response.content.decode()
    assert_strict_headers(response, "GET /accounts/otp/setup/")
    assert "data:" in csp_directives(response["Content-Security-Policy"])["img-src"]
    assert_no_inline_code(response, "GET /accounts/otp/setup/")


def test_finding5_the_admin_works_under_the_same_policy(clients, world):
    """Django's admin (5.2) loads only script files; its one <style> is for change lists without actions, and
    every list here keeps its actions. So the admin needs no looser policy."""
    client = clients["admin"]
    user = clients["admin"].get("/admin/").wsgi_request.user
    pages = ["/admin/", "/admin/accounts/user/", "/admin/accounts/user/add/", f"/admin/accounts/user/{user.pk}/change/"]
    pages += ["/admin/sites/site/", f"/admin/sites/site/{Site.objects.get(domain='leak.example').pk}/change/"]
    pages += ["/admin/sites/organisation/add/", "/admin/sites/takedownrequest/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_headers(response, f"admin GET {path}")
        assert_no_inline_code(response, f"admin GET {path}")


@pytest.fixture
def history(db):
    """A request history (SYNTHETIC), so that reports draw charts and site pages predict and offer the route."""
    from kesu.demo import synthetic

    synthetic.write(600, seed=3)
    return Site.objects.filter(requests__isnull=False, host__isnull=False).first()


def test_finding5_reports_and_their_charts_need_no_inline_style(clients, history):
    for path in ("/reports/", "/reports/compliance/?by=host", "/reports/reuploads/", "/reports/public/"):
        response = clients["supervisor"].get(path)
        assert response.status_code == 200, path
        assert_no_inline_code(response, path)
    assert "<svg" in clients["supervisor"].get("/reports/").content.decode()


# --- the templates themselves --------------------------------------------------------------------------------------

# Documents that leave the desk: opened from a file, with no server to send a header, they carry the policy
# themselves (and may keep a <style>, which is all they allow).
SELF_CONTAINED = {"evidence/summary.html"}
INLINE = [
    ("inline <script> body", re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>\s*[^<\s]", re.I)),
    ("<style>", re.compile(r"<style\b", re.I)),
    ("style= attribute", re.compile(r"\sstyle\s*=", re.I)),
    ("on*= handler", re.compile(r"\son[a-z]+\s*=", re.I)),
    ("javascript: URL", re.compile(r"javascript:", re.I)),
]


def test_finding5_no_template_has_inline_script_style_or_handlers():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 40
    found = []
    for path in templates:
        name = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text()
        for what, pattern in INLINE:
            if name in SELF_CONTAINED and what == "<style>":
                continue
            found += [f"{name}: {what}" for _match in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_finding5_the_evidence_summary_runs_nothing_and_fetches_nothing_when_opened():
    text = (TEMPLATES / "evidence" / "summary.html").read_text()
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)
    assert policy, "the summary carries no policy of its own"
    directives = csp_directives(policy.group(1))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["style-src"] == "'unsafe-inline'"


# --- her URLs are never in a query string ---------------------------------------------------------------------------


def test_finding5_the_route_form_posts_her_url_and_a_get_with_it_shows_nothing(clients, leak, history):
    from kesu.sites import knowledge

    knowledge.sync()
    client = Client(enforce_csrf_checks=True)
    client.cookies = clients["on_case"].cookies
    client.cookies["django_language"] = "en"
    form = client.get("/sites/route/").content.decode()
    assert re.search(r'<form method="post"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', form)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    ladder = client.post("/sites/route/", {"csrfmiddlewaretoken": token, "url": SECRET_URL, "case_type": "ncii"})
    assert ladder.status_code == 200 and "abuse@leak.example" in ladder.content.decode()
    assert client.post("/sites/route/", {"url": SECRET_URL, "case_type": "ncii"}).status_code == 403  # no token

    old_link = client.get("/sites/route/", {"url": SECRET_URL, "case_type": "ncii"}, follow=True)
    assert old_link.redirect_chain == [("/sites/route/", 302)]
    assert "abuse@leak.example" not in old_link.content.decode() and "private-hanako" not in old_link.content.decode()

    site_page = client.get(f"/sites/{history.domain}/").content.decode()
    route_forms = [form for form in inline_code(site_page).forms if "url" in form["fields"]]
    assert route_forms and all(form["method"] == "post" for form in route_forms)
