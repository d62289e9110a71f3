"""RDAP (RFC 7480-7484, RFC 9083): who registered a domain and through whom, and who holds an IP network.

Base URLs come from a bootstrap file shipped as data (RFC 9224's idea, kept
offline): kesu/sites/data/rdap_bootstrap.json, or the file named by
KESU_RDAP_BOOTSTRAP_FILE. For IP addresses the regional registry is taken from
the ASN answer (Team Cymru names it); without one the fallback server is asked,
and the RIRs redirect each other. Responses are read defensively: RDAP servers
differ, and a field of the wrong type is skipped rather than trusted.
"""

import functools
import ipaddress
import json
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

from django.conf import settings

from ...lib.netsettings import check_bootstrap
from .base import ResolveError, Resolver, register
from .jcard import entities_with_role, first_contact, public_id, vcard
from .net import http_get

DATA = Path(__file__).resolve().parent.parent / "data"
LIMIT = 1024 * 1024  # the largest RDAP answers (big networks with many entities) stay well under this
ACCEPT = {"Accept": "application/rdap+json, application/json;q=0.8", "User-Agent": "Kesu resolver (takedown desk)"}


def bootstrap() -> dict:
    path = settings.KESU_RDAP_BOOTSTRAP_FILE or str(DATA / "rdap_bootstrap.json")
    try:
        return _load(path, os.stat(path).st_mtime_ns)
    except OSError as exc:
        raise ResolveError(f"RDAP bootstrap {path} cannot be read: {exc.strerror}", reason="config") from None


@functools.lru_cache(maxsize=4)
def _load(path: str, _mtime: int) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    check_bootstrap(data, path)
    return data


