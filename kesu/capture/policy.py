"""Which addresses the crawler may reach, and through which egress proxy.

The browser never connects anywhere itself: every connection goes through the
guard proxy (proxy.py), which resolves the host once, checks the address here
and connects to exactly that address, so a DNS answer cannot change between
the check and the connection.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kesu.lib.errors import UserError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Private, loopback, link-local, carrier-grade NAT, multicast, reserved and the
# like: a capture must never be a way into the desk's own network.
DEFAULT_DENY = (
    "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.0.0/24 "
    "192.0.2.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 "
    "::/128 ::1/128 ::ffff:0:0/96 64:ff9b::/96 100::/64 fc00::/7 fe80::/10 ff00::/8 2001:db8::/32"
).split()
LOOPBACK = "127.0.0.0/8"


class AddressRefused(UserError):
    """The target's address is outside what the policy allows."""


def parse_networks(values: list[str], name: str) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise UserError(f"{name}: {value!r} is not an address range (e.g. 10.0.0.0/8)") from None
    return networks


@dataclass(frozen=True)
class EgressProxy:
    """An upstream proxy: http://host:port or socks5://host:port (optionally user:password@)."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, value: str, name: str = "proxy") -> EgressProxy:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "socks5", "socks5h") or not parts.hostname or not parts.port:
            raise UserError(f"{name}: {value!r} is not a proxy URL (http://host:port or socks5://host:port)")
        return cls(parts.scheme, parts.hostname, parts.port, parts.username or "", parts.password or "")

    @property
    def label(self) -> str:
        """For the manifest: never the credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"


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


def parse_proxy_rules(values: list[str], name: str) -> list[tuple[str, EgressProxy]]:
    """'pattern=proxy' items, e.g. '*.jp=socks5://10.1.2.3:1080'."""
    rules = []
    for value in values:
        pattern, sep, proxy = value.partition("=")
        if not sep or not pattern.strip():
            raise UserError(f"{name}: {value!r} is not host-pattern=proxy-url")
        rules.append((pattern.strip().lower(), EgressProxy.parse(proxy, name)))
    return rules


def parse_host_rules(values: list[str], name: str) -> list[tuple[str, str]]:
    """'pattern=address' items, e.g. 'leak.example=127.0.0.2' (the demo web, tests, split-horizon names)."""
    rules = []
    for value in values:
        pattern, sep, address = value.partition("=")
        try:
            ipaddress.ip_address(address.strip())
        except ValueError:
            raise UserError(f"{name}: {value!r} is not host-pattern=ip-address") from None
        if not sep or not pattern.strip():
            raise UserError(f"{name}: {value!r} is not host-pattern=ip-address")
        rules.append((pattern.strip().lower(), address.strip()))
    return rules


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
