"""The web server's access log (gunicorn's ``--logger-class``), without what a URL may carry of her.

A query string can hold what staff searched for (her name, a URL of her images), and a victim's hashing link
(``/h/<token>/``) is a key: whoever reads it in a log could open her page before she does. The log keeps the
method, the path with the link's key cut out, whether there was a query, the status and the time; the
referrer (a desk URL with its query) is never logged.
"""

import logging
import re

from gunicorn.glogging import Logger

SECRET_SEGMENTS = re.compile(r"^(/h/)[^/?]+")
CUT = "…"


def loggable(uri: str) -> str:
    path, query, _ = uri.partition("?")
    return SECRET_SEGMENTS.sub(rf"\g<1>{CUT}", path) + ("?" + CUT if query else "")


class AccessLog(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        method, protocol = environ.get("REQUEST_METHOD", "-"), environ.get("SERVER_PROTOCOL", "-")
        atoms["r"] = f"{method} {loggable(environ.get('RAW_URI', ''))} {protocol}"
        atoms["U"] = loggable(environ.get("PATH_INFO", ""))
        atoms["q"] = CUT if environ.get("QUERY_STRING") else ""
        atoms["f"] = "-"
        return {key: value for key, value in atoms.items() if not key.startswith("{")}  # no request headers


IN_TEXT = re.compile(r"(/h/)[^/?\s]+")


class CutSecrets(logging.Filter):
    """On every handler: a message naming a request's path (Django's "Internal Server Error: /h/…/") loses the
    hashing link's key, as the access log does."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/h/" in message:
            record.msg, record.args = IN_TEXT.sub(rf"\g<1>{CUT}", message), ()
        return True
