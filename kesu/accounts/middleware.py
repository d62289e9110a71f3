"""Session limits and the second factor, enforced for every staff page."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

LOGIN_STARTED = "kesu_login_started"
OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/")


class SessionLimitsMiddleware:
    """Ends a session after KESU_SESSION_MAX_HOURS, however active it was
    (idle expiry is SESSION_COOKIE_AGE, renewed on every request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            started = request.session.setdefault(LOGIN_STARTED, time.time())
            if time.time() - started > settings.KESU_SESSION_MAX_HOURS * 3600:
                logout(request)
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class RequireTwoFactorMiddleware:
    """A password alone opens nothing: the user must pass TOTP (or enrol)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and not request.path.startswith(OPEN_PREFIXES):
            return redirect(reverse("accounts:otp") + f"?next={request.path}")
        return self.get_response(request)
