"""Site resolution against real servers on loopback: DNS (UDP/TCP), RDAP (HTTP), WHOIS and a CDN-fronted web site.

Every address outside 127.0.0.0/8 in these tests is only ever a value in a
DNS or RDAP answer: the address policy is set to refuse everything but
loopback, so nothing is sent to them.
"""

import copy
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from sites_servers import DnsServer, RdapServer, WebServer, WhoisServer

from kesu.audit.models import AuditEntry
from kesu.lib import env
from kesu.lib.netsettings import parse_bootstrap_file, parse_dns_servers, parse_whois_servers
from kesu.sites import tasks
from kesu.sites.domains import registrable
from kesu.sites.models import Contact, Lookup, Organisation, Role, Site, Source
from kesu.sites.resolution import queue_resolution, resolve_site
from kesu.sites.resolvers import cache
from kesu.sites.resolvers.headers import HeadersResolver

CF_IP, NL_IP, JP_IP = "104.21.48.7", "198.51.100.23", "203.0.113.5"
IDN = "xn--eck7a6cz431azlbtz6h.jp"  # 日本語サイト.jp


def origin(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".origin.asn.cymru.com"


ZONE = {
    "hidden-tube.com": {"A": [CF_IP], "AAAA": ["2606:4700:3031::6815:3007"],
                        "NS": ["kara.ns.cloudflare.com", "lars.ns.cloudflare.com"]},
    "www.hidden-tube.com": {"CNAME": "hidden-tube.com"},
    origin(CF_IP): {"TXT": ["13335 | 104.16.0.0/13 | US | arin | 2014-03-28"]},
    "as13335.asn.cymru.com": {"TXT": ["13335 | US | arin | 2010-07-14 | CLOUDFLARENET - Cloudflare, Inc., US"]},
    "mirror-tube.net": {"A": ["127.0.0.1"]},
    "ura-doga.com": {"A": [NL_IP], "NS": ["ns1.hosting.example", "ns2.hosting.example"],
                     "MX": ["10 mx.hosting.example"]},
    "www.ura-doga.com": {"CNAME": "ura-doga.com"},
    origin(NL_IP): {"TXT": ["64500 | 198.51.100.0/24 | NL | ripencc | 2019-06-01"]},
    "as64500.asn.cymru.com": {
        "TXT": ["64500 | NL | ripencc | 2019-05-20 | EXAMPLE-HOSTING-AS - Example Hosting B.V., NL"]},
    IDN: {"A": [JP_IP]},
    origin(JP_IP): {"TXT": ["64501 | 203.0.113.0/24 | JP | apnic | 2020-01-10"]},
    "as64501.asn.cymru.com": {"TXT": ["64501 | JP | apnic | 2020-01-09 | EXAMPLE-CLOUD-JP Example Cloud K.K., JP"]},
    "slow-rdap.com": {"A": [NL_IP]},
    "garbage-rdap.com": {"A": [NL_IP]},
    "big-site.com": {"A": [f"198.51.100.{n}" for n in range(1, 40)]},
}  # fmt: skip

ROUTES = {
    "/com/domain/hidden-tube.com": "com-hidden-tube.json",
    "/com/domain/ura-doga.com": "com-ura-doga.json",
    "/registrar/gmo/domain/URA-DOGA.COM": "registrar-gmo-ura-doga.json",
    f"/arin/ip/{CF_IP}": "arin-cloudflare.json",
    f"/ripe/ip/{NL_IP}": ("redirect", f"{{{{server}}}}/ripe-db/ip/{NL_IP}"),
    f"/ripe-db/ip/{NL_IP}": "ripe-example-hosting.json",
    f"/apnic/ip/{JP_IP}": "apnic-example-jp.json",
    f"/jp/domain/{IDN}": "jp-idn.json",
    "/com/domain/slow-rdap.com": ("sleep", 3),
    "/com/domain/garbage-rdap.com": ("garbage", b"<html><body>502 Bad Gateway</body></html>", "text/html"),
}

VERISIGN_WHOIS = """   Domain Name: SLOW-RDAP.COM\r
   Registry Domain ID: 2811340082_DOMAIN_COM-VRSN\r
   Registrar WHOIS Server: whois.namecheap.com\r
   Registrar URL: http://www.namecheap.com\r
   Updated Date: 2026-01-19T07:31:10Z\r
   Creation Date: 2023-01-19T07:30:52Z\r
   Registry Expiry Date: 2027-01-19T07:30:52Z\r
   Registrar: NameCheap, Inc.\r
   Registrar IANA ID: 1068\r
   Registrar Abuse Contact Email: abuse@namecheap.com\r
   Registrar Abuse Contact Phone: +1.6613102107\r
   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\r
   Name Server: NS1.HOSTING.EXAMPLE\r
   DNSSEC: unsigned\r
>>> Last update of whois database: 2026-11-21T09:00:00Z <<<\r
"""

WHOIS = {"slow-rdap.com": VERISIGN_WHOIS, "garbage-rdap.com": ("garbage", bytes(range(256)) * 8)}


@pytest.fixture
def servers():
    dns_server = DnsServer(copy.deepcopy(ZONE), silent=["stalled-dns.com"], truncate=["big-site.com"])
    with dns_server, RdapServer(ROUTES) as rdap, WhoisServer(WHOIS) as whois:
        yield SimpleNamespace(dns=dns_server, rdap=rdap, whois=whois)


@pytest.fixture
def resolving(settings, servers, tmp_path, db):
    """Settings that send every lookup to the local servers and let connections reach loopback only."""
    base = servers.rdap.base
    bootstrap = {
        "dns": {"com": f"{base}/com/", "net": f"{base}/net/", "jp": f"{base}/jp/", "to": None},
        "ip": {"arin": f"{base}/arin/", "ripencc": f"{base}/ripe/", "apnic": f"{base}/apnic/"},
        "ip_fallback": f"{base}/rdap-org/",
    }
    (tmp_path / "bootstrap.json").write_text(json.dumps(bootstrap))
    settings.KESU_RDAP_BOOTSTRAP_FILE = parse_bootstrap_file([str(tmp_path / "bootstrap.json")], "test")
    settings.KESU_DNS_SERVERS = [servers.dns.address]
    settings.KESU_DNS_TIMEOUT = 0.5
    settings.KESU_RESOLVE_SECONDS = 0.5
    settings.KESU_WHOIS_SERVERS = {tld: servers.whois.address for tld in ("com", "net", "jp")}
    settings.KESU_ALLOW_LOOPBACK = True
    settings.KESU_CAPTURE_ALLOW = []
    settings.KESU_CAPTURE_DENY = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    return servers


def test_cloudflare_fronted_domain_by_range(resolving):
    site = Site.objects.create(domain="hidden-tube.com")
    found = resolve_site(site)
    assert found.status == Site.Status.ACTIVE and found.addresses == [CF_IP, "2606:4700:3031::6815:3007"]
    assert found.ns == ["kara.ns.cloudflare.com", "lars.ns.cloudflare.com"]
    assert found.cdn.key == "cloudflare"
    assert found.cdn.evidence[0] == (f"IP {CF_IP} in Cloudflare range 104.16.0.0/13 (list of 2026-11-21, transcribed)")
    assert "AS13335 is Cloudflare's network" in found.cdn.evidence
    assert found.host is None and "the hosting provider is hidden behind Cloudflare, Inc." in found.notes
    # The headers resolver was refused before connecting: 104.21.48.7 is outside what the tests allow.
    assert any(e.startswith("headers:") and "refused by the address policy" in e for e in found.errors)

    site.refresh_from_db()
    assert site.status == Site.Status.ACTIVE and site.resolved_at is not None and site.host is None
    assert (site.cdn.role, site.cdn.key, site.cdn.source) == (Role.CDN, "cloudflare", Source.KNOWLEDGE)
    assert [(c.address, c.source) for c in site.cdn.contacts.all()] == [("abuse@cloudflare.com", Source.RDAP)]
    assert (site.registrar.key, site.registrar.name) == ("iana:1068", "NameCheap, Inc.")
    assert site.registrar.contacts.get().address == "abuse@namecheap.com"
    assert all("application/rdap+json" in accept for _, accept in resolving.rdap.requests)


def test_cloudflare_fronted_domain_by_headers(resolving, tmp_path):
    site = Site.objects.create(domain="mirror-tube.net")
    with WebServer({"Server": "cloudflare", "CF-RAY": "8e2f1c3b5d7a9e0f-NRT"}, tls_dir=tmp_path) as web:
        headers = HeadersResolver(ports={"https": web.https_port, "http": web.http_port})
        found = resolve_site(site, resolvers={"headers": headers})
        assert web.hosts == [f"mirror-tube.net:{web.https_port}"]  # https first, the site's name in Host and SNI
        assert found.cdn.key == "cloudflare" and found.cdn.evidence == ["header cf-ray"]
        assert Lookup.objects.get(kind="headers", key="mirror-tube.net").result["url"].startswith("https://")

        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        found = resolve_site(
            site, force=True, resolvers={"headers": HeadersResolver(ports={"https": port, "http": web.http_port})}
        )
        assert found.cdn.evidence == ["header cf-ray"]
        assert Lookup.objects.get(kind="headers", key="mirror-tube.net").result["url"] == "http://mirror-tube.net/"
    site.refresh_from_db()
    assert site.cdn.key == "cloudflare" and site.status == Site.Status.ACTIVE
    # No network announces a loopback address, so RDAP is not asked who holds it.
    assert "asn: no network announces 127.0.0.1 (Team Cymru has no origin)" in found.errors and found.host is None
    assert not any(path.startswith("/rdap-org/") for path in resolving.rdap.paths())


def test_registrar_and_host_in_different_countries(resolving):
    Organisation.objects.create(role=Role.HOST, key="as64500", name="old name", source=Source.RDAP)
    site = Site.objects.create(domain="ura-doga.com")
    found = resolve_site(site)
    assert (found.registrar.name, found.registrar.iana_id, found.registrar.country) == (
        "GMO Internet Group, Inc. d/b/a Onamae.com", 49, "JP",
    )  # fmt: skip
    assert (found.host.key, found.host.name, found.host.country, found.server_country) == (
        "as64500", "Example Hosting B.V.", "NL", "NL",
    )  # fmt: skip
    assert found.registrant_country == "JP" and found.mx == ["10 mx.hosting.example"] and found.cdn is None
    # The registry's record points to the registrar's, which has the address; the RIR redirected once.
    paths = resolving.rdap.paths()
    assert "/registrar/gmo/domain/URA-DOGA.COM" in paths
    assert paths.index(f"/ripe/ip/{NL_IP}") < paths.index(f"/ripe-db/ip/{NL_IP}")

    site.refresh_from_db()
    assert (site.registrar.country, site.host.country, site.server_country) == ("JP", "NL", "NL")
    assert site.host.name == "Example Hosting B.V."  # a row made by lookups is refreshed
    assert site.host.contacts.get().address == "abuse@hosting.example"
    assert (site.registrar.key, site.registrar.contacts.get().address) == ("iana:49", "abuse@gmo.example")


def test_idn_domain_is_asked_in_punycode(resolving):
    site = Site.objects.create(domain=registrable("日本語サイト.jp"))
    found = resolve_site(site)
    assert site.domain == IDN and site.unicode_domain == "日本語サイト.jp"
    assert IDN in resolving.dns.names_asked("A") and all(name.isascii() for name in resolving.dns.names_asked())
    assert f"/jp/domain/{IDN}" in resolving.rdap.paths()
    assert (found.registrar.name, found.registrar.country) == ("Example Designated Registrar K.K.", "JP")
    assert (found.host.asn, found.host.country, found.host.abuse_email) == (64501, "JP", "abuse@cloud.example")
    site.refresh_from_db()
    assert site.status == Site.Status.ACTIVE and site.server_country == "JP" and site.addresses == [JP_IP]


def test_domain_that_no_longer_resolves(resolving):
    site = Site.objects.create(domain="gone-tube.com", status=Site.Status.ACTIVE, addresses=["198.51.100.9"])
    found = resolve_site(site)
    assert found.status == Site.Status.DEAD
    assert "dns: gone-tube.com does not exist (NXDOMAIN)" in found.errors
    assert any(e.startswith("rdap_domain:") and "(404)" in e for e in found.errors)
    site.refresh_from_db()
    assert site.status == Site.Status.DEAD and site.addresses == []

    negative = Lookup.objects.get(kind="dns", key="gone-tube.com")
    assert not negative.ok and negative.result["reason"] == "nxdomain"
    assert timedelta(hours=5.9) < negative.expires_at - negative.fetched_at < timedelta(hours=6.1)
    asked = len(resolving.dns.queries)
    again = resolve_site(site)
    assert again.status == Site.Status.DEAD and len(resolving.dns.queries) == asked  # the negative answer was reused


def test_rdap_timeout_is_cached_and_whois_answers(resolving):
    site = Site.objects.create(domain="slow-rdap.com")
    started = time.monotonic()
    found = resolve_site(site)
    assert time.monotonic() - started < 2.5  # the RDAP server sleeps 3 s; the client gives up at 0.5 s
    port = resolving.rdap.httpd.server_address[1]
    error = f"RDAP server 127.0.0.1:{port} did not answer within 0.5 s"
    assert f"rdap_domain: {error}" in found.errors
    assert (found.registrar.name, found.registrar.iana_id, found.registrar.source) == (
        "NameCheap, Inc.", 1068, Source.WHOIS,
    )  # fmt: skip
    assert resolving.whois.queries == ["slow-rdap.com"]
    lookup = Lookup.objects.get(kind="rdap_domain", key="slow-rdap.com")
    assert (lookup.ok, lookup.error, lookup.result["reason"]) == (False, error, "timeout")
    site.refresh_from_db()
    contact = site.registrar.contacts.get()
    assert (contact.address, contact.source) == ("abuse@namecheap.com", Source.WHOIS)

    asked = resolving.rdap.paths().count("/com/domain/slow-rdap.com")
    resolve_site(site)  # the slow server is not asked again (the answer is known), so no 3 s wait either
    assert resolving.rdap.paths().count("/com/domain/slow-rdap.com") == asked


def test_garbage_answers_are_clear_errors(resolving):
    site = Site.objects.create(domain="garbage-rdap.com")
    found = resolve_site(site)
    assert any(e.endswith("answered garbage-rdap.com with something that is not JSON") for e in found.errors)
    assert any(e.startswith("whois:") and "with nothing Kesu can read" in e for e in found.errors)
    assert found.registrar is None and found.host.key == "as64500"  # the rest of the resolution went on
    assert all("\n" not in error for error in found.errors)
    assert not Lookup.objects.get(kind="whois", key="garbage-rdap.com").ok

    odd = {
        b"[1, 2, 3]": "JSON that is not an RDAP object",
        b'{"objectClassName": "entity"}': "with 'entity', not an RDAP domain",
        b"\xff\xfe\x00garbage": "something that is not JSON",
    }
    for body, message in odd.items():
        resolving.rdap.routes["/com/domain/garbage-rdap.com"] = ("garbage", body, "application/rdap+json")
        result = cache.answer("rdap_domain", "garbage-rdap.com", force=True)
        assert not result.ok and message in result.error and result.reason == "garbage"
    # A domain object with every field of the wrong type is read as having nothing, not as a crash.
    wrong = {"objectClassName": "domain", "entities": [{"roles": "registrar", "vcardArray": ["vcard", 7]}, 5, None],
             "events": "soon", "nameservers": [None, {"ldhName": 3}], "status": {"a": 1}}  # fmt: skip
    resolving.rdap.routes["/com/domain/garbage-rdap.com"] = ("garbage", json.dumps(wrong).encode(), "application/json")
    result = cache.answer("rdap_domain", "garbage-rdap.com", force=True)
    assert result.ok and result.result["registrar"]["name"] == "" and result.result["nameservers"] == []


def test_rdap_redirects_and_sizes_are_bounded(resolving):
    routes = {
        "loop.com": (("redirect", "{{server}}/com/domain/loop.com"), "more than 5 redirects"),
        "ftp.com": (("redirect", "ftp://127.0.0.1/x"), "redirect to 'ftp://127.0.0.1/x' refused: not http(s)"),
        "away.com": (("redirect", "http://192.0.2.1/x"), "192.0.2.1 (192.0.2.1) is refused by the address policy"),
        "huge.com": (("garbage", b"{" + b" " * (1024 * 1024), "application/rdap+json"), "sent more than 1024 KB"),
    }
    for domain, (route, message) in routes.items():
        resolving.rdap.routes[f"/com/domain/{domain}"] = route
        result = cache.answer("rdap_domain", domain)
        assert not result.ok and result.error.startswith("RDAP server ") and message in result.error


def test_dns_timeout_leaves_the_status_alone(resolving):
    site = Site.objects.create(domain="stalled-dns.com")
    found = resolve_site(site)
    assert found.status == "" and "dns: no DNS answer for stalled-dns.com A within 0.5 s" in found.errors
    site.refresh_from_db()
    assert site.status == Site.Status.UNKNOWN and site.resolved_at is None
    assert Lookup.objects.get(kind="dns", key="stalled-dns.com").result["reason"] == "timeout"


def test_truncated_answer_is_asked_again_over_tcp(resolving):
    result = cache.answer("dns", "big-site.com")
    assert result.ok and len(result.result["hosts"]["big-site.com"]["a"]) == 39
    assert ("udp", "big-site.com", "A") in resolving.dns.queries
    assert ("tcp", "big-site.com", "A") in resolving.dns.queries


def test_cache_expiry_and_force(resolving):
    site = Site.objects.create(domain="ura-doga.com")
    resolve_site(site)
    asked = resolving.dns.names_asked("A").count("ura-doga.com")
    resolving.dns.zone["ura-doga.com"]["A"] = [JP_IP]

    assert resolve_site(site).addresses == [NL_IP]  # still cached
    assert resolving.dns.names_asked("A").count("ura-doga.com") == asked
    found = resolve_site(site, force=True)
    assert found.addresses == [JP_IP] and found.host.key == "as64501"
    site.refresh_from_db()
    assert site.host.key == "as64501" and site.server_country == "JP"  # the looked-up host moved with the site

    resolving.dns.zone["ura-doga.com"]["A"] = [NL_IP]
    assert resolve_site(site).addresses == [JP_IP]
    Lookup.objects.filter(kind="dns", key="ura-doga.com").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert resolve_site(site).addresses == [NL_IP]


def test_staff_set_fields_are_not_overwritten(resolving):
    from kesu.sites.import_rows import org_key

    staff_host = Organisation.objects.create(role=Role.HOST, key="sakura", name="さくらインターネット", country="JP")
    name = "GMO Internet Group, Inc. d/b/a Onamae.com"
    imported = Organisation.objects.create(role=Role.REGISTRAR, key=org_key(name), name="GMO (お名前.com)",
                                           source=Source.IMPORT)  # fmt: skip
    Contact.objects.create(organisation=imported, channel=Contact.Channel.EMAIL, address="Abuse@GMO.example",
                           priority=5, note="staff: send the form first", source=Source.STAFF)  # fmt: skip
    site = Site.objects.create(domain="ura-doga.com", host=staff_host, server_country="JP")

    found = resolve_site(site)
    assert found.host.key == "as64500" and found.server_country == "NL"
    assert "host kept as 'さくらインターネット' (lookup: 'Example Hosting B.V.')" in found.notes
    assert "server country kept as JP (lookup: NL)" in found.notes
    site.refresh_from_db()
    assert (site.host, site.server_country, site.registrar) == (staff_host, "JP", imported)
    imported.refresh_from_db()
    assert (imported.name, imported.country, imported.source) == ("GMO (お名前.com)", "JP", Source.IMPORT)
    contact = imported.contacts.get()
    assert (contact.address, contact.priority, contact.note, contact.source) == (
        "Abuse@GMO.example", 5, "staff: send the form first", Source.STAFF,
    )  # fmt: skip


def test_task_is_idempotent(resolving, django_capture_on_commit_callbacks):
    site = Site.objects.create(domain="hidden-tube.com")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert queue_resolution([site.pk, site.pk]) == 1
    assert len(callbacks) == 1

    assert tasks.resolve_site(site.pk) == Site.Status.ACTIVE
    counts = [model.objects.count() for model in (Organisation, Contact, Lookup, AuditEntry)]
    assert AuditEntry.objects.filter(action="sites.resolve", object_id=str(site.pk)).count() == 1
    assert tasks.resolve_site(site.pk) == Site.Status.ACTIVE
    assert tasks.resolve_site(site.pk, True) == Site.Status.ACTIVE
    assert [model.objects.count() for model in (Organisation, Contact, Lookup, AuditEntry)] == counts
    assert tasks.resolve_site(10**9) == "missing"


def test_resolver_settings_are_checked(monkeypatch, tmp_path):
    assert parse_dns_servers(["127.0.0.1:5353", "[::1]:53", "9.9.9.9"], "V") == [
        ("127.0.0.1", 5353), ("::1", 53), ("9.9.9.9", 53),
    ]  # fmt: skip
    assert parse_whois_servers(["jp=whois.jprs.jp", ".com=127.0.0.1:4343"], "V") == {
        "jp": ("whois.jprs.jp", 43), "com": ("127.0.0.1", 4343),
    }  # fmt: skip
    cases = {
        "KESU_DNS_SERVERS": ("dns.google", "is not an IP address"),
        "KESU_WHOIS_SERVERS": ("jp", "is not tld=host[:port]"),
        "KESU_RDAP_BOOTSTRAP_FILE": (str(tmp_path / "missing.json"), "cannot read"),
    }
    parsers = {"KESU_DNS_SERVERS": parse_dns_servers, "KESU_WHOIS_SERVERS": parse_whois_servers,
               "KESU_RDAP_BOOTSTRAP_FILE": parse_bootstrap_file}  # fmt: skip
    for name, (value, message) in cases.items():
        monkeypatch.setenv(name, value)
        with pytest.raises(ImproperlyConfigured, match=f"{name}: .*{re.escape(message)}"):
            env.env_parsed(name, "", parsers[name])
    (tmp_path / "bad.json").write_text('{"dns": {"com": "ftp://x/"}, "ip": {}}')
    monkeypatch.setenv("KESU_RDAP_BOOTSTRAP_FILE", str(tmp_path / "bad.json"))
    with pytest.raises(ImproperlyConfigured, match="dns entry 'com' is not an http"):
        env.env_parsed("KESU_RDAP_BOOTSTRAP_FILE", "", parse_bootstrap_file)

    for name in cases:
        monkeypatch.delenv(name)
    environment = {**os.environ, "KESU_DATA_DIR": str(tmp_path), "KESU_DNS_TIMEOUT": "soon",
                   "DJANGO_SETTINGS_MODULE": "kesu.settings"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], capture_output=True,
                            text=True, env=environment, timeout=120)  # fmt: skip
    assert result.returncode != 0 and "KESU_DNS_TIMEOUT='soon' is not a whole number" in result.stderr


