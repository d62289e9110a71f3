"""scripts/screenshots.py: its pages are pages of the desk, and the committed screenshots are the ones it
writes, linked from the README. The script itself runs the demo for minutes; the suite does not run it."""

import importlib.util
from pathlib import Path

from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_page_the_script_shoots_is_a_page_of_the_desk():
    pages = script().PAGES
    assert len({name for name, _ in pages}) == len(pages)
    for name, path in pages:
        try:
            resolve(path.format(case=1, hit=1, notice=1))
        except Resolver404:
            raise AssertionError(f"{name}: {path} is no page of kesu/urls.py") from None


def test_the_committed_screenshots_are_the_scripts_and_the_readme_shows_them():
    names = {f"{name}.png" for name, _ in script().PAGES}
    committed = {path.name for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert committed == names
    readme = (ROOT / "README.md").read_text()
    for name in names:
        assert f"docs/screenshots/{name}" in readme
    for path in (ROOT / "docs" / "screenshots").glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size < 200_000
