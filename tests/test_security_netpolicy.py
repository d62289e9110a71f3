"""Issue 18, findings 7 and 10: no IPv6 form of a forbidden IPv4 address gets past the capture policy, and the
tests never leave loopback (names go to the test's own DNS server, never to the system's).

The leak servers listen on 127.0.0.1 while Kesu is pointed at IPv6 forms of it, so a request that got through
would be seen there. The allowed test host lives on 127.0.0.2: the only IPv4 address the policy allows.
"""

import asyncio
import ipaddress
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import netguard
import pytest

from kesu.capture.browser import LAUNCH_ARGS
from kesu.capture.fetch import fetch
from kesu.capture.policy import AddressPolicy
from kesu.capture.proxy import GuardProxy
from kesu.lib.netsettings import DEFAULT_DENY, parse_networks
from kesu.patrol import http
from kesu.sites.resolvers.base import ResolveError
from kesu.sites.resolvers.net import permitted_address

TARGETS = ("127.0.0.1", "10.1.2.3", "169.254.169.254")
PUBLIC = int(ipaddress.IPv4Address("8.8.8.8"))
# A desk behind NAT64 allows the IPv6 ranges that carry IPv4 addresses: the IPv4 rules must still hold.
CARRIERS = "::/96 ::ffff:0:0/96 ::ffff:0:0:0/96 64:ff9b::/96 64:ff9b:1::/48 2002::/16 2001::/32".split()
ALLOWED_HOST = "allowed.test"


def _local_nat64(v4: str, prefix: int) -> str:
    """RFC 6052 layout of v4 under the local-use prefix 64:ff9b:1::/48 with the given prefix length."""
    octets = bytearray(bytes.fromhex("0064ff9b0001") + bytes(10))
    if prefix == 96:
        octets[12:] = ipaddress.IPv4Address(v4).packed
    else:
        start = {48: 6, 56: 7, 64: 9}[prefix]
        for index, value in zip([*range(start, 8), *range(9, 16)], ipaddress.IPv4Address(v4).packed, strict=False):
            octets[index] = value
    return str(ipaddress.IPv6Address(bytes(octets)))


def embeddings(v4: str) -> dict[str, str]:
    """Every IPv6 form that carries v4."""
    n = int(ipaddress.IPv4Address(v4))

    def teredo(server: int, client: int) -> str:
        return str(ipaddress.IPv6Address((0x20010000 << 96) | (server << 64) | (client ^ 0xFFFFFFFF)))

    return {
        "mapped": f"::ffff:{v4}", "compatible": f"::{v4}", "translated": f"::ffff:0:{v4}", "nat64": f"64:ff9b::{v4}",
        **{f"nat64-local/{p}": _local_nat64(v4, p) for p in (48, 56, 64, 96)},
        "6to4": str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1)),
        "teredo-server": teredo(n, PUBLIC), "teredo-client": teredo(PUBLIC, n),
    }  # fmt: skip


FORMS = [(target, kind, address) for target in TARGETS for kind, address in embeddings(target).items()]


def _policy(carriers: bool) -> AddressPolicy:
    allow = ["127.0.0.2/32", *(CARRIERS if carriers else [])]
    return AddressPolicy(
        deny=tuple(parse_networks(DEFAULT_DENY, "deny")), allow=tuple(parse_networks(allow, "allow")),
        hosts=((ALLOWED_HOST, "127.0.0.2"),),
    )  # fmt: skip


class Server:
    """Records every request; /to/<url> redirects there."""

    def __init__(self, host: str):
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path.startswith("/to/"):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/to/") :])
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def leak():
    """Listens on 127.0.0.1: any request here got past the policy."""
    server = Server("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def allowed():
    server = Server("127.0.0.2")
    yield server
    server.close()


def _url(address: str, port: int) -> str:
    return f"http://[{address}]:{port}/secret"


# --- finding 7: IPv6 forms of IPv4 addresses -------------------------------------------------------------


@pytest.mark.parametrize("carriers", [False, True], ids=["default", "carriers-allowed"])
@pytest.mark.parametrize(("target", "kind", "address"), FORMS, ids=[f"{t}-{k}" for t, k, _ in FORMS])
def test_finding_7_policy_judges_every_ipv6_form_by_the_ipv4_address_it_carries(target, kind, address, carriers):
    assert not _policy(carriers).permits(address)


def test_finding_7_one_unwrap_finds_the_ipv4_address_in_every_form():
    from kesu.capture.policy import embedded_ipv4

    for target, kind, address in FORMS:
        assert ipaddress.IPv4Address(target) in embedded_ipv4(ipaddress.ip_address(address)), kind
    assert embedded_ipv4(ipaddress.ip_address("::1")) == embedded_ipv4(ipaddress.ip_address("::")) == []
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) == embedded_ipv4(ipaddress.ip_address("8.8.8.8")) == []
    # Forms of a public address pass where the desk allows their IPv6 range (NAT64), and only there.
    for kind, address in embeddings("8.8.8.8").items():
        if kind not in ("nat64-local/48", "nat64-local/56"):  # their last 32 bits read as 0.0.0.0: refused
            assert _policy(carriers=True).permits(address), kind
    assert not _policy(carriers=False).permits("64:ff9b::808:808")
    assert _policy(carriers=False).permits("2606:4700::1") and not _policy(carriers=False).permits("::1")


