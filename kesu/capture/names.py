"""Names to addresses for the connections Kesu opens itself: the capture's guard proxy, the patrol's fetcher,
and the site resolvers' RDAP, WHOIS and header requests.

An IP literal is its own address. A name KESU_CAPTURE_HOSTS pins is answered from there (like curl --resolve)
and never looked up. Any other name goes to the servers in KESU_DNS_SERVERS when set (the desk's own
resolver; the tests' server), otherwise to the system resolver. Callers check every address with the capture
policy and connect to exactly the one that passed.
"""

from __future__ import annotations

import ipaddress
import socket

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
from django.conf import settings

from .policy import AddressPolicy, AddressRefused


class Unresolved(OSError):
    """The name gave no address: one line naming it, and ``reason`` (nxdomain, no_address, timeout, servfail,
    error) for callers that act on the difference."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def client() -> dns.resolver.Resolver:
    """A DNS client for the servers in KESU_DNS_SERVERS (/etc/resolv.conf's when unset), no cache."""
    servers = settings.KESU_DNS_SERVERS
    if servers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in servers]
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = resolver.lifetime = float(settings.KESU_DNS_TIMEOUT)
    resolver.cache = None
    return resolver


def query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, or None when the name exists without such records; Unresolved otherwise."""
    try:
        return resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        raise Unresolved(f"{name} does not exist (NXDOMAIN)", "nxdomain") from None
    except dns.exception.Timeout:
        raise Unresolved(f"no DNS answer for {name} {rdtype} within {resolver.lifetime:g} s", "timeout") from None
    except dns.resolver.NoNameservers:
        raise Unresolved(f"every DNS server failed for {name} {rdtype} (SERVFAIL or refused)", "servfail") from None
    except (dns.exception.DNSException, OSError) as exc:
        raise Unresolved(f"DNS query for {name} {rdtype} failed: {exc}", "error") from None


def addresses(policy: AddressPolicy, host: str, port: int) -> list[str]:
    """Every address of host (IPv4 first when asked over DNS); Unresolved when there is none."""
    literal = _literal(host)
    if literal:
        return [literal]
    pinned = policy.pinned(host)
    if pinned:
        return [pinned]
    return _from_servers(host) if settings.KESU_DNS_SERVERS else _from_system(host, port)


def permitted(policy: AddressPolicy, host: str, port: int) -> str:
    """The first address of host the policy permits; AddressRefused naming the first address, or Unresolved."""
    found = addresses(policy, host, port)
    allowed = [address for address in found if policy.permits(address)]
    if not allowed:
        raise AddressRefused(found[0])
    return allowed[0]


def _literal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return ""


def _from_servers(host: str) -> list[str]:
    resolver = client()
    found = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = query(resolver, host, rdtype)
        except Unresolved:
            if rdtype == "A":
                raise
            continue
        if answer is not None and answer.rrset is not None:
            wanted = dns.rdatatype.from_text(rdtype)
            found += [rdata.to_text() for rdata in answer.rrset if rdata.rdtype == wanted]
    if not found:
        raise Unresolved(f"{host} has no address", "no_address")
    return found


def _from_system(host: str, port: int) -> list[str]:
    """getaddrinfo: /etc/hosts and the system's resolver, with the system's own timeout."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        reason = {socket.EAI_NONAME: "nxdomain", socket.EAI_AGAIN: "timeout"}.get(error.errno, "error")
        raise Unresolved(f"{host} does not resolve ({error.strerror})", reason) from None
    except UnicodeError:
        raise Unresolved(f"{host!r} is not a valid host name", "error") from None
    return list(dict.fromkeys(info[4][0] for info in infos))
