"""Typed readers for environment settings.

Each reader returns a safe default when the variable is unset and raises
``ImproperlyConfigured`` naming the variable when a value cannot be parsed,
so a bad setting stops start-up with one clear line.
"""

import base64
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is out of range [{minimum}, {maximum}]")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_thresholds(name: str, defaults: dict[str, float], limits: dict[str, float]) -> dict[str, float]:
    """``kind=value`` pairs, e.g. ``pdq=28,face=0.55``; kinds not given keep their default."""
    out = dict(defaults)
    for item in env_list(name):
        kind, _, value = item.partition("=")
        kind = kind.strip()
        if kind not in limits:
            raise ImproperlyConfigured(f"{name}: unknown kind {kind!r} (use {', '.join(limits)})")
        try:
            number = float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not kind=number") from None
        if not 0 < number <= limits[kind]:
            raise ImproperlyConfigured(f"{name}: {kind} must be above 0 and at most {limits[kind]:g}")
        out[kind] = number
    return out


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def env_path(name: str, default: str) -> Path:
    return Path(env_str(name, default)).expanduser().resolve()


def env_url(name: str, default: str = "") -> str:
    """An http(s) URL naming a host, or "" when unset and without default."""
    from urllib.parse import urlsplit

    value = env_str(name, default)
    try:
        parts = urlsplit(value)
        ok = not value or (parts.scheme in ("http", "https") and bool(parts.hostname))
    except ValueError:
        ok = False
    if not ok:
        raise ImproperlyConfigured(f"{name}: {value!r} is not an http:// or https:// URL with a host")
    return value.rstrip("/")


def env_secret(name: str, default: str = "") -> str:
    """A secret given as NAME, or read from the file named by NAME_FILE."""
    file_name = _raw(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None
    return env_str(name, default)


def env_key(name: str) -> bytes | None:
    """A 32-byte key given in base64, or None when unset."""
    value = _raw(name)
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not valid base64") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


def database_from_url(name: str, url: str, data_dir: Path) -> dict:
    """Django DATABASES['default'] for a sqlite:// or postgres:// URL."""
    if not url:
        return sqlite_database(data_dir / "kesu.sqlite3")
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ImproperlyConfigured(f"{name}={url!r} names no database file")
        return sqlite_database(Path(path.removeprefix("/") if parts.netloc == "." else path))
    if parts.scheme in ("postgres", "postgresql"):
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(f"{name}={url!r} names no database")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(f"{name}={url!r}: scheme must be sqlite:// or postgres://")


def sqlite_database(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web server, worker and scheduler read while one writes;
            # IMMEDIATE takes the write lock up front so the hash chain of the
            # audit log cannot be raced by two processes.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }


def env_parsed(name: str, default: str, parse):
    """A comma-separated list read by ``parse(items, name)``, which raises ValueError-like errors naming the fault."""
    items = env_list(name, default)
    try:
        return parse(items, name)
    except Exception as error:  # the parser's message already names the variable and the value
        raise ImproperlyConfigured(str(error)) from None
