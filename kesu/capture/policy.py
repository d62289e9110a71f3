"""Which addresses the crawler may reach, and through which egress proxy.

The browser never connects anywhere itself: every connection goes through the
guard proxy (proxy.py), which resolves the host once, checks the address here
and connects to exactly that address, so a DNS answer cannot change between
the check and the connection. The settings that shape the policy are parsed in
kesu.lib.netsettings.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kesu.lib.errors import UserError
from kesu.lib.netsettings import DEFAULT_DENY, EgressProxy, Network, parse_networks

LOOPBACK = "127.0.0.0/8"
# IPv6 ranges whose last 32 bits are an IPv4 address (RFC 4291 compatible, RFC 7915 SIIT, RFC 6052 NAT64).
LAST_32_BITS = tuple(ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
UNSPECIFIED, LOOPBACK_V6 = ipaddress.ip_address("::"), ipaddress.ip_address("::1")


class AddressRefused(UserError):
    """The target's address is outside what the policy allows."""

    def __init__(self, address: str):
        super().__init__(f"address {address} is refused by the capture policy")
        self.address = address


@dataclass(frozen=True)
class AddressPolicy:
    deny: tuple[Network, ...] = field(default_factory=lambda: tuple(parse_networks(DEFAULT_DENY, "default")))
    allow: tuple[Network, ...] = ()  # wins over deny
    proxies: tuple[tuple[str, EgressProxy], ...] = field(default=())  # (host pattern, proxy), first match wins
    hosts: tuple[tuple[str, str], ...] = ()  # (host pattern, address): names answered without DNS

    def permits(self, address: str) -> bool:
        """Allowed ranges first; then anything not globally routable, or in the deny list, is refused.

        An IPv6 address that carries IPv4 addresses (embedded_ipv4) leads to them: each of them must pass
        as an IPv4 address too, so allowing an IPv6 range (a NAT64 prefix) never opens a private IPv4 one.
        """
        ip = ipaddress.ip_address(address)
        return all(self._passes(candidate) for candidate in (ip, *embedded_ipv4(ip)))

    def _passes(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if any(ip in network for network in self.allow):
            return True
        return ip.is_global and not any(ip in network for network in self.deny)

    def pinned(self, host: str) -> str | None:
        """The address KESU_CAPTURE_HOSTS gives this host (like curl --resolve), if any."""
        host = host.lower().rstrip(".")
        return next((address for pattern, address in self.hosts if fnmatch.fnmatch(host, pattern)), None)

    def proxy_for(self, host: str) -> EgressProxy | None:
        host = host.lower().rstrip(".")
        return next((proxy for pattern, proxy in self.proxies if fnmatch.fnmatch(host, pattern)), None)


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address may lead to: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    (::a.b.c.d; :: and ::1 are IPv6's own), SIIT-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d and
    the local-use 64:ff9b:1::/48, see _local_nat64), 6to4 (2002::/16) and Teredo (its server and its client)."""
    if ip.version != 6:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in LOCAL_NAT64:
        found += _local_nat64(ip)
    elif any(ip in network for network in LAST_32_BITS) and ip not in (UNSPECIFIED, LOOPBACK_V6):
        found.append(ipaddress.IPv4Address(ip.packed[12:]))
    return [address for address in found if address is not None]


def _local_nat64(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """RFC 8215 lets a network put any RFC 6052 layout under 64:ff9b:1::/48 (prefix /48, /56, /64 or /96) and
    the address does not say which: the /96 reading (the last 32 bits) always counts, and so does every other
    layout the address is well formed for (bits 64-71 and the suffix zero)."""
    octets = ip.packed
    found = [ipaddress.IPv4Address(octets[12:])]
    for start in (6, 7, 9):  # where the IPv4 address starts for /48, /56, /64; it skips octet 8 (bits 64-71)
        carried = octets[start:8] + octets[9:]
        if octets[8] == 0 and not any(carried[4:]):
            found.append(ipaddress.IPv4Address(carried[:4]))
    return found


def policy_from_settings() -> AddressPolicy:
    from django.conf import settings

    allow = list(settings.KESU_CAPTURE_ALLOW)
    if settings.KESU_ALLOW_LOOPBACK:
        allow.append(ipaddress.ip_network(LOOPBACK))
    return AddressPolicy(
        deny=tuple(settings.KESU_CAPTURE_DENY),
        allow=tuple(allow),
        proxies=tuple(settings.KESU_CAPTURE_PROXIES),
        hosts=tuple(settings.KESU_CAPTURE_HOSTS),
    )


def check_url(url: str) -> str:
    """The URL if it is one a capture may start from; a UserError naming the fault if not."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UserError(f"not an http(s) URL: {url[:200]!r}")
    if not parts.hostname:
        raise UserError(f"URL has no host: {url[:200]!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UserError(f"URL has a bad port: {url[:200]!r}") from None
    return url.strip()