def domain_base(domain: str) -> str:
    """The RDAP base URL for a domain's TLD (longest suffix listed wins, so "co.uk" may differ from "uk")."""
    table = bootstrap()["dns"]
    labels = domain.lower().split(".")
    for start in range(1, len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in table:
            if not table[suffix]:
                break
            return _slash(table[suffix])
    raise ResolveError(f"no RDAP service known for .{labels[-1]}", reason="no_service")


def ip_base(registry: str) -> str:
    data = bootstrap()
    url = data["ip"].get(registry) or data.get("ip_fallback")
    if not url:
        raise ResolveError(f"no RDAP service known for registry {registry or '(unknown)'}", reason="no_service")
    return _slash(url)


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def fetch(url: str, what: str) -> tuple[dict, str]:
    """The JSON object at url and the URL it finally came from; ResolveError for anything else."""
    seconds = float(settings.KESU_RESOLVE_SECONDS)
    where = urlsplit(url).netloc
    try:
        response = http_get(url, headers=ACCEPT, limit=LIMIT, seconds=seconds, redirects=5)
    except ResolveError as exc:
        raise ResolveError(f"RDAP server {exc}", reason=exc.reason) from None
    if response.status == 404:
        raise ResolveError(f"RDAP server {where} has no record of {what} (404)", reason="not_found")
    if response.status != 200:
        raise ResolveError(f"RDAP server {where} answered HTTP {response.status} for {what}", reason="http")
    try:
        data = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ResolveError(
            f"RDAP server {where} answered {what} with something that is not JSON", reason="garbage"
        ) from None
    if not isinstance(data, dict):
        raise ResolveError(
            f"RDAP server {where} answered {what} with JSON that is not an RDAP object", reason="garbage"
        )
    return data, response.url


def _expect(data: dict, object_class: str, what: str, url: str) -> None:
    if data.get("objectClassName") != object_class:
        found = str(data.get("objectClassName", "nothing"))[:40]
        raise ResolveError(
            f"RDAP server {urlsplit(url).netloc} answered {what} with {found!r}, not an RDAP {object_class}",
            reason="garbage",
        )


def _strings(value) -> list[str]:
    return [str(item) for item in value if isinstance(item, str | int)] if isinstance(value, list) else []


def _events(data: dict) -> dict:
    events = {}
    for event in data.get("events") or []:
        if isinstance(event, dict) and isinstance(event.get("eventAction"), str):
            events.setdefault(event["eventAction"], str(event.get("eventDate", ""))[:40])
    return events


def _nameservers(data: dict) -> list[str]:
    found = []
    for server in data.get("nameservers") or []:
        if isinstance(server, dict) and isinstance(server.get("ldhName"), str):
            found.append(server["ldhName"].lower().rstrip("."))
    return found


def parse_registrar(data: dict) -> dict:
    entity = next(iter(entities_with_role(data, "registrar")), {})
    card = vcard(entity)
    iana = public_id(entity, "iana")
    abuse = first_contact(entity, "abuse") or first_contact(data, "abuse", depth=0)
    return {
        "name": card["fn"] or card["org"] or str(entity.get("handle", ""))[:200],
        "iana_id": int(iana) if iana.isdigit() else None,
        "handle": str(entity.get("handle", ""))[:100],
        "country": card["country"],
        "abuse_email": abuse["email"],
        "abuse_phone": abuse["tel"],
    }


def parse_domain(data: dict, url: str, domain: str) -> dict:
    """Registrar (name, IANA id, country, abuse contact), registrant country, events, status, name servers."""
    _expect(data, "domain", domain, url)
    registrant = next(iter(entities_with_role(data, "registrant")), {})
    return {
        "domain": str(data.get("ldhName") or domain).lower(),
        "handle": str(data.get("handle", ""))[:100],
        "status": _strings(data.get("status")),
        "events": _events(data),
        "nameservers": _nameservers(data),
        "registrar": parse_registrar(data),
        "registrant_country": vcard(registrant)["country"],
        "server": urlsplit(url).netloc,
    }


def registrar_link(data: dict) -> str:
    """The registrar's own RDAP record of the domain (a "related" link), which is where the detail often is."""
    links = list(data.get("links") or [])
    for entity in entities_with_role(data, "registrar"):
        links += list(entity.get("links") or [])
    for link in links:
        if not isinstance(link, dict) or link.get("rel") != "related" or not isinstance(link.get("href"), str):
            continue
        if "rdap" in str(link.get("type", "")) and "/domain/" in link["href"].lower():
            return link["href"]
    return ""


@register
class RdapDomainResolver(Resolver):
    """key: an ASCII domain. Answer: see parse_domain; fields the registry leaves out are asked of the registrar."""

    kind = "rdap_domain"

    def lookup(self, key: str) -> dict:
        url = domain_base(key) + "domain/" + quote(key)
        data, final = fetch(url, key)
        found = parse_domain(data, final, key)
        registrar = found["registrar"]
        link = registrar_link(data)
        if link and not (registrar["country"] and registrar["abuse_email"] and found["registrant_country"]):
            self._ask_registrar(link, key, found)
        return found

    def _ask_registrar(self, link: str, key: str, found: dict) -> None:
        try:
            data, final = fetch(link, key)
            _expect(data, "domain", key, final)
        except ResolveError as exc:  # the registry's answer stands; the registrar's is extra detail
            found["registrar_rdap_error"] = str(exc)
            return
        theirs = parse_registrar(data)
        for field, value in theirs.items():
            if value and not found["registrar"].get(field):
                found["registrar"][field] = value
        registrant = next(iter(entities_with_role(data, "registrant")), {})
        found["registrant_country"] = found["registrant_country"] or vcard(registrant)["country"]
        found["registrar_server"] = urlsplit(final).netloc


def _cidrs(data: dict) -> list[str]:
    found = []
    for item in data.get("cidr0_cidrs") or []:
        if isinstance(item, dict):
            prefix = item.get("v4prefix") or item.get("v6prefix")
            try:
                found.append(str(ipaddress.ip_network(f"{prefix}/{int(item.get('length'))}", strict=False)))
            except (TypeError, ValueError):
                continue
    if not found:
        try:
            start, end = ipaddress.ip_address(data.get("startAddress")), ipaddress.ip_address(data.get("endAddress"))
            found = [str(network) for network in ipaddress.summarize_address_range(start, end)][:8]
        except (TypeError, ValueError):
            pass
    return found


def parse_network(data: dict, url: str, address: str) -> dict:
    """Network name/handle, country, CIDR, the holding organisation and its abuse contact."""
    _expect(data, "ip network", address, url)
    holder = next(iter(entities_with_role(data, "registrant")), {})
    card = vcard(holder)
    abuse = first_contact(data, "abuse")
    country = str(data.get("country") or "").upper()[:2] or card["country"]
    return {
        "address": address,
        "handle": str(data.get("handle", ""))[:100],
        "name": str(data.get("name", ""))[:200],
        "type": str(data.get("type", ""))[:60],
        "country": country if country.isalpha() else "",
        "cidr": _cidrs(data),
        "org": {
            "name": card["fn"] or card["org"],
            "handle": str(holder.get("handle", ""))[:100],
            "country": card["country"],
        },
        "abuse_email": abuse["email"],
        "abuse_phone": abuse["tel"],
        "server": urlsplit(url).netloc,
    }


@register
class RdapIpResolver(Resolver):
    """key: an IP address. Answer: see parse_network."""

    kind = "rdap_ip"

    def lookup(self, key: str) -> dict:
        try:
            address = str(ipaddress.ip_address(key))
        except ValueError:
            raise ResolveError(f"{key[:60]!r} is not an IP address", reason="bad_key") from None
        data, final = fetch(ip_base(self._registry(address)) + "ip/" + address, address)
        return parse_network(data, final, address)

    def _registry(self, address: str) -> str:
        from .cache import answer  # the cache layer imports models; resolvers stay importable from settings

        found = answer("asn", address)
        return found.result.get("registry", "") if found.ok else ""
