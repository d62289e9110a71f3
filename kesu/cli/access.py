"""Who may run a command: the checks several command modules share."""

from ..lib.errors import UserError


def require_operator(args) -> None:
    """Only an administrator (or the operator, KESU_USER unset) may run commands that change the installation."""
    if not getattr(args.principal, "is_admin_role", False):
        raise UserError("only an administrator may do this")
