"""The ``kesu`` command: one entry point over the services.

Every subcommand is a thin wrapper: parse, call a service, print. A user's
mistake ends in one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import os
import sys
import traceback

from ..lib.env import TRUE, env_str
from ..lib.errors import UserError


class CliError(UserError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> Parser:
    from . import cases, demo, evidence, exchange, matching, notices, patrol, reports, review, sites, system, users

    parser = Parser(prog="kesu", description="Kesu takedown desk. KESU_DATA_DIR names the data directory.")
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=env_str("KESU_USER") or None,
        help="act as this staff user, with their permissions (default: the operator, KESU_USER)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for module in (cases, users, matching, evidence, sites, notices, patrol, review, exchange, reports, system, demo):
        module.register(commands)
    return parser


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
    import django

    django.setup()


def _migrate_if_needed() -> None:
    """A fresh data directory initialises itself on first use, its audit log starting with the genesis entry."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from ..audit.services import ensure_genesis

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0)
        ensure_genesis()


def _principal(as_user: str | None):
    from ..accounts.principals import SystemPrincipal
    from ..accounts.services import get_user

    if not as_user:
        return SystemPrincipal("cli")
    user = get_user(as_user)
    if not user.is_active:
        raise CliError(f"user {as_user!r} is deactivated")
    return user


def main(argv: list[str] | None = None) -> int:
    from django.core.exceptions import ImproperlyConfigured

    try:
        _setup_django()
    except ImproperlyConfigured as exc:
        print(f"kesu: error: configuration: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "migrate", True):
            _migrate_if_needed()
        args.principal = _principal(args.as_user)
        return args.handler(args) or 0
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # noqa: BLE001 - the one place errors become one line
        return _report(exc)


def _report(exc: BaseException) -> int:
    from ..vault.crypto import VaultIntegrityError
    from ..vault.keyring import MasterKeyError

    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, UserError | MasterKeyError | VaultIntegrityError):
        print(f"kesu: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, OSError):
        print(f"kesu: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    if env_str("KESU_DEBUG").lower() in TRUE:  # as settings.DEBUG reads it, but never raising here
        traceback.print_exc()
    print(f"kesu: internal error ({type(exc).__name__}); set KESU_DEBUG=1 for details", file=sys.stderr)
    return 70