@pytest.mark.parametrize("carriers", [False, True], ids=["default", "carriers-allowed"])
def test_finding_7_patrol_fetcher_refuses_every_form_directly_and_after_a_redirect(leak, allowed, carriers):
    policy = _policy(carriers)
    assert http.get(f"http://{ALLOWED_HOST}:{allowed.port}/", policy, limit=1024, seconds=5).status == 200
    for _, kind, address in FORMS:
        direct = http.get(_url(address, leak.port), policy, limit=1024, seconds=5)
        redirect = f"http://{ALLOWED_HOST}:{allowed.port}/to/{_url(address, leak.port)}"
        redirected = http.get(redirect, policy, limit=1024, seconds=5)
        for response in (direct, redirected):
            assert "is refused by the capture policy" in response.error and response.status == 0, (kind, response)
    assert leak.requests == []
    assert len(allowed.requests) == 1 + len(FORMS)


@pytest.mark.parametrize("carriers", [False, True], ids=["default", "carriers-allowed"])
def test_finding_7_guard_proxy_refuses_every_form_directly_and_after_a_redirect(leak, allowed, carriers):
    async def run():
        proxy = await GuardProxy(_policy(carriers), timeout=5).start()
        try:
            results = []
            for _, kind, address in FORMS:
                target = _url(address, leak.port)
                for url in (target, f"http://{ALLOWED_HOST}:{allowed.port}/to/{target}"):
                    exchange = await asyncio.to_thread(
                        fetch, url, proxy_url=proxy.url, user_agent="t", referer="", limit=1024, seconds=5,
                        ident=kind, refusal_token=proxy.token,
                    )  # fmt: skip
                    results.append((kind, exchange.error))
            return results, proxy.traffic.refusals
        finally:
            await proxy.close()

    results, refusals = asyncio.run(run())
    assert all(error == "re-fetch refused by the capture policy" for _, error in results), results
    assert len(refusals) == 2 * len(FORMS) and all("is refused by the capture policy" in r for r in refusals)
    assert leak.requests == []


def test_finding_7_browser_capture_is_refused_after_a_redirect_to_mapped_loopback(leak, allowed):
    from kesu.capture.browser import Engine
    from kesu.capture.recorder import Limits

    engine = Engine(_policy(carriers=True), Limits(page_seconds=15), warm=0)
    try:
        capture = engine.capture(f"http://{ALLOWED_HOST}:{allowed.port}/to/{_url('::ffff:127.0.0.1', leak.port)}")
    finally:
        engine.close()
    # Chromium writes the address as ::ffff:7f00:1.
    assert "::ffff:7f00:1: address ::ffff:7f00:1 is refused by the capture policy" in capture.errors
    assert len(allowed.requests) == 1 and leak.requests == []


# --- finding 10: the tests never leave loopback ----------------------------------------------------------

UNKNOWN = ("kesu-leak-check.invalid", "www.example.com")


def test_finding_10_unknown_names_go_to_the_tests_resolver_and_get_nxdomain(dns):
    policy = AddressPolicy()
    for host in UNKNOWN:
        response = http.get(f"http://{host}/", policy, limit=1024, seconds=5)
        assert response.error == f"Unresolved: {host} does not exist (NXDOMAIN)"
        with pytest.raises(ResolveError) as caught:
            permitted_address(host)
        assert caught.value.reason == "nxdomain"

    async def through_the_guard():
        proxy = await GuardProxy(policy, timeout=5).start()
        try:
            for host in UNKNOWN:
                await asyncio.to_thread(fetch, f"http://{host}/", proxy_url=proxy.url, user_agent="t", referer="",
                                        limit=1024, seconds=5, ident=host)  # fmt: skip
            return proxy.traffic.refusals
        finally:
            await proxy.close()

    assert asyncio.run(through_the_guard()) == [f"{host}: name does not resolve" for host in UNKNOWN]
    for host in UNKNOWN:  # patrol, site resolution, guard proxy: each asked the test's server, nothing else
        assert dns.names_asked("A").count(host) == 3
    assert netguard.take() == []


def test_finding_10_a_name_the_test_serves_is_answered_by_the_tests_resolver(dns, allowed):
    dns.serve("served.example.com", A=["127.0.0.2"])
    response = http.get(f"http://served.example.com:{allowed.port}/", _policy(False), limit=1024, seconds=5)
    assert (response.status, response.address) == (200, "127.0.0.2")
    assert ("udp", "served.example.com", "A") in dns.queries


