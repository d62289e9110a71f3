"""Issue 18, finding 1: a notice could be redirected by any staff member adding a contact to a site.

Where a site's notices go is shared knowledge and changes only with a second person: a contact staff add is
proposed until a supervisor other than the proposer confirms it, routing uses confirmed contacts only, a
draft keeps the address it was composed with, the notice page says where its address came from, and
supervisors are told of every change to a site that has open notices. Sending runs for real: the capture
engine preserves the page from a server on loopback, the outbox hands the notice to an SMTP server on
loopback.
"""

from datetime import date
from email import message_from_bytes, policy

import pytest

from kesu.audit.models import AuditEntry
from kesu.notices import compose, outbox, services
from kesu.notices.models import Notice, OutboxMessage
from kesu.sites import importer
from kesu.sites.models import Contact, Organisation, Site
from kesu.sites.routing import route
from tests.mail_servers import SmtpSink
from tests.test_notices import capture_by_name, web  # noqa: F401 (fixtures: pages served on loopback)

pytestmark = pytest.mark.django_db

OLD = "abuse@leak.example"  # the leak fixture's confirmed contact
ATTACKER = "drop@attacker.example"
DESK = "takedown@desk.example"


@pytest.fixture
def url(capture_by_name):  # noqa: F811 (the imported fixture)
    """A page of leak.example, answered on loopback for the capture engine only."""
    return f"http://leak.example:{capture_by_name}/v/1"


@pytest.fixture
def sink(settings):
    with SmtpSink() as server:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.DEFAULT_FROM_EMAIL = DESK
        settings.KESU_MAIL_ARCHIVE = ""
        yield server


@pytest.fixture
def mandated(case):
    case.mandate_signed_on = date(2026, 10, 1)
    case.save()
    return case


def propose(client, address, domain="leak.example"):
    response = client.post(f"/sites/{domain}/contacts/", {"channel": "email", "address": address})
    assert response.status_code == 302
    return Contact.objects.get(address=address)


def decide(client, contact, decision, domain="leak.example"):
    return client.post(f"/sites/{domain}/contacts/{contact.pk}/decide/", {"decision": decision})


def draft_for(case, url) -> Notice:
    [notice] = compose.prepare("user:hana", case, urls=[url]).notices
    return notice


def send(notice) -> Notice:
    """What the workers do after "send": dispatch (evidence, text), then deliver what the outbox holds."""
    services.send("user:hana", notice)
    services.dispatch(notice.pk)
    outbox.deliver_due()
    notice.refresh_from_db()
    return notice


def test_finding1_outsider_contact_does_not_redirect_another_staffs_notice(clients, mandated, leak, url, sink):
    kenji = clients["outsider"]  # staff, not on the case
    page = kenji.get("/sites/leak.example/")
    trap = propose(kenji, ATTACKER)
    assert trap.priority < Contact.objects.get(address=OLD).priority  # confirmed, it would come first

    notice = send(draft_for(mandated, url))

    assert notice.status == Notice.Status.SENT and notice.address == OLD
    assert len(sink.messages_for(OLD)) == 1 and sink.messages_for(ATTACKER) == []
    trap.refresh_from_db()
    assert (trap.status, trap.created_by, trap.source) == ("proposed", "user:kenji", "staff")
    assert notice.contact.address == OLD and route(url, "ncii").steps[0].address == OLD
    # Proposing told her nothing about the case or its notices.
    after = kenji.get("/sites/leak.example/").content.decode()
    for secret in (mandated.victim.code, notice.token, f"/notices/{notice.pk}/", f"/cases/{mandated.pk}/"):
        assert secret not in after and secret not in page.content.decode()
    assert kenji.get("/sites/changes/").status_code == 404


def test_finding1_the_proposer_cannot_confirm_her_own_contact(clients, personas, leak, cli):
    sato = clients["supervisor"]
    own = propose(sato, "legal@leak.example")
    assert route("https://leak.example/v/1", "ncii").steps[0].address == OLD
    assert own.status == "proposed"  # a supervisor's contact waits for a second person too
    page = sato.get("/sites/leak.example/").content.decode()
    assert f"/contacts/{own.pk}/decide/" not in page

    decide(sato, own, "confirm")
    own.refresh_from_db()
    assert own.status == "proposed" and own.decided_by == ""
    code, _out, err = cli("--as", "sato", "site", "contact", "leak.example", "--confirm", "legal@leak.example")
    assert code != 0 and "another supervisor" in err and len(err.strip().splitlines()) == 1
    assert decide(clients["on_case"], own, "confirm").status_code == 404  # staff decide nothing
    own.refresh_from_db()
    assert own.status == "proposed"
    assert route("https://leak.example/v/1", "ncii").steps[0].address == OLD

    # The CLI follows the same rule: staff propose, and the proposal routes nowhere.
    code, out, _err = cli("--as", "kenji", "site", "contact", "leak.example", "--email", ATTACKER)
    assert code == 0 and "proposed" in out
    assert Contact.objects.get(address=ATTACKER).status == "proposed"
    assert route("https://leak.example/v/1", "ncii").steps[0].address == OLD
    assert not AuditEntry.objects.filter(action="contact.confirm").exists()


