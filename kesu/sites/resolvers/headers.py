"""A site's response headers, for the CDN signatures in them (cf-ray, x-amz-cf-id, x-served-by, ...).

One GET of ``https://<domain>/`` (then ``http://``), no redirects followed, no
body read, after the address passed the capture address policy. The
certificate is not verified: a site with a broken certificate is still served
by its CDN, and nothing from the answer but header names and values is kept.
"""

from django.conf import settings

from .base import ResolveError, Resolver, register
from .net import http_get

MAX_HEADERS = 100


@register
class HeadersResolver(Resolver):
    """key: an ASCII domain. Answer: url, status and headers (lower-case names) of the first scheme that answered."""

    kind = "headers"

    def __init__(self, ports: dict[str, int] | None = None):
        self.ports = {"https": 443, "http": 80, **(ports or {})}

    def lookup(self, key: str) -> dict:
        from ...capture.policy import policy_from_settings

        if policy_from_settings().proxy_for(key) is not None:
            # The desk reaches this site only through an egress proxy; a direct probe would show the site the desk's
            # own address. The proxied capture sees the headers instead.
            raise ResolveError(f"{key} is reached only through an egress proxy: not probed directly", reason="proxied")
        failures = []
        for scheme in ("https", "http"):
            if not self.ports.get(scheme):
                continue
            try:
                return self._get(scheme, key)
            except ResolveError as exc:
                if exc.reason in ("no_address", "nxdomain", "refused"):
                    raise  # the other scheme goes to the same address
                failures.append(f"{scheme}: {exc}")
        raise ResolveError(f"no response from {key}: " + "; ".join(failures), reason="no_response")

    def _get(self, scheme: str, domain: str) -> dict:
        response = http_get(
            f"{scheme}://{domain}/", headers={"User-Agent": "Mozilla/5.0 (compatible; Kesu resolver)", "Accept": "*/*"},
            limit=0, seconds=float(settings.KESU_RESOLVE_SECONDS), verify=False, port=self.ports[scheme],
        )  # fmt: skip
        headers = {}
        for name, value in response.headers[:MAX_HEADERS]:
            headers.setdefault(name.lower()[:100], value[:300])
        return {"url": response.url, "status": response.status, "headers": headers}
