"""Who may run a command: the checks several command modules share."""

from ..lib.errors import UserError


def require_operator(args) -> None:
    """Only an administrator (or the operator, KESU_USER unset) may run commands that change the installation."""
    if not getattr(args.principal, "is_admin_role", False):
        raise UserError("only an administrator may do this")


def require_supervisor(args) -> None:
    """What runs the patrol for every case (watches, runs, sweeps, re-checks) is for those who see every case,
    as on the patrol pages: a supervisor, an administrator, or the operator."""
    if not getattr(args.principal, "sees_all_cases", False):
        raise UserError("only a supervisor or an administrator may do this: it works for every case")