def test_finding1_a_second_supervisor_confirms_then_routing_uses_it_audited(clients, mandated, leak, cli):
    new = propose(clients["on_case"], "dmca@leak.example")
    page = clients["admin"].get("/sites/leak.example/").content.decode()
    assert f"/contacts/{new.pk}/decide/" in page
    assert decide(clients["admin"], new, "confirm").status_code == 302
    new.refresh_from_db()
    assert (new.status, new.decided_by) == ("confirmed", "user:root") and new.decided_at is not None
    notice = draft_for(mandated, "https://leak.example/v/2")
    assert (notice.address, notice.contact) == ("dmca@leak.example", new)

    trap = propose(clients["outsider"], ATTACKER)
    code, out, _err = cli("--as", "sato", "site", "contact", "leak.example", "--reject", ATTACKER)
    assert code == 0 and "rejected" in out
    trap.refresh_from_db()
    assert (trap.status, trap.decided_by) == ("rejected", "user:sato")
    assert route("https://leak.example/v/3", "ncii").steps[0].address == "dmca@leak.example"
    assert decide(clients["supervisor"], trap, "confirm").status_code == 302  # refused: not waiting any more
    trap.refresh_from_db()
    assert trap.status == "rejected"
    clients["outsider"].cookies["django_language"] = "en"
    page = clients["outsider"].get("/sites/leak.example/").content.decode()
    assert "rejected by sato" in page and "confirmed by root" in page and "/decide/" not in page

    decisions = ("contact.propose", "contact.confirm", "contact.reject")
    entries = {e.action: e for e in AuditEntry.objects.filter(action__in=decisions)}
    assert set(entries) == set(decisions)
    assert (entries["contact.confirm"].actor, entries["contact.confirm"].object_id) == ("user:root", str(new.pk))
    assert entries["contact.reject"].detail["proposed_by"] == "user:kenji"
    assert not any("@" in str(e.detail) for e in entries.values())  # ids, never addresses


def test_finding1_a_draft_keeps_the_address_it_was_composed_with(clients, mandated, leak, url, sink):
    notice = draft_for(mandated, url)
    new = propose(clients["on_case"], "new@leak.example")
    decide(clients["supervisor"], new, "confirm")
    assert route(url, "ncii").steps[0].address == "new@leak.example"

    clients["on_case"].cookies["django_language"] = "en"
    page = clients["on_case"].get(f"/notices/{notice.pk}/").content.decode()
    assert 'id="address-changed"' in page and "new@leak.example" in page and "confirmed by sato" in page
    assert "readdress" in page
    notice.refresh_from_db()
    assert notice.address == OLD

    notice = send(notice)
    assert len(sink.messages_for(OLD)) == 1 and sink.messages_for("new@leak.example") == []


def test_finding1_staff_may_move_a_draft_to_the_current_address(clients, mandated, leak):
    notice = draft_for(mandated, "https://leak.example/v/1")
    new = propose(clients["on_case"], "new@leak.example")
    decide(clients["supervisor"], new, "confirm")
    assert clients["outsider"].post(f"/notices/{notice.pk}/readdress/").status_code == 404  # not her case
    clients["on_case"].post(f"/notices/{notice.pk}/readdress/")
    notice.refresh_from_db()
    assert (notice.address, notice.contact) == ("new@leak.example", new)
    assert AuditEntry.objects.filter(action="notice.readdress", case_id=mandated.pk).count() == 1
    page = clients["on_case"].get(f"/notices/{notice.pk}/").content.decode()
    assert 'id="address-changed"' not in page


