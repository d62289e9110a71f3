"""Resolvers: one kind of lookup each (DNS, RDAP, WHOIS, ASN, CDN, headers), registered by kind.

``REGISTRY`` maps kind -> class; ``get(kind)`` makes one from the settings of
the moment (both live in base.py, which every plug-in imports to register
itself; importing the package imports every plug-in). Cached answers go through
``kesu.sites.resolvers.cache.answer``. Nothing here imports models, so
kesu.settings can import the setting parsers.
"""

from . import records, cymru, rdap, whois, cdn, headers  # noqa: F401, I001 - each registers its resolvers, in this order
from .base import REGISTRY, ResolveError, Resolver, get, register

__all__ = ["REGISTRY", "ResolveError", "Resolver", "get", "register"]
