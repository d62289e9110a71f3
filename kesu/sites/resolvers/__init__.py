"""Resolvers: one kind of lookup each (DNS, RDAP, WHOIS, ASN, CDN, headers), registered by kind.

``REGISTRY`` maps kind -> class; ``get(kind)`` makes one from the settings of
the moment. Cached answers go through ``kesu.sites.resolvers.cache.answer``.
Nothing here imports models, so kesu.settings can import the setting parsers.
"""

from .base import ResolveError, Resolver
from .cdn import CdnResolver
from .cymru import AsnResolver
from .headers import HeadersResolver
from .rdap import RdapDomainResolver, RdapIpResolver
from .records import DnsResolver
from .whois import WhoisResolver

REGISTRY: dict[str, type[Resolver]] = {}


def register(cls: type[Resolver]) -> type[Resolver]:
    REGISTRY[cls.kind] = cls
    return cls


for _cls in (DnsResolver, AsnResolver, RdapDomainResolver, RdapIpResolver, WhoisResolver, CdnResolver, HeadersResolver):
    register(_cls)


def get(kind: str) -> Resolver:
    try:
        return REGISTRY[kind]()
    except KeyError:
        raise ResolveError(f"no resolver of kind {kind!r} (known: {', '.join(sorted(REGISTRY))})") from None


__all__ = ["REGISTRY", "ResolveError", "Resolver", "get", "register"]