def test_finding1_notice_page_shows_where_the_address_came_from(clients, mandated, leak):
    Contact.objects.filter(address=OLD).update(bounced_at="2026-11-01T00:00:00Z")
    new = propose(clients["on_case"], "legal@leak.example")
    decide(clients["supervisor"], new, "confirm")
    notice = draft_for(mandated, "https://leak.example/v/1")
    clients["on_case"].cookies["django_language"] = "en"
    page = clients["on_case"].get(f"/notices/{notice.pk}/").content.decode()
    assert "Where the address came from" in page
    assert "added by hana" in page and "confirmed by sato" in page and "Staff" in page
    assert clients["outsider"].get(f"/notices/{notice.pk}/").status_code == 404

    resolved = Organisation.objects.create(role="host", key="as64501", name="Rdap Host")
    site = Site.objects.get(domain="leak.example")
    site.host = resolved
    site.save()
    from kesu.sites.resolution import Party, _contact

    _contact(resolved, Party("host", "as64501", "Rdap Host", abuse_email="abuse@rdap-host.example"))
    found = Contact.objects.get(address="abuse@rdap-host.example")
    assert (found.status, found.source, found.decided_by) == ("confirmed", "rdap", "system:resolver")


def test_finding1_supervisors_are_told_when_a_site_with_open_notices_changes(clients, personas, mandated, leak, sink):
    from kesu.sites.models import SiteChange

    personas["supervisor"].email = "sato@desk.example"
    personas["supervisor"].save()
    Site.objects.create(domain="quiet.example", operator=Organisation.objects.create(role="operator", key="q"))
    propose(clients["outsider"], "x@quiet.example", domain="quiet.example")
    assert SiteChange.objects.count() == 0  # no open notice there: nothing to tell

    draft_for(mandated, "https://leak.example/v/1")
    trap = propose(clients["outsider"], ATTACKER)
    [change] = SiteChange.objects.all()
    assert (change.site.domain, change.action, change.actor, change.open_notices) == (
        "leak.example",
        "contact.propose",
        "user:kenji",
        1,
    )
    decide(clients["supervisor"], trap, "reject")
    assert SiteChange.objects.filter(action="contact.reject").count() == 1

    outbox.deliver_due()
    mails = sink.messages_for("sato@desk.example")
    assert len(mails) == 2 and OutboxMessage.objects.filter(kind="digest", case=None).count() == 2
    text = message_from_bytes(mails[0].data, policy=policy.default).get_body().get_content()
    assert "leak.example" in text and "user:kenji" in text
    assert ATTACKER not in text and mandated.victim.code not in text and "/v/1" not in text

    sato = clients["supervisor"]
    assert "leak.example" in sato.get("/sites/changes/").content.decode()
    assert 'id="changes"' in sato.get("/sites/leak.example/").content.decode()
    assert "/sites/changes/" in sato.get("/notices/").content.decode()
    for name in ("outsider", "on_case"):
        assert clients[name].get("/sites/changes/").status_code == 404
        assert 'id="changes"' not in clients[name].get("/sites/leak.example/").content.decode()
        assert "/sites/changes/" not in clients[name].get("/notices/").content.decode()
        clients[name].post("/sites/changes/", {"change": [str(change.pk)]})
    assert SiteChange.objects.filter(seen_at__isnull=True).count() == 2

    sato.post("/sites/changes/", {"change": [str(c.pk) for c in SiteChange.objects.all()]})
    assert SiteChange.objects.filter(seen_at__isnull=True).count() == 0
    assert AuditEntry.objects.filter(action="sites.change_seen", actor="user:sato").count() == 1

    clients["on_case"].post("/sites/leak.example/", {"status": "dead", "relation": "main"})
    assert SiteChange.objects.filter(action="sites.edit", seen_at__isnull=True).count() == 1


def test_finding1_an_import_only_proposes_where_notices_already_go(personas, leak):
    data = "ドメイン,連絡先\r\nleak.example,list@leak.example\r\nfresh.example,abuse@fresh.example\r\n".encode()
    report = importer.run(data, "list.csv", personas["supervisor"], dry_run=False)
    assert (report.contacts_created, report.contacts_proposed) == (2, 1)
    listed, fresh = Contact.objects.get(address="list@leak.example"), Contact.objects.get(address="abuse@fresh.example")
    assert (listed.status, listed.created_by, listed.decided_by) == ("proposed", "user:sato", "")
    assert (fresh.status, fresh.decided_by) == ("confirmed", "user:sato")
    assert route("https://leak.example/v/1", "ncii").steps[0].address == OLD


def test_finding1_contacts_on_file_before_the_upgrade_stay_in_use_confirmed_by_it(leak):
    """The data migration, run on rows as the schema change leaves them (no provenance yet)."""
    from importlib import import_module

    from django.apps import apps

    Contact.objects.update(status="proposed", created_at=None, decided_by="", source="import")
    import_module("kesu.sites.migrations.0004_contact_provenance").confirm_existing(apps, None)

    contact = Contact.objects.get(address=OLD)
    assert (contact.status, contact.source, contact.decided_by) == ("confirmed", "import", "system:migration")
    assert contact.created_at == contact.updated_at and contact.usable
    assert route("https://leak.example/v/1", "ncii").steps[0].address == OLD
