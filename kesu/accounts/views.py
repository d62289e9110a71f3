import base64
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from ..audit.services import log_action
from . import services
from .forms import LoginForm, TokenForm


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _next_url(request) -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def login(request):
    form = LoginForm(request.POST or None)
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
                auth.login(request, user)
                log_action(user, "login.password", user)
                return redirect(f"/accounts/otp/?next={_next_url(request)}")
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)})


@login_required
def otp(request):
    user = request.user
    device = services.confirmed_totp(user)
    if device is None:
        return redirect(f"/accounts/otp/setup/?next={_next_url(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.is_locked_out(user.username, _client_ip(request)):
            form.add_error(None, _("Too many failed attempts. Try again later."))
        elif device.verify_is_allowed()[0] and device.verify_token(form.cleaned_data["token"].strip()):
            otp_login(request, device)
            services.clear_failures(user.username)
            log_action(user, "login.verified", user)
            return redirect(_next_url(request))
        else:
            services.record_failure(user.username, _client_ip(request))
            form.add_error("token", _("The code is not valid."))
    return render(request, "accounts/otp.html", {"form": form, "next": _next_url(request)})


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@login_required
def otp_setup(request):
    user = request.user
    if services.confirmed_totp(user) is not None:
        return redirect("/accounts/otp/")
    device = services.pending_totp(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.confirm_totp(user, device, form.cleaned_data["token"].strip()):
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("token", _("The code is not valid."))
    secret = base64.b32encode(device.bin_key).decode()
    context = {"form": form, "qr": _qr_svg(device.config_url), "secret": secret, "next": _next_url(request)}
    return render(request, "accounts/otp_setup.html", context)


@require_POST
def logout(request):
    if request.user.is_authenticated:
        log_action(request.user, "logout", request.user)
    auth.logout(request)
    return redirect("/accounts/login/")
