"""Issue 24, part 5: settings typed, documented in one table, no domain import; thresholds named once."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from kesu import cli

ROOT = Path(__file__).resolve().parent.parent
KESU = ROOT / "kesu"
SETTINGS = KESU / "settings.py"
DOC = ROOT / "docs" / "SETTINGS.md"
NAME = re.compile(r"\bKESU_[A-Z0-9_]*[A-Z0-9]\b")
# kesu's domain packages: everything but the generic helpers in kesu.lib
DOMAIN = sorted(d.name for d in KESU.iterdir() if (d / "__init__.py").exists() and d.name != "lib")


def _code_files(suffixes=(".py",)):
    for path in sorted(KESU.rglob("*")):
        if path.suffix in suffixes and "migrations" not in path.parts and "__pycache__" not in path.parts:
            yield path


def _read_from_environment() -> set[str]:
    """Every variable settings.py reads (a secret also as NAME_FILE), and every KESU_ name the code and the
    scripts mention apart from the settings that are not variables (KESU_ORG, KESU_IMAP: built from several)."""
    tree = ast.parse(SETTINGS.read_text())
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and str(first.value).startswith("KESU_"):
                read.add(first.value)
                if node.func.id == "env_secret":
                    read.add(f"{first.value}_FILE")
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    not_variables = {name for name in assigned if name.startswith("KESU_")} - read
    mentioned = set()
    for path in [*_code_files(), *(ROOT / "scripts").iterdir()]:
        if path.is_file():
            mentioned |= set(NAME.findall(path.read_text(errors="replace")))
    return read | (mentioned - not_variables)


def _documented() -> set[str]:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `KESU_")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_every_kesu_variable_is_in_the_settings_table_and_every_row_is_read():
    read, documented = _read_from_environment(), _documented()
    assert {"KESU_MATCH_THRESHOLDS", "KESU_TASKS_EAGER", "KESU_LOG_LEVEL", "KESU_OTP_ISSUER"} <= read
    assert sorted(read - documented) == [], "read but not in docs/SETTINGS.md"
    assert sorted(documented - read) == [], "in docs/SETTINGS.md but read nowhere"


def test_readme_points_to_the_settings_table_instead_of_repeating_it():
    readme = (ROOT / "README.md").read_text()
    assert "docs/SETTINGS.md" in readme
    assert not [line for line in readme.splitlines() if line.startswith("| `KESU_")]


def _imported_modules(path: Path) -> list[str]:
    """Every module a file imports, relative imports resolved within the kesu package."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(filter(None, ["kesu" if node.level else "", node.module or ""]))
            modules += [f"{base}.{alias.name}" for alias in node.names] if base == "kesu" else [base]
    return modules


def _domain(modules) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] == "kesu" and m.split(".")[1:2] and m.split(".")[1] in DOMAIN)


def test_settings_imports_no_domain_package():
    imported = _imported_modules(SETTINGS)
    assert len(DOMAIN) > 10 and _domain(imported) == []
    assert "kesu.lib.env" in imported and "kesu.lib.netsettings" in imported


def test_loading_the_settings_loads_no_domain_module(tmp_path):
    probe = "import sys, kesu.settings; print(*sys.modules)"
    environment = {**os.environ, "KESU_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert "kesu.settings" in loaded and _domain(loaded) == []


def test_a_bad_log_level_stops_start_up_with_one_line_naming_it(tmp_path):
    environment = {**os.environ, "KESU_DATA_DIR": str(tmp_path), "KESU_LOG_LEVEL": "loud"}
    run = "from kesu.cli import main; raise SystemExit(main(['case', 'list']))"
    result = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "kesu: error: configuration: KESU_LOG_LEVEL='loud' must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]


def test_kesu_debug_off_means_no_traceback_from_the_command(monkeypatch, capsys):
    monkeypatch.setenv("KESU_DEBUG", "0")
    try:
        raise RuntimeError("an internal fault")
    except RuntimeError as error:
        assert cli._report(error) == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and "an internal fault" not in err and "set KESU_DEBUG=1" in err


def test_the_pink_threshold_is_written_once():
    """0.95 appears once in kesu/: its definition. (The demo's made-up history draws random numbers with it.)"""
    places = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _code_files((".py", ".html", ".js", ".txt"))
        if path.name != "synthetic.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "0.95" in line
    ]
    assert len(places) == 1 and places[0].startswith("kesu/matching/calibration.py:")


def test_templates_show_the_pink_label_from_the_context():
    labels = [str(path.relative_to(KESU)) for path in _code_files((".html",)) if re.search(r"95\s?%", path.read_text())]
    assert labels == []


def test_no_probability_is_compared_with_a_written_number():
    """Python, templates and query filters compare a probability with PINK or REVIEW_CUT, never a literal."""
    literal = re.compile(r"probability\w*(\s*:\s*float)?\s*(>=|<=|==|>|<|=)\s*(?!0?\.0+\b)\d*\.\d+")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _code_files((".py", ".html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert found == []


def test_the_knowledge_base_and_the_importer_are_split_under_600_lines():
    sites = KESU / "sites"
    modules = ("knowledge.py", "knowledge_schema.py", "importer.py", "import_rows.py")
    lengths = {name: len((sites / name).read_text().splitlines()) for name in modules}
    assert all(length < 600 for length in lengths.values()), lengths