def test_the_site_page_button_and_the_cli_resolve(
    resolving, clients, cli, settings, django_capture_on_commit_callbacks
):
    site = Site.objects.create(domain="ura-doga.com")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["on_case"].post("/sites/ura-doga.com/resolve/")
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.status == Site.Status.ACTIVE and site.host.country == "NL" and site.registrar is not None
    assert AuditEntry.objects.filter(action="sites.resolve_request").count() == 1
    assert clients["on_case"].get("/sites/ura-doga.com/resolve/").status_code == 405

    code, out, err = cli("site", "resolve", "https://www.ura-doga.com/x", "nowhere.example")
    assert code == 1 and out.startswith("ura-doga.com: active;") and "NL" in out
    assert "kesu: error: nowhere.example: nowhere.example is not in the knowledge base" in err.splitlines()


def test_the_daily_refresh_takes_the_oldest_lookups_first_and_never_demo_sites(resolving, settings):
    now = timezone.now()
    ages = {"never.com": None, "old.com": 400, "older.com": 900, "fresh.com": 1, "demo-s7.example": None}
    for domain, hours in ages.items():
        Site.objects.create(domain=domain, resolved_at=None if hours is None else now - timedelta(hours=hours))
    settings.KESU_RESOLVE_TTL_HOURS = 72
    order = [Site.objects.get(pk=pk).domain for pk in tasks.resolution.stale_sites(10, now=now)]
    assert order == ["never.com", "older.com", "old.com"]
    assert [Site.objects.get(pk=pk).domain for pk in tasks.resolution.stale_sites(2, now=now)] == order[:2]


def test_a_server_trickling_its_headers_is_cut_at_the_deadline(resolving):
    import threading

    from kesu.sites.resolvers.base import ResolveError
    from kesu.sites.resolvers.net import http_get

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nServer: " + b"x" * 200:
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    start = time.monotonic()
    try:
        with pytest.raises(ResolveError, match="did not answer within 1 s"):
            http_get(f"http://127.0.0.1:{listener.getsockname()[1]}/", headers={}, limit=1000, seconds=1)
        assert time.monotonic() - start < 2.5
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_site_behind_an_egress_proxy_rule_is_never_probed_directly(resolving, settings):
    from kesu.lib.netsettings import parse_proxy_rules

    settings.KESU_CAPTURE_PROXIES = parse_proxy_rules(["*.com=socks5://127.0.0.9:1080"], "KESU_CAPTURE_PROXIES")
    answer = cache.answer("headers", "mirror-tube.com", resolver=HeadersResolver())
    assert not answer.ok and "reached only through an egress proxy" in answer.error
