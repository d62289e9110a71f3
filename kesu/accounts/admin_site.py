"""The Django admin, open only to verified (2FA) users with the admin role."""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class KesuAdminSite(AdminSite):
    site_header = "Kesu"
    site_title = "Kesu admin"

    def has_permission(self, request):
        user = request.user
        return bool(
            user.is_active and user.is_authenticated and getattr(user, "is_admin_role", False) and user.is_verified()
        )


class KesuAdminConfig(AdminConfig):
    default_site = "kesu.accounts.admin_site.KesuAdminSite"
