"""DNS: the addresses, CNAME chain, name servers and mail exchangers of a domain.

Queries go to the servers in KESU_DNS_SERVERS (or the system resolver when
unset), each query bounded by KESU_DNS_TIMEOUT seconds. "The name does not
exist" (NXDOMAIN) and "exists but has no such record" are answers; a server
that does not answer in time is a failure of its own, so a slow resolver never
marks a site dead.
"""

import dns.rdatatype
import dns.resolver

from ...capture.names import Unresolved, client
from ...capture.names import query as _query
from .base import ResolveError, Resolver, register


def query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, or None when the name exists without such records; NXDOMAIN and timeouts raise ResolveError."""
    try:
        return _query(resolver, name, rdtype)
    except Unresolved as error:
        raise ResolveError(str(error), reason=error.reason) from None


def values(answer: dns.resolver.Answer | None, rdtype: str) -> list[str]:
    """Records of rdtype for the name the chain ends at, as text without trailing dots."""
    if answer is None or answer.rrset is None:
        return []
    wanted = dns.rdatatype.from_text(rdtype)
    return [_text(rdata) for rdata in answer.rrset if rdata.rdtype == wanted]


def cname_chain(answer: dns.resolver.Answer | None) -> list[str]:
    """The names a query was sent through: ``www.example.com -> example.com.cdn.cloudflare.net``."""
    if answer is None:
        return []
    chain = []
    for rrset in answer.chaining_result.cnames:
        chain.extend(_text(rdata) for rdata in rrset)
    return chain


def _text(rdata) -> str:
    if rdata.rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True).lower()}"
    if rdata.rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS):
        return rdata.target.to_text(omit_final_dot=True).lower()
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text()


@register
class DnsResolver(Resolver):
    """key: an ASCII domain. Answer: addresses and CNAME chain of the domain and of www.<domain>, NS, MX."""

    kind = "dns"

    def lookup(self, key: str) -> dict:
        resolver = client()
        apex = self._host(resolver, key)  # NXDOMAIN or a timeout here ends the lookup
        www = self._www(resolver, key)
        ns = values(query(resolver, key, "NS"), "NS")
        mx = values(query(resolver, key, "MX"), "MX")
        return {"name": key, "hosts": {key: apex, f"www.{key}": www}, "ns": sorted(ns), "mx": sorted(mx)}

    def _host(self, resolver, name: str) -> dict:
        a = query(resolver, name, "A")
        aaaa = query(resolver, name, "AAAA")
        return {"a": values(a, "A"), "aaaa": values(aaaa, "AAAA"), "cname": cname_chain(a) or cname_chain(aaaa)}

    def _www(self, resolver, name: str) -> dict:
        try:
            return self._host(resolver, f"www.{name}")
        except ResolveError as exc:  # www is a second chance to find the site, not a reason to fail
            return {"a": [], "aaaa": [], "cname": [], "error": str(exc)}


def addresses(answer: dict) -> list[str]:
    """The site's addresses from a DnsResolver answer: the apex's, or www's when the apex has none; IPv4 first."""
    for host in answer.get("hosts", {}).values():
        found = [*host.get("a", []), *host.get("aaaa", [])]
        if found:
            return found
    return []


def names(answer: dict) -> list[str]:
    """Every name in the CNAME chains of the apex and www."""
    return [name for host in answer.get("hosts", {}).values() for name in host.get("cname", [])]
