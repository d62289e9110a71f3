"""The network (AS) that announces an IP address, from Team Cymru's IP-to-ASN service over DNS.

https://www.team-cymru.com/ip-asn-mapping: ``TXT 4.3.2.1.origin.asn.cymru.com``
answers ``"ASN | prefix | country | registry | allocated"``, and
``TXT AS<n>.asn.cymru.com`` answers ``"ASN | country | registry | allocated |
AS name"``. The country is where the prefix (or AS) is registered, not where
the machine stands. Queries go through the desk's DNS servers like any other.
"""

import ipaddress
import re

from .base import ResolveError, Resolver, register
from .records import client, query, values


def origin_name(address: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ".".join(reversed(address.split("."))) + ".origin.asn.cymru.com"
    nibbles = ip.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + ".origin6.asn.cymru.com"


def _fields(text: str, count: int, what: str) -> list[str]:
    parts = [part.strip() for part in text.split("|")]
    if len(parts) < count:
        raise ResolveError(f"Team Cymru answer for {what} is not 'ASN | ...': {text[:80]!r}", reason="garbage")
    return parts


def parse_origin(texts: list[str], address: str) -> dict:
    """The most specific announcement among the TXT answers."""
    best = None
    for text in texts:
        asn_field, prefix, country, registry, allocated = _fields(text, 5, address)[:5]
        numbers = asn_field.split()
        try:
            network = ipaddress.ip_network(prefix, strict=False)
            asn = int(numbers[0])
        except (ValueError, IndexError):
            raise ResolveError(
                f"Team Cymru answer for {address} has no ASN and prefix: {text[:80]!r}", reason="garbage"
            ) from None
        if best is None or network.prefixlen > best["prefixlen"]:
            best = {"asn": asn, "prefix": str(network), "prefixlen": network.prefixlen,
                    "country": country.upper()[:2], "registry": registry.lower(), "allocated": allocated,
                    "other_asns": [int(n) for n in numbers[1:] if n.isdigit()]}  # fmt: skip
    best.pop("prefixlen")
    return best


def parse_as_name(text: str) -> tuple[str, str, str]:
    """(AS name, organisation, country) of ``"13335 | US | arin | 2010-07-14 | CLOUDFLARENET - Cloudflare, Inc., US"``.

    RIPE and ARIN names read "HANDLE - Organisation, CC"; APNIC's often lack the dash.
    """
    parts = _fields(text, 5, "an AS")
    as_name = "|".join(parts[4:]).strip()
    country = parts[1].upper()[:2]
    handle, sep, organisation = as_name.partition(" - ")
    organisation = re.sub(r",\s*[A-Z]{2}$", "", organisation if sep else handle).strip()
    return handle.strip(), organisation, country


@register
class AsnResolver(Resolver):
    """key: an IP address. Answer: asn, prefix, country, registry (RIR), as_name, organisation, as_country."""

    kind = "asn"

    def lookup(self, key: str) -> dict:
        try:
            name = origin_name(key)
        except ValueError:
            raise ResolveError(f"{key[:60]!r} is not an IP address", reason="bad_key") from None
        resolver = client()
        try:
            texts = values(query(resolver, name, "TXT"), "TXT")
        except ResolveError as exc:
            if exc.reason != "nxdomain":
                raise
            texts = []
        if not texts:
            raise ResolveError(f"no network announces {key} (Team Cymru has no origin)", reason="unrouted")
        found = parse_origin(texts, key)
        found.update(as_name="", organisation="", as_country="")
        try:
            named = values(query(resolver, f"AS{found['asn']}.asn.cymru.com", "TXT"), "TXT")
        except ResolveError as exc:
            found["as_name_error"] = str(exc)
            named = []
        try:
            if named:
                found["as_name"], found["organisation"], found["as_country"] = parse_as_name(named[0])
        except ResolveError as exc:  # the origin is the answer; a garbled name only loses the label
            found["as_name_error"] = str(exc)
        return found
