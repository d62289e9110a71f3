"""Who acts when no staff member is logged in: the CLI, the worker, the scheduler."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemPrincipal:
    """An operator-side actor with a supervisor's reach (it holds the server)."""

    part: str
    is_authenticated = True
    is_active = True
    sees_all_cases = True
    is_admin_role = True
    role = "admin"

    @property
    def audit_label(self) -> str:
        return f"system:{self.part}"

    def get_username(self) -> str:
        return self.audit_label
