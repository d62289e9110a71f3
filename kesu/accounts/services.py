"""Staff accounts, roles, login throttling and second factors."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..audit.services import Actor, log_action
from ..lib.errors import NotFound, UserError
from .models import LoginFailure, User

ROLES = tuple(User.Role.values)


def get_user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"no user named {username!r}") from None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def create_user(actor, username: str, role: str, password: str, email: str = "") -> User:
    _check_role(role)
    if User.objects.filter(username=username).exists():
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, role=role, email=email, is_staff=role == User.Role.ADMIN)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise UserError("password rejected: " + " ".join(exc.messages)) from None
    user.set_password(password)
    with transaction.atomic():
        user.save()
        log_action(actor, "user.create", user, role=role)
    return user


def set_role(actor, user: User, role: str) -> None:
    _check_role(role)
    with transaction.atomic():
        user.role = role
        user.is_staff = role == User.Role.ADMIN
        user.save(update_fields=["role", "is_staff"])
        log_action(actor, "user.role", user, role=role)


def set_active(actor, user: User, active: bool) -> None:
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        log_action(actor, "user.activate" if active else "user.deactivate", user)


# --- throttling -------------------------------------------------------------------


def _window_start():
    return timezone.now() - timedelta(minutes=settings.KESU_LOGIN_LOCKOUT_MINUTES)


def is_locked_out(username: str, ip: str | None) -> bool:
    """Too many failures for this name, or from this address, in the window."""
    recent = LoginFailure.objects.filter(at__gte=_window_start())
    limit = settings.KESU_LOGIN_MAX_FAILURES
    by_name = recent.filter(username=username.lower()).count() >= limit
    by_ip = ip is not None and recent.filter(ip=ip).count() >= limit * 4
    return by_name or by_ip


def record_failure(username: str, ip: str | None) -> None:
    LoginFailure.objects.filter(at__lt=_window_start()).delete()
    LoginFailure.objects.create(username=username.lower(), ip=ip)
    log_action(Actor("anonymous"), "login.failure", ip=ip or "")


def clear_failures(username: str) -> None:
    LoginFailure.objects.filter(username=username.lower()).delete()


# --- second factor --------------------------------------------------------------------


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def pending_totp(user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled, created on first need."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def confirm_totp(actor, device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save()
        log_action(actor, "user.totp_enrolled", device.user)
    return True


def reset_totp(actor, user: User) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        log_action(actor, "user.totp_reset", user)


def enrol_totp_now(actor, user: User) -> TOTPDevice:
    """A confirmed device created by an operator (CLI, demo); prints its secret once."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        log_action(actor, "user.totp_enrolled", user, by_operator=True)
    return device


def current_code(actor, user: User) -> str:
    """The current TOTP code (demo and recovery by whoever holds the server)."""
    device = confirmed_totp(user)
    if device is None:
        raise UserError(f"user {user.username!r} has no authenticator")
    from django_otp.oath import totp

    log_action(actor, "user.totp_code_read", user)
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(code).zfill(device.digits)
