"""The Django admin, open only to verified (2FA) users with the admin role.

It has no door of its own: its login page is Kesu's login (lockout, second factor, audit), its logout
Kesu's, and a password is changed only on the user's page, through the audited service.
"""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache


class KesuAdminSite(AdminSite):
    site_header = "Kesu"
    site_title = "Kesu admin"

    def has_permission(self, request):
        user = request.user
        return bool(
            user.is_active and user.is_authenticated and getattr(user, "is_admin_role", False) and user.is_verified()
        )

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        from . import views

        if request.user.is_authenticated and request.user.is_verified():
            if not self.has_permission(request):
                raise PermissionDenied
            return redirect(reverse("admin:index", current_app=self.name))
        if request.method == "POST":  # a form posted here is checked exactly like one posted to Kesu's page
            return views.login(request, default_next=reverse("admin:index", current_app=self.name))
        target = views.safe_next(request, reverse("admin:index", current_app=self.name))
        return redirect(views.with_next(reverse("accounts:login"), target))

    def logout(self, request, extra_context=None):
        from . import views

        return views.logout(request)

    def password_change(self, request, extra_context=None):
        return redirect(reverse("admin:auth_user_password_change", args=(request.user.pk,), current_app=self.name))

    def password_change_done(self, request, extra_context=None):
        return redirect(reverse("admin:index", current_app=self.name))


class KesuAdminConfig(AdminConfig):
    default_site = "kesu.accounts.admin_site.KesuAdminSite"

    def ready(self):
        super().ready()
        _close_side_doors(self.module.site)


def _close_side_doors(site) -> None:
    """Groups and per-user permissions mean nothing here (the role decides), and django-otp's device
    pages would let an admin read a secret or add a device unaudited: second factors are managed on
    the user's page and by ``kesu user``, through the services."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (Group, StaticDevice, TOTPDevice):
        if site.is_registered(model):
            site.unregister(model)
