"""The contract every resolver keeps, the one error they raise, and the registry of kind -> resolver class.

Each plug-in module registers its classes with ``@register``; the package imports every plug-in."""

import re

from ...lib.errors import UserError


class ResolveError(UserError):
    """A lookup failed: one line naming the resolver's target and what went wrong.

    ``detail`` is JSON-able and is cached with the negative answer; ``reason``
    tells callers apart the failures they act on ("nxdomain" marks a site dead,
    "timeout" does not).
    """

    def __init__(self, message: str, *, reason: str = "error", **detail):
        super().__init__(re.sub(r"\s+", " ", str(message)).strip()[:300])
        self.reason = reason
        self.detail = {"reason": reason, **detail}


class Resolver:
    """Looks one key up somewhere on the network and returns a JSON-able dict.

    Contract: ``lookup(key)`` either returns the answer or raises ResolveError
    with a one-line message; it bounds its own time and the size of what it
    reads, and reads its configuration from settings when called (so a test or
    an operator can change it without restarting). Keys are plain strings (an
    ASCII domain, an IP address) so answers can be cached by (kind, key).
    """

    kind: str = ""
    cached = True  # False for answers computed from shipped data, which cost nothing to redo

    def lookup(self, key: str) -> dict:
        raise NotImplementedError


REGISTRY: dict[str, type[Resolver]] = {}


def register(cls: type[Resolver]) -> type[Resolver]:
    REGISTRY[cls.kind] = cls
    return cls


def get(kind: str) -> Resolver:
    try:
        return REGISTRY[kind]()
    except KeyError:
        raise ResolveError(f"no resolver of kind {kind!r} (known: {', '.join(sorted(REGISTRY))})") from None
