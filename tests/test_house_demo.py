"""Issue 24, part 4: the demo has one home, kesu/demo/, and only the CLI reaches into it.

The demo web, its media, the SYNTHETIC history and the demo loader used to live inside kesu.patrol,
kesu.sites and kesu/demo.py. Now kesu.demo holds them; no domain package imports it, and ``kesu demo``
is the one command group that reaches it (with its old names still working).
"""

import ast
import importlib.util
from pathlib import Path

import pytest

import kesu

KESU = Path(kesu.__file__).parent
# The CLI wires the demo in (kesu demo, kesu run --demo); kesu/runner.py only starts `kesu demo web` as a process.
ALLOWED = (KESU / "demo", KESU / "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(KESU.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module a file imports (at any depth, relative imports resolved), with ``from X import name``
    also giving ``X.name`` since the name may be a submodule."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _demo_importers() -> dict[Path, set[str]]:
    importers = {}
    for path in KESU.rglob("*.py"):
        demo = {m for m in _imported(path) if m == "kesu.demo" or m.startswith("kesu.demo.")}
        if demo:
            importers[path] = demo
    return importers


def test_no_module_outside_the_demo_and_the_cli_imports_the_demo():
    importers = _demo_importers()
    outside = {
        str(path.relative_to(KESU.parent)): sorted(modules)
        for path, modules in importers.items()
        if not any(path.is_relative_to(allowed) for allowed in ALLOWED)
    }
    assert outside == {}
    # The walk sees real imports: the CLI's do show up.
    assert KESU / "cli" / "demo.py" in importers


def test_the_demo_web_media_and_synthetic_history_live_in_kesu_demo_not_in_patrol_or_sites():
    for moved in ("kesu.patrol.demoweb", "kesu.patrol.demomedia", "kesu.sites.synthetic"):
        assert importlib.util.find_spec(moved) is None, moved
    assert (KESU / "demo" / "__init__.py").is_file()
    for module in ("load", "media", "pages", "sites", "web", "synthetic"):
        assert importlib.util.find_spec(f"kesu.demo.{module}") is not None, module


def test_no_demo_module_is_over_600_lines():
    sizes = {path.name: len(path.read_text().splitlines()) for path in (KESU / "demo").glob("*.py")}
    assert sizes and max(sizes.values()) <= 600, sizes


def test_kesu_demo_help_lists_its_commands(cli):
    code, out, _ = cli("demo", "--help")
    assert code == 0 and "usage: kesu demo" in out
    for command in ("load", "web", "history"):
        assert f"\n    {command} " in out, command


def test_the_old_demo_command_names_still_work():
    from kesu.cli import build_parser, demo
    from kesu.runner import _commands

    parser = build_parser()
    assert parser.parse_args(["demo"]).handler is demo.load
    assert parser.parse_args(["demo", "--web-port", "8025"]).web_port == 8025
    assert parser.parse_args(["demo", "--web-port", "8025", "load"]).web_port == 8025
    assert parser.parse_args(["demo", "load", "--web-port", "8025"]).web_port == 8025
    old, new = parser.parse_args(["demo-web", "--port", "9"]), parser.parse_args(["demo", "web", "--port", "9"])
    assert old.handler is new.handler is demo.serve and old.port == new.port == 9 and not old.migrate
    assert parser.parse_args(["site", "synthetic"]).handler is parser.parse_args(["demo", "history"]).handler
    # `kesu run --demo` starts the demo web as a process through the same command.
    argv = _commands("127.0.0.1", 8000, 1, with_worker=False, demo_web=(8125, 8126))["demo-web"][1:]
    started = parser.parse_args(argv)
    assert started.handler is demo.serve and (started.port, started.smtp_port) == (8125, 8126)


@pytest.mark.django_db
def test_kesu_demo_history_writes_the_synthetic_history(cli):
    from kesu.sites.models import Source, TakedownRequest

    code, out, _ = cli("demo", "history", "--requests", "40", "--seed", "11")
    assert code == 0 and "wrote 40 SYNTHETIC requests" in out
    written = TakedownRequest.objects.filter(source=Source.SYNTHETIC, reference__startswith="synthetic:11:")
    assert written.count() == 40
    assert cli("site", "synthetic", "--requests", "40", "--seed", "11")[1].startswith("wrote 0 SYNTHETIC")
    code, _, err = cli("demo", "history", "--requests", "0")
    assert code == 1 and err.strip() == "kesu: error: --requests must be between 1 and 1,000,000"
