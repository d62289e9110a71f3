"""WHOIS (RFC 3912, TCP port 43): the fallback when a registry has no RDAP or its RDAP fails.

WHOIS has no format; the patterns below are tolerant and cover the layouts of
the registries the desk meets most (ICANN's gTLD template, JPRS, DENIC, AFNIC,
Nominet, CNNIC). Servers per TLD come from kesu/sites/data/whois_servers.json;
KESU_WHOIS_SERVERS overrides single TLDs.
"""

import functools
import json
import re

from django.conf import settings

from .base import ResolveError, Resolver, register
from .jcard import country
from .net import tcp_exchange
from .rdap import DATA

LIMIT = 256 * 1024
EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
NOT_FOUND = re.compile(
    r"^\s*(?:no match|not found|no data found|no entries found|status:\s*free|%% no entries|no object found|"
    r"domain not found|the queried object does not exist)",
    re.IGNORECASE | re.MULTILINE,
)
# Nominet puts the value on the line after "Registrar:", indented.
REGISTRAR = re.compile(
    r"^[ \t]*(?:registrar|sponsoring registrar|registrar name|registrar organization)[ \t]*:[ \t]*(?:\n[ \t]+)?"
    r"(?P<value>\S[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
IANA_ID = re.compile(r"registrar iana id\s*:\s*(?P<value>\d+)", re.IGNORECASE)
ABUSE = re.compile(rf"abuse[^:\n]*:\s*(?P<value>{EMAIL})", re.IGNORECASE)
ANY_EMAIL = re.compile(EMAIL)
COUNTRY = re.compile(
    r"^[ \t]*registrant country(?: code)?[ \t]*:[ \t]*(?P<value>\S[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)


@functools.cache
def shipped_servers() -> dict:
    return json.loads((DATA / "whois_servers.json").read_text(encoding="utf-8"))["servers"]


def server_for(domain: str) -> tuple[str, int, str]:
    """(host, port, query template) for the domain's TLD."""
    tld = domain.rsplit(".", 1)[-1].lower()
    entry = shipped_servers().get(tld)
    template = entry.get("query", "{domain}") if isinstance(entry, dict) else "{domain}"
    if tld in settings.KESU_WHOIS_SERVERS:
        host, port = settings.KESU_WHOIS_SERVERS[tld]
        return host, port, template
    if not entry:
        raise ResolveError(f"no WHOIS server known for .{tld}", reason="no_service")
    return (entry["host"] if isinstance(entry, dict) else entry), 43, template


def _first(pattern: re.Pattern, text: str) -> str:
    found = pattern.search(text)
    return found.group("value").strip()[:200] if found else ""


def parse(text: str, domain: str) -> dict:
    text = text.replace("\r\n", "\n")
    registrar = re.sub(r"\s*\[tag = [^\]]*\]$", "", _first(REGISTRAR, text), flags=re.IGNORECASE)  # Nominet's tag
    if registrar.lower().startswith(("http://", "https://", "whois.")):
        registrar = ""
    abuse = _first(ABUSE, text).lower()
    if not abuse:
        abuse = next((email.lower() for email in ANY_EMAIL.findall(text) if email.lower().startswith("abuse@")), "")
    iana = _first(IANA_ID, text)
    return {
        "domain": domain,
        "registrar": {"name": registrar, "iana_id": int(iana) if iana else None, "country": "", "abuse_email": abuse},
        "registrant_country": country(_first(COUNTRY, text)),
    }


@register
class WhoisResolver(Resolver):
    """key: an ASCII domain. Answer: registrar name and IANA id, abuse e-mail, registrant country, server."""

    kind = "whois"

    def lookup(self, key: str) -> dict:
        host, port, template = server_for(key)
        try:
            raw = tcp_exchange(
                host, port, (template.format(domain=key) + "\r\n").encode("ascii"),
                limit=LIMIT, seconds=float(settings.KESU_RESOLVE_SECONDS),
            )  # fmt: skip
        except ResolveError as exc:
            raise ResolveError(f"WHOIS server {exc}", reason=exc.reason) from None
        text = raw.decode("utf-8", "replace")
        if not text.strip():
            raise ResolveError(f"WHOIS server {host}:{port} sent nothing for {key}", reason="garbage")
        if NOT_FOUND.search(text):
            raise ResolveError(f"WHOIS server {host}:{port} has no record of {key}", reason="not_found")
        found = parse(text, key)
        if not (found["registrar"]["name"] or found["registrar"]["abuse_email"] or found["registrant_country"]):
            raise ResolveError(
                f"WHOIS server {host}:{port} answered {key} with nothing Kesu can read", reason="garbage"
            )
        found["server"] = f"{host}:{port}"
        return found
