"""The ``kesu`` command as a user runs it: a real process on a fresh data
directory. Bad input ends in one line and a non-zero exit, never a traceback."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KESU = str(Path(sys.executable).with_name("kesu"))
pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def kesu(data_dir, *args, stdin=None, **env):
    environment = {**os.environ, "KESU_DATA_DIR": str(data_dir), **env}
    environment.pop("KESU_DATABASE_URL", None) if "KESU_DATABASE_URL" not in env else None
    return subprocess.run([KESU, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=120)


def one_line_error(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("kesu: created master key")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_fresh_data_directory_initialises_itself_and_works(data_dir, astronaut_png, tmp_path):
    image = tmp_path / "ref.png"
    image.write_bytes(astronaut_png)
    created = kesu(data_dir, "case", "create", "--type", "ncii", "--json")
    assert created.returncode == 0, created.stderr
    case_id = json.loads(created.stdout)["id"]
    assert (data_dir / "kesu.sqlite3").exists() and (data_dir / "master.key").exists()
    assert "production keeps the master key" in created.stderr
    with sqlite3.connect(data_dir / "kesu.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    added = kesu(data_dir, "reference", "add", "--case", str(case_id), str(image), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["kind"] == "image"
    listed = kesu(data_dir, "reference", "list", "--case", str(case_id), "--json")
    signals = {s["kind"]: s["value"] for s in json.loads(listed.stdout)["signals"]}
    assert len(signals["pdq"]) == 64 and len(signals["sha256"]) == 64
    assert kesu(data_dir, "audit", "verify").returncode == 0


def test_batch_goes_on_after_a_bad_file(data_dir, astronaut_png, tmp_path):
    good, empty, fake, truncated = (tmp_path / n for n in ("good.png", "empty.jpg", "fake.jpg", "cut.png"))
    good.write_bytes(astronaut_png)
    empty.write_bytes(b"")
    fake.write_bytes(b"this is not a picture at all, just text" * 10)
    truncated.write_bytes(astronaut_png[: len(astronaut_png) // 3])
    case_id = json.loads(kesu(data_dir, "case", "create", "--type", "deepfake", "--json").stdout)["id"]
    result = kesu(
        data_dir, "reference", "add", "--case", str(case_id), str(empty), str(fake), str(truncated),
        str(tmp_path / "missing.png"), str(good), "--json",
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [True, True, True, True, False]
    assert "empty" in rows[0]["error"] and "not an image" in rows[1]["error"]
    assert "damaged or truncated" in rows[2]["error"] and "no such file" in rows[3]["error"]
    listed = kesu(data_dir, "reference", "list", "--case", str(case_id), "--json")
    assert len(listed.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    "args,expected",
    [
        (("case", "create", "--type", "porn"), "invalid choice"),
        (("case", "show", "999"), "no case 999"),
        (("case", "show", "abc"), "no case abc"),
        (("reference", "add", "--case", "1"), "no case 1"),
        (("case", "delete", "1"), "--yes"),
        (("case", "create", "--type", "ncii", "--consent", "everything"), "unknown consent"),
        (("case", "create", "--type", "ncii", "--mandate", "yesterday"), "not a date"),
        (("case", "create", "--type", "ncii", "--details", "-"), "JSON object"),
        (("user", "add", "x", "--role", "god"), "invalid choice"),
        (("user", "role", "nobody", "staff"), "no user named"),
        (("--as", "ghost", "case", "list"), "no user named"),
        (("frobnicate",), "invalid choice"),
        ((), "required"),
    ],
)
def test_bad_input_gives_one_line(data_dir, args, expected):
    line = one_line_error(kesu(data_dir, *args, stdin="not json"))
    assert expected in line


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"KESU_DEBUG": "maybe"}, "KESU_DEBUG"),
        ({"KESU_DATABASE_URL": "mysql://x/y"}, "KESU_DATABASE_URL"),
        ({"KESU_SESSION_IDLE_MINUTES": "ten"}, "KESU_SESSION_IDLE_MINUTES"),
        ({"KESU_MASTER_KEY": "c2hvcnQ="}, "KESU_MASTER_KEY"),
        ({"KESU_SMTP_SECURITY": "ssl3"}, "KESU_SMTP_SECURITY"),
        ({"KESU_SECRET_KEY_FILE": "/nonexistent/secret"}, "KESU_SECRET_KEY_FILE"),
    ],
)
def test_bad_setting_stops_start_up_naming_the_variable(data_dir, env, expected):
    line = one_line_error(kesu(data_dir, "case", "list", **env))
    assert expected in line and line.startswith("kesu: error: configuration")


def test_personal_data_is_read_from_stdin_and_shown_only_when_asked(data_dir):
    details = json.dumps({"name": "Tanaka Yui", "contact": {"email": "yui@example.org"}})
    created = kesu(data_dir, "case", "create", "--type", "sextortion", "--details", "-", "--json", stdin=details)
    case_id = str(json.loads(created.stdout)["id"])
    assert "Tanaka" not in kesu(data_dir, "case", "show", case_id).stdout
    assert "Tanaka" not in kesu(data_dir, "case", "export", case_id).stdout
    assert "Tanaka Yui" in kesu(data_dir, "case", "show", case_id, "--personal").stdout
    refused = kesu(data_dir, "case", "export", case_id, "--personal", "--out", str(data_dir / "x.json"))
    assert "stdout only" in one_line_error(refused)
    assert not (data_dir / "x.json").exists()


def test_user_management_and_roles(data_dir):
    added = kesu(
        data_dir, "user", "add", "mika", "--role", "staff", "--password-file", "-", stdin="correct horse 42 battery"
    )
    assert added.returncode == 0, added.stderr
    weak = kesu(data_dir, "user", "add", "taro", "--role", "staff", "--password-file", "-", stdin="123")
    assert "password rejected" in one_line_error(weak)
    assert "only an administrator" in one_line_error(kesu(data_dir, "--as", "mika", "user", "list"))
    assert "mika" in kesu(data_dir, "user", "list").stdout
    totp = kesu(data_dir, "user", "totp", "mika")
    assert totp.stdout.startswith("secret: ") and "otpauth://totp/" in totp.stdout
    code = kesu(data_dir, "user", "totp-code", "mika").stdout.strip()
    assert code.isdigit() and len(code) == 6
    # staff open cases for themselves only
    created = kesu(data_dir, "--as", "mika", "case", "create", "--type", "av", "--json")
    case_id = str(json.loads(created.stdout)["id"])
    assert "mika" in kesu(data_dir, "case", "show", case_id).stdout


def test_help_on_every_subcommand(data_dir):
    for args in (["--help"], ["case", "--help"], ["case", "create", "--help"], ["reference", "add", "--help"],
                 ["user", "--help"], ["audit", "verify", "--help"], ["vault", "rotate-key", "--help"]):  # fmt: skip
        result = kesu(data_dir, *args)
        assert result.returncode == 0 and "usage: kesu" in result.stdout


def test_rotate_key_from_cli_keeps_everything_readable(data_dir, astronaut_png, tmp_path):
    image = tmp_path / "ref.png"
    image.write_bytes(astronaut_png)
    details = json.dumps({"name": "Sato Aoi"})
    case_id = str(json.loads(kesu(data_dir, "case", "create", "--type", "ncii", "--details", "-", "--json",
                                  stdin=details).stdout)["id"])  # fmt: skip
    kesu(data_dir, "reference", "add", "--case", case_id, str(image))
    before = (data_dir / "master.key").read_bytes()
    rotated = kesu(data_dir, "vault", "rotate-key")
    assert rotated.returncode == 0 and "re-wrapped" in rotated.stdout
    assert (data_dir / "master.key").read_bytes() != before
    assert "Sato Aoi" in kesu(data_dir, "case", "show", case_id, "--personal").stdout
    assert kesu(data_dir, "audit", "verify").returncode == 0
