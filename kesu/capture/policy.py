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


class AddressRefused(UserError):
    """The target's address is outside what the policy allows."""


@dataclass(frozen=True)
class AddressPolicy:
    deny: tuple[Network, ...] = field(default_factory=lambda: tuple(parse_networks(DEFAULT_DENY, "default")))
    allow: tuple[Network, ...] = ()  # wins over deny
    proxies: tuple[tuple[str, EgressProxy], ...] = field(default=())  # (host pattern, proxy), first match wins
    hosts: tuple[tuple[str, str], ...] = ()  # (host pattern, address): names answered without DNS

    def permits(self, address: str) -> bool:
        """Allowed ranges first; then anything not globally routable, or in the deny list, is refused.

        IPv6 addresses that carry an IPv4 address (mapped, 6to4, Teredo) are judged by both.
        """
        ip = ipaddress.ip_address(address)
        candidates = [ip, *_embedded_ipv4(ip)]
        if any(c in network for c in candidates for network in self.allow):
            return True
        return all(c.is_global and not any(c in network for network in self.deny) for c in candidates)

    def pinned(self, host: str) -> str | None:
        """The address KESU_CAPTURE_HOSTS gives this host (like curl --resolve), if any."""
        host = host.lower().rstrip(".")
        return next((address for pattern, address in self.hosts if fnmatch.fnmatch(host, pattern)), None)

    def proxy_for(self, host: str) -> EgressProxy | None:
        host = host.lower().rstrip(".")
        return next((proxy for pattern, proxy in self.proxies if fnmatch.fnmatch(host, pattern)), None)


def _embedded_ipv4(ip) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    return [address for address in found if address is not None]


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
