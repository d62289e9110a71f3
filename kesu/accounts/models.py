from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A member of the desk. Staff see their cases; supervisors and admins all."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        SUPERVISOR = "supervisor", _("Supervisor")
        STAFF = "staff", _("Staff")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.STAFF)

    @property
    def sees_all_cases(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.SUPERVISOR)

    @property
    def is_admin_role(self) -> bool:
        return self.role == self.Role.ADMIN

    # The role is the one source of truth for the staff admin: no per-model
    # permissions to keep in step with it.
    def has_perm(self, perm, obj=None) -> bool:
        return (self.is_active and self.is_admin_role) or super().has_perm(perm, obj)

    def has_module_perms(self, app_label) -> bool:
        return (self.is_active and self.is_admin_role) or super().has_module_perms(app_label)


class LoginFailure(models.Model):
    """A failed password or code, for throttling. Old rows are pruned."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)


class RecoveryCode(models.Model):
    """A one-use code that stands in for the authenticator. Only a keyed hash is kept, so the
    database alone (a backup, a dump) gives nobody a way past the second factor."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)


class AccountNotice(models.Model):
    """Something someone else did to her account, shown to her at her next login until she is through."""

    class Kind(models.TextChoices):
        TOTP_RESET = "totp_reset", _("An administrator reset your two-step verification.")
        TOTP_REPLACED = "totp_replaced", _("An administrator set up a new authenticator for your account.")
        PASSWORD_SET = "password_set", _("An administrator set a new password for your account.")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)
