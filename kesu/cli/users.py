"""kesu user ...: staff accounts (administrators only)."""

import base64
import getpass
import sys

from ..accounts import services
from ..lib.errors import UserError
from .output import emit_json, read_input, table


def register(commands) -> None:
    user = commands.add_parser("user", help="staff accounts and their second factor (administrators)")
    sub = user.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("add", help="add a staff user; the password is read from --password-file, - or a prompt")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=services.ROLES)
    p.add_argument("--email", default="")
    p.add_argument("--password-file", metavar="FILE", help="password from FILE or - (stdin)")
    p.set_defaults(handler=add)

    p = sub.add_parser("list", help="all users")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_users)

    p = sub.add_parser("password", help="set a user's password (they are told); from --password-file, - or a prompt")
    p.add_argument("username")
    p.add_argument("--password-file", metavar="FILE", help="password from FILE or - (stdin)")
    p.set_defaults(handler=password)

    p = sub.add_parser("role", help="change a user's role")
    p.add_argument("username")
    p.add_argument("role", choices=services.ROLES)
    p.set_defaults(handler=role)

    for name, active in (("deactivate", False), ("activate", True)):
        p = sub.add_parser(name, help=f"{name} a user")
        p.add_argument("username")
        p.set_defaults(handler=activate, active=active)

    p = sub.add_parser("totp", help="enrol a new authenticator for a user and print its secret once")
    p.add_argument("username")
    p.set_defaults(handler=totp)

    p = sub.add_parser("totp-reset", help="remove a user's authenticator: they enrol again at next login")
    p.add_argument("username")
    p.set_defaults(handler=totp_reset)

    p = sub.add_parser("totp-code", help="print a user's current code (demo; recovery on the server)")
    p.add_argument("username")
    p.set_defaults(handler=totp_code)


def _admin(args):
    if not getattr(args.principal, "is_admin_role", False):
        raise UserError("only an administrator manages users")


def _password(path: str | None) -> str:
    if path:
        return read_input(path).strip()
    if not sys.stdin.isatty():
        raise UserError("give the password with --password-file FILE or - (stdin)")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise UserError("the passwords differ")
    return first


def add(args):
    _admin(args)
    user = services.create_user(args.principal, args.username, args.role, _password(args.password_file), args.email)
    print(f"user {user.username} added as {user.role}; they enrol their authenticator at first login")


def list_users(args):
    _admin(args)
    from ..accounts.models import User

    rows = [
        {
            "username": u.username,
            "role": u.role,
            "active": u.is_active,
            "totp": services.confirmed_totp(u) is not None,
            "last_login": u.last_login.isoformat(timespec="minutes") if u.last_login else "",
        }
        for u in User.objects.order_by("username")
    ]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(rows, ["username", "role", "active", "totp", "last_login"])


def password(args):
    _admin(args)
    services.set_password(args.principal, services.get_user(args.username), _password(args.password_file))
    print(f"{args.username} has a new password; their open sessions have ended")


def role(args):
    _admin(args)
    services.set_role(args.principal, services.get_user(args.username), args.role)
    print(f"{args.username} is now {args.role}")


def activate(args):
    _admin(args)
    services.set_active(args.principal, services.get_user(args.username), args.active)
    print(f"{args.username} {'activated' if args.active else 'deactivated'}")


def totp(args):
    _admin(args)
    device = services.enrol_totp_now(args.principal, services.get_user(args.username))
    print(f"secret: {base64.b32encode(device.bin_key).decode()}")
    print(f"uri:    {device.config_url}")


def totp_reset(args):
    _admin(args)
    services.reset_totp(args.principal, services.get_user(args.username))
    print(f"{args.username} will enrol a new authenticator at next login")


def totp_code(args):
    _admin(args)
    print(services.current_code(args.principal, services.get_user(args.username)))
