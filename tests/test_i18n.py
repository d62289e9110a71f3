"""The staff UI in Japanese and English, complete for what exists."""

import os
import re
import shutil
from pathlib import Path

import pytest

import kesu

LOCALE = Path(kesu.__file__).parent / "locale"


def po_entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for each entry of a .po file, header excluded."""
    entries = []
    for block in path.read_text().split("\n\n"):
        fuzzy = "#, fuzzy" in block
        ids = re.findall(r'^msgid ((?:".*"\n?)+)', block, re.M)
        strs = re.findall(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if ids:
            join = lambda text: "".join(re.findall(r'"(.*)"', text))  # noqa: E731
            entries.append((join(ids[0]), join(strs[0]) if strs else "", fuzzy))
    return [e for e in entries if e[0]]


def test_japanese_catalogue_is_complete():
    entries = po_entries(LOCALE / "ja" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 100
    missing = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert missing == []


def test_every_string_in_the_code_is_in_the_catalogue(tmp_path):
    """makemessages on a copy finds no msgid that the catalogue lacks."""
    copy = tmp_path / "kesu"
    shutil.copytree(Path(kesu.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))

    from django.core.management import call_command

    cwd = os.getcwd()
    try:
        os.chdir(copy)
        call_command("makemessages", locale=["ja"], ignore_patterns=["migrations/*"], verbosity=0, no_obsolete=True)
    finally:
        os.chdir(cwd)
    fresh = {msgid for msgid, _, _ in po_entries(copy / "locale" / "ja" / "LC_MESSAGES" / "django.po")}
    translated = {msgid for msgid, msgstr, fuzzy in po_entries(LOCALE / "ja" / "LC_MESSAGES" / "django.po")
                  if msgstr and not fuzzy}  # fmt: skip
    assert sorted(fresh - translated) == []


@pytest.mark.django_db
def test_pages_render_in_both_languages(case, clients):
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "参照資料" in page or "案件" in page
    assert "Reference material" not in page
    client.cookies["django_language"] = "en"
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Reference material" in page and 'lang="en"' in page


@pytest.mark.django_db
def test_language_switch(clients):
    client = clients["on_case"]
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert 'lang="en"' in client.get("/").content.decode()
