"""Which CDN stands in front of a site: by published address ranges, AS numbers, CNAME targets and response headers.

The catalogue is kesu/sites/data/cdn_ranges.json; each range list there names
its source and date, and every piece of evidence quotes them, so staff can see
why a site was put behind a CDN and how old the list was.
"""

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field

from .base import ResolveError, Resolver, register
from .rdap import DATA


@dataclass
class Cdn:
    key: str
    name: str
    label: str = ""
    country: str = ""
    website: str = ""
    networks: list = field(default_factory=list)
    list_label: str = ""
    asns: tuple[int, ...] = ()
    suffixes: tuple[str, ...] = ()
    headers: tuple[dict, ...] = ()


@dataclass
class Clue:
    cdn: Cdn
    evidence: str
    kind: str  # range, asn, cname, header: range and asn mean the addresses themselves are the CDN's


@functools.cache
def catalogue() -> tuple[Cdn, ...]:
    data = json.loads((DATA / "cdn_ranges.json").read_text(encoding="utf-8"))
    found = []
    for item in data["cdns"]:
        ranges = item.get("ranges") or {}
        label = f"list of {ranges.get('as_of', data.get('compiled', '?'))}"
        found.append(Cdn(
            key=item["key"], name=item["name"], label=item.get("label", item["name"]),
            country=item.get("country", ""), website=item.get("website", ""),
            networks=[ipaddress.ip_network(text) for text in [*ranges.get("v4", []), *ranges.get("v6", [])]],
            list_label=label + (", transcribed" if ranges.get("transcribed") else ""),
            asns=tuple(item.get("asns", [])), suffixes=tuple(s.lower() for s in item.get("cname_suffixes", [])),
            headers=tuple(item.get("headers", [])),
        ))  # fmt: skip
    return tuple(found)


def by_address(address: str) -> Clue | None:
    ip = ipaddress.ip_address(address)
    for cdn in catalogue():
        for network in cdn.networks:
            if ip.version == network.version and ip in network:
                return Clue(cdn, f"IP {address} in {cdn.label} range {network} ({cdn.list_label})", "range")
    return None


def by_asn(asn: int | None) -> Clue | None:
    for cdn in catalogue():
        if asn in cdn.asns:
            return Clue(cdn, f"AS{asn} is {cdn.label}'s network", "asn")
    return None


def by_names(names: list[str]) -> Clue | None:
    for name in names:
        host = name.lower().rstrip(".")
        for cdn in catalogue():
            suffix = next((s for s in cdn.suffixes if host == s or host.endswith("." + s)), None)
            if suffix:
                return Clue(cdn, f"CNAME {host} ({suffix})", "cname")
    return None


def by_headers(headers: dict[str, str]) -> Clue | None:
    """headers: lower-case names -> values. A signature is a header name, and maybe a pattern its value matches."""
    for cdn in catalogue():
        for signature in cdn.headers:
            value = headers.get(signature["name"])
            if value is None:
                continue
            pattern = signature.get("matches")
            if pattern and not re.search(pattern, value, re.IGNORECASE):
                continue
            shown = f"header {signature['name']}" + (f": {value[:60]}" if pattern else "")
            return Clue(cdn, shown, "header")
    return None


@register
class CdnResolver(Resolver):
    """key: an IP address. Answer: the CDN whose published range holds it ({"cdn": ""} for none)."""

    kind = "cdn"
    cached = False

    def lookup(self, key: str) -> dict:
        try:
            clue = by_address(key)
        except ValueError:
            raise ResolveError(f"{key[:60]!r} is not an IP address", reason="bad_key") from None
        if clue is None:
            return {"cdn": ""}
        return {"cdn": clue.cdn.key, "name": clue.cdn.name, "evidence": clue.evidence}
