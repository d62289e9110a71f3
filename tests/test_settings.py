"""Settings from the environment, and the deploy checklist."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from kesu.lib import env


def test_typed_parsers(monkeypatch, tmp_path):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_bool("X_BOOL") is True and env.env_int("X_INT", 1) == 42
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    assert env.env_int("X_UNSET", 7) == 7 and env.env_bool("X_UNSET", False) is False
    monkeypatch.setenv("X_INT", "5")
    with pytest.raises(ImproperlyConfigured, match="X_INT=5 is out of range"):
        env.env_int("X_INT", 10, minimum=10)
    secret = tmp_path / "s"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_secret("X_SECRET") == "from-a-file"


def test_database_urls(tmp_path):
    sqlite = env.database_from_url("V", "", tmp_path)
    assert sqlite["ENGINE"].endswith("sqlite3") and "journal_mode=WAL" in sqlite["OPTIONS"]["init_command"]
    pg = env.database_from_url("V", "postgres://kesu:p%40ss@db.internal:6543/kesu", tmp_path)
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "kesu", "p@ss", "db.internal", "6543", "kesu",
    )  # fmt: skip
    with pytest.raises(ImproperlyConfigured, match="V="):
        env.database_from_url("V", "postgres://host/", tmp_path)


def test_production_settings_pass_the_deploy_check(tmp_path):
    environment = {
        **os.environ,
        "KESU_DATA_DIR": str(tmp_path),
        "KESU_HTTPS": "1",
        "KESU_DEBUG": "0",
        "KESU_ALLOWED_HOSTS": "kesu.example.org",
        "DJANGO_SETTINGS_MODULE": "kesu.settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "DEBUG"],
        capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_match_thresholds_are_read_per_bank_and_checked(monkeypatch):
    limits, defaults = {"pdq": 64, "face": 1.2}, {"pdq": 31, "face": 0.6}
    monkeypatch.setenv("X_THRESHOLDS", "face=0.5")
    assert env.env_thresholds("X_THRESHOLDS", defaults, limits) == {"pdq": 31, "face": 0.5}
    for bad, message in (("fce=0.5", "unknown kind"), ("face=x", "not kind=number"), ("pdq=90", "at most 64")):
        monkeypatch.setenv("X_THRESHOLDS", bad)
        with pytest.raises(ImproperlyConfigured, match=message):
            env.env_thresholds("X_THRESHOLDS", defaults, limits)
