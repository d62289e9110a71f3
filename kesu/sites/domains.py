"""Domains as the desk writes them, reduced to the registrable domain.

The Public Suffix List comes from the ``publicsuffixlist`` package (a dated
snapshot, no network). Only the ICANN section is used: for
``someone.blogspot.com`` the one who can remove is the operator of
``blogspot.com``, not a per-user "private suffix".
"""

import functools
import re
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from ..lib.errors import UserError


class BadDomain(UserError):
    pass


_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# What people paste besides a URL: "http//", "hxxp://", "[.]", full-width dots, trailing dots.
_DEFANG = (("hxxps://", "https://"), ("hxxp://", "http://"), ("[.]", "."), ("(.)", "."), ("[dot]", "."))
_DOTS = str.maketrans({"。": ".", "．": ".", "｡": "."})


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList(only_icann=True)


def host_of(text: str) -> str:
    """The host name in a URL, a bare domain or an e-mail-like string, lower-case ASCII (IDNA 2008)."""
    raw = (text or "").strip().translate(_DOTS)
    for old, new in _DEFANG:
        raw = raw.replace(old, new)
    if not raw:
        raise BadDomain("empty domain")
    if "://" not in raw:
        raw = "http://" + raw.lstrip("/")
    try:
        host = urlsplit(raw).hostname or ""
    except ValueError as exc:
        raise BadDomain(f"{text.strip()[:80]!r} is not a URL or domain ({exc})") from None
    host = host.strip(".").lower()
    if not host:
        raise BadDomain(f"{text.strip()[:80]!r} has no host name")
    return _ascii(host, text)


def _ascii(host: str, original: str) -> str:
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise BadDomain(f"{original.strip()[:80]!r} is not a valid domain name ({exc})") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise BadDomain(f"{original.strip()[:80]!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise BadDomain(f"{original.strip()[:80]!r} is an IP address, not a domain")
    return ascii_host


def registrable(text: str) -> str:
    """The registrable domain (eTLD+1) in ASCII: ``https://m.Example.co.jp/x`` -> ``example.co.jp``."""
    host = host_of(text)
    domain = _psl().privatesuffix(host)
    if not domain:
        raise BadDomain(f"{host!r} is a public suffix, not a site")
    return domain


def to_unicode(domain: str) -> str:
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def own_operator_key(domain: str) -> str:
    """The key of the operator a site gets when nobody named one: ``site:<domain>``, hashed when too long."""
    import hashlib

    key = f"site:{domain}"
    return key if len(key) <= 120 else f"site:{domain[:70]}~{hashlib.sha256(domain.encode()).hexdigest()[:40]}"
