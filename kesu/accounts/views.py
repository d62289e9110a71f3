import base64
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.decorators import otp_required

from ..audit.services import log_action
from . import services
from .forms import LoginForm, SecondFactorForm, TokenForm


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def safe_next(request, default: str = "/") -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def with_next(path: str, next_url: str) -> str:
    return f"{path}?{urlencode({'next': next_url})}"


@never_cache
@sensitive_post_parameters("password")
def login(request, default_next: str = "/"):
    """The only way in, for the desk and the staff admin alike (the admin's login page is this)."""
    form = LoginForm(request.POST or None)
    next_url = safe_next(request, default_next)
    if request.method == "POST" and form.is_valid():
        username, ip = form.cleaned_data["username"], _client_ip(request)
        if services.is_locked_out(username, ip):
            form.add_error(None, _("Too many failed attempts. Try again later."))
        else:
            user = auth.authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                services.record_failure(username, ip)
                form.add_error(None, _("User name or password is wrong."))
            else:
                auth.login(request, user)  # a new session key
                log_action(user, "login.password", user)
                return redirect(with_next("/accounts/otp/", next_url))
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _verified(request, device, via: str) -> None:
    """The second step passed: the session gets a new key (as at the password step) and a new CSRF token."""
    otp_login(request, device)
    request.session.cycle_key()
    rotate_token(request)
    services.notices_seen(request.user)
    log_action(request.user, "login.verified", request.user, via=via)


@never_cache
@sensitive_post_parameters("token")
@login_required
def otp(request):
    user = request.user
    device = services.confirmed_totp(user)
    if device is None:
        return redirect(with_next("/accounts/otp/setup/", safe_next(request)))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            via = services.verify_second_factor(user, form.cleaned_data["token"], _client_ip(request))
        except services.LockedOut:
            form.add_error(None, _("Too many failed attempts. Try again later."))
        else:
            if via is not None:
                _verified(request, device, via)
                if via == "recovery_code":
                    left = services.recovery_codes_left(user)
                    messages.warning(request, _("You logged in with a recovery code. Codes left: %(n)s.") % {"n": left})
                return redirect(safe_next(request))
            form.add_error("token", _("The code is not valid."))
    return _second_step(request, "accounts/otp.html", {"form": form})


def _second_step(request, template: str, context: dict):
    """A page between the password and the second factor: what others did to her account, nothing else."""
    context = {**context, "next": safe_next(request), "notices": services.pending_notices(request.user)}
    return render(request, template, context)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@never_cache
@login_required
def otp_setup(request):
    user = request.user
    if services.confirmed_totp(user) is not None:
        return redirect("/accounts/otp/")
    device = services.pending_totp(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.confirm_totp(user, device, form.cleaned_data["token"].strip())
        if codes is not None:
            _verified(request, device, "enrolment")
            return _show_recovery_codes(request, codes)
        form.add_error("token", _("The code is not valid."))
    secret = base64.b32encode(device.bin_key).decode()
    context = {"form": form, "qr": _qr_svg(device.config_url), "secret": secret}
    return _second_step(request, "accounts/otp_setup.html", context)


def _show_recovery_codes(request, codes: list[str]):
    """Shown in the answer to the POST that made them, never stored in clear, never shown again."""
    return render(request, "accounts/recovery_codes_new.html", {"codes": codes, "next": safe_next(request)})


@never_cache
@otp_required(login_url="/accounts/otp/")
def recovery_codes(request):
    """How many she has left; new ones (the old ones stop working) for a code from her authenticator."""
    user = request.user
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            via = services.verify_second_factor(user, form.cleaned_data["token"], _client_ip(request), recovery=False)
        except services.LockedOut:
            form.add_error(None, _("Too many failed attempts. Try again later."))
        else:
            if via is not None:
                return _show_recovery_codes(request, services.issue_recovery_codes(user, user))
            form.add_error("token", _("The code is not valid."))
    context = {"form": form, "left": services.recovery_codes_left(user)}
    return render(request, "accounts/recovery_codes.html", context)


@require_POST
def logout(request):
    if request.user.is_authenticated:
        log_action(request.user, "logout", request.user)
    auth.logout(request)
    return redirect("/accounts/login/")