def test_finding_10_processes_the_tests_start_ask_the_tests_resolver(dns, tmp_path):
    script = (
        "import django; django.setup(); from kesu.patrol import http; from kesu.capture.policy import AddressPolicy\n"
        "print(http.get('http://kesu-leak-check.invalid/', AddressPolicy(), limit=1, seconds=5).error)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kesu.settings"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.stdout.strip() == "Unresolved: kesu-leak-check.invalid does not exist (NXDOMAIN)", done.stderr[-500:]
    assert "kesu-leak-check.invalid" in dns.names_asked("A")


def test_finding_10_the_guard_refuses_system_lookups_and_traffic_off_this_machine():
    with pytest.raises(socket.gaierror, match="test network guard"):
        socket.getaddrinfo("kesu-leak-check.invalid", 80)
    with pytest.raises(PermissionError, match="test network guard"):
        socket.create_connection(("192.0.2.1", 9), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(PermissionError):
        udp.sendto(b"x", ("192.0.2.1", 53))
    found = netguard.take()
    assert [line.split(" (from")[0] for line in found] == [
        "socket.getaddrinfo 'kesu-leak-check.invalid'", "socket.connect ('192.0.2.1', 9)",
        "socket.sendto ('192.0.2.1', 53)",
    ]  # fmt: skip
    assert all("test_security_netpolicy.py" in line for line in found)  # names the line to fix
    # Loopback, literals and localhost pass.
    assert socket.getaddrinfo("localhost", 80) and socket.getaddrinfo("10.0.0.1", 80)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"x", ("127.0.0.1", 9))
    assert netguard.take() == []


def test_finding_10_tsa_credentials_are_sent_as_authorization_never_asked_of_a_resolver():
    """urllib took ``user:password@127.0.0.1`` for the host name and asked the system resolver for it."""
    import base64
    import hashlib

    from tsa import LocalTSA

    from kesu.evidence.timestamp import request_timestamp

    with LocalTSA("ec") as tsa:
        url = tsa.url.replace("http://", "http://kesu:s%40cret@")
        assert request_timestamp(hashlib.sha256(b"bundle").digest(), url, ca_pem=tsa.ca_pem)
    assert tsa.authorizations == ["Basic " + base64.b64encode(b"kesu:s@cret").decode()]
    assert netguard.take() == []


def test_finding_10_smtp_greets_with_the_desks_mail_domain_not_a_looked_up_machine_name(settings):
    """smtplib looked the machine's name up for EHLO, and relays copy that name into the Received header."""
    from mail_servers import SmtpSink

    from kesu.notices.mail import smtp_send

    settings.DEFAULT_FROM_EMAIL = "takedown@desk.example"
    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        assert smtp_send(b"Subject: x\r\n\r\nx\r\n", "takedown@desk.example", ["abuse@leak.example"])[0] == 250
    assert sink.greetings == ["desk.example"]
    assert netguard.take() == []


def test_finding_10_chromium_never_resolves_a_name_itself(leak):
    """Kesu's Chromium, even outside a context's guard proxy, finds no address for a name (here one the
    system would answer from /etc/hosts): whatever it would fetch on its own never gets as far as DNS."""
    from playwright.sync_api import sync_playwright

    from kesu.capture.children import child_env

    outcomes = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS, env=child_env())
        try:
            for host in ("localhost", "127.0.0.1"):
                page = browser.new_page()  # an error page would interrupt the next navigation
                try:
                    outcomes[host] = page.goto(f"http://{host}:{leak.port}/{host}", timeout=15000).status
                except Exception as error:  # noqa: BLE001 - Playwright's error names the network failure
                    outcomes[host] = str(error).splitlines()[0].split(" at ")[0]
        finally:
            browser.close()
    assert outcomes == {"localhost": "Page.goto: net::ERR_NAME_NOT_RESOLVED", "127.0.0.1": 200}
    assert "/localhost" not in leak.requests and "/127.0.0.1" in leak.requests


def test_finding_10_lookups_without_a_test_resolver_use_the_system(settings):
    """Production: KESU_DNS_SERVERS unset sends names to the system resolver (here stopped by the guard)."""
    from kesu.capture import names

    settings.KESU_DNS_SERVERS = []
    with pytest.raises(names.Unresolved):
        names.addresses(AddressPolicy(), "kesu-leak-check.invalid", 80)
    assert [line.split(" (from")[0] for line in netguard.take()] == ["socket.getaddrinfo 'kesu-leak-check.invalid'"]
    assert names.addresses(AddressPolicy(hosts=(("pinned.test", "127.0.0.9"),)), "pinned.test", 80) == ["127.0.0.9"]
    assert names.addresses(AddressPolicy(), "[::1]", 80) == ["::1"]
