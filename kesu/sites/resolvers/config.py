"""Parsers for the resolver settings; imported by kesu.settings, so nothing here touches models."""

import ipaddress
import json
from pathlib import Path

from ...lib.errors import UserError


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
