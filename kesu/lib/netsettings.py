"""Parsers for the network settings: what the crawler may reach and through which proxy (KESU_CAPTURE_*),
and which servers site resolution asks (KESU_DNS_SERVERS, KESU_WHOIS_SERVERS, KESU_RDAP_BOOTSTRAP_FILE).

kesu.settings calls them at start-up, so a bad value stops it with one line naming the variable; nothing here
imports Django or a domain package. Each parser takes the comma-separated items and the variable's name.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import UserError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Private, loopback, link-local, carrier-grade NAT, multicast, reserved and the
# like: a capture must never be a way into the desk's own network.
DEFAULT_DENY = (
    "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.0.0/24 "
    "192.0.2.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 "
    "::/96 ::ffff:0:0/96 ::ffff:0:0:0/96 64:ff9b::/96 64:ff9b:1::/48 100::/64 fc00::/7 fe80::/10 ff00::/8 "
    "2001:db8::/32 2002::/16"
).split()


# --- the crawler's reach (kesu.capture.policy) ------------------------------------------------------


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


# --- the servers site resolution asks (kesu.sites.resolvers) -------------------------------------------


def _host_port(value: str, name: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    text = value.strip()
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise UserError(f"{name}: {value!r} is not [address]:port")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{name}: {value!r} is not host[:port] with a port from 1 to 65535")
    return host.lower(), int(port)


def parse_dns_servers(values: list[str], name: str) -> list[tuple[str, int]]:
    """``ip[:port]`` items; an empty list means the system resolver (/etc/resolv.conf)."""
    servers = []
    for value in values:
        host, port = _host_port(value, name, 53)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UserError(f"{name}: {value!r} is not an IP address (name servers are given by address)") from None
        servers.append((host, port))
    return servers


def parse_whois_servers(values: list[str], name: str) -> dict[str, tuple[str, int]]:
    """``tld=host[:port]`` items, e.g. ``jp=whois.jprs.jp,com=127.0.0.1:4343``."""
    servers = {}
    for value in values:
        tld, sep, server = value.partition("=")
        tld = tld.strip().lower().lstrip(".")
        if not sep or not tld or not server.strip():
            raise UserError(f"{name}: {value!r} is not tld=host[:port]")
        servers[tld] = _host_port(server, name, 43)
    return servers


def parse_bootstrap_file(values: list[str], name: str) -> str:
    """A readable JSON file in the format of kesu/sites/data/rdap_bootstrap.json, or "" for the shipped one."""
    if not values:
        return ""
    path = Path(",".join(values)).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{name}: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise UserError(f"{name}: {path} is not JSON") from None
    check_bootstrap(data, f"{name}: {path}")
    return str(path.resolve())


def check_bootstrap(data, where: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("dns"), dict) or not isinstance(data.get("ip"), dict):
        raise UserError(f"{where} needs objects 'dns' (tld -> base URL) and 'ip' (registry -> base URL)")
    for label, table in (("dns", data["dns"]), ("ip", data["ip"])):
        for key, url in table.items():
            if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                raise UserError(f"{where}: {label} entry {key!r} is not an http(s) URL or null")
