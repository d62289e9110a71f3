"""Staff accounts, roles, login throttling, second factors and recovery codes.

Every change to an account goes through a function here, whichever door it came in by (the CLI, the
Django admin, the login pages), so every change is audited the same way.
"""

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..audit.services import Actor, log_action
from ..lib.errors import NotFound, UserError
from ..vault import services as vault
from .models import AccountNotice, LoginFailure, RecoveryCode, User

ROLES = tuple(User.Role.values)
PROFILE_FIELDS = ("username", "first_name", "last_name", "email")
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to misread: no 0/o, 1/l/i
_RECOVERY_CODE = re.compile(r"^[a-z0-9]{12}$")  # compacted: "abcd-efgh-jkmn" given out


class LockedOut(UserError):
    """Too many failed passwords or codes for this name or address just now."""


def get_user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"no user named {username!r}") from None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _validated(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise UserError("password rejected: " + " ".join(exc.messages)) from None


def create_user(actor, username: str, role: str, password: str, email: str = "") -> User:
    return add_user(actor, User(username=username, role=role, email=email), password)


def add_user(actor, user: User, password: str) -> User:
    """Stores a new, unsaved user (from create_user or the admin's form); the role alone decides
    whether she may open the staff admin."""
    _check_role(user.role)
    if User.objects.filter(username=user.username).exists():
        raise UserError(f"user {user.username!r} already exists")
    _validated(password, user)
    user.is_staff, user.is_superuser = user.role == User.Role.ADMIN, False
    user.set_password(password)
    with transaction.atomic():
        user.save()
        log_action(actor, "user.create", user, role=user.role)
    return user


def set_password(actor, user: User, password: str) -> None:
    """A new password; her other sessions end (Django ties them to the password's hash).
    Set by anyone but herself, she is told."""
    _validated(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        entry = log_action(actor, "user.password", user)
        if getattr(actor, "pk", None) != user.pk:
            tell_user(user, AccountNotice.Kind.PASSWORD_SET, entry.seq)


def change_user(actor, user: User, changes: dict) -> None:
    """An editor's changes (field name -> new value): the role and activity through their own
    services, the profile fields in one audited save. Passwords and second factors have their own."""
    unknown = set(changes) - {*PROFILE_FIELDS, "role", "is_active"}
    if unknown:
        raise UserError(f"cannot change {', '.join(sorted(unknown))} of a user here")
    profile = {name: value for name, value in changes.items() if name in PROFILE_FIELDS}
    with transaction.atomic():
        if profile:
            for name, value in profile.items():
                setattr(user, name, value)
            user.save(update_fields=list(profile))
            log_action(actor, "user.change", user, fields=sorted(profile))
        if "role" in changes:
            set_role(actor, user, changes["role"])
        if "is_active" in changes:
            set_active(actor, user, changes["is_active"])


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


def confirm_totp(actor, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirms the device being enrolled if token is its current code, and returns her new recovery
    codes (the only time they exist in clear); None if the code is wrong."""
    if not device.verify_token(token):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save()
        log_action(actor, "user.totp_enrolled", device.user)
        return issue_recovery_codes(actor, device.user)


def reset_totp(actor, user: User) -> None:
    """Removes her authenticator and recovery codes: she enrols again at her next login, and is told."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        entry = log_action(actor, "user.totp_reset", user)
        tell_user(user, AccountNotice.Kind.TOTP_RESET, entry.seq)


def enrol_totp_now(actor, user: User) -> TOTPDevice:
    """A confirmed device created by an operator (CLI, demo); prints its secret once. Replacing her
    own authenticator is a reset: her recovery codes go too, and she is told."""
    replaced = confirmed_totp(user) is not None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        entry = log_action(actor, "user.totp_enrolled", user, by_operator=True)
        if replaced:
            tell_user(user, AccountNotice.Kind.TOTP_REPLACED, entry.seq)
    return device


def verify_second_factor(user: User, token: str, ip: str | None, *, recovery: bool = True) -> str | None:
    """Checks a code from her authenticator or, if recovery, one of her unused recovery codes (which
    this spends), inside the login lockout: a wrong one of either counts as a failure. Returns how she
    passed ("totp" or "recovery_code"), or None. Raises LockedOut while failures are too many."""
    if is_locked_out(user.username, ip):
        raise LockedOut("too many failed attempts; try again later")
    code = _compact(token)
    if recovery and _RECOVERY_CODE.match(code):
        via = "recovery_code" if use_recovery_code(user, code) else None
    else:
        device = confirmed_totp(user)
        passed = device is not None and device.verify_is_allowed()[0] and device.verify_token(code)
        via = "totp" if passed else None
    if via is None:
        record_failure(user.username, ip)
    else:
        clear_failures(user.username)
    return via


# --- recovery codes -------------------------------------------------------------------


def _recovery_digest(user: User, code: str) -> str:
    """Keyed (the key is in the vault), so a copy of the database cannot be searched for codes."""
    return vault.blind_index(f"recovery-code:{user.pk}:{_compact(code)}")


def _compact(code: str) -> str:
    """How a code is compared: without spaces and dashes, in lower case (as typed or pasted)."""
    return re.sub(r"[\s-]", "", code).lower()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))  # about 59 bits
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def issue_recovery_codes(actor, user: User) -> list[str]:
    """New recovery codes for her; every earlier one stops working. Returns them in clear, once."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=_recovery_digest(user, c)) for c in codes)
        log_action(actor, "user.recovery_codes_issued", user, count=len(codes))
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def use_recovery_code(user: User, code: str) -> bool:
    """Spends one of her unused codes; True if code was one. Two requests racing for the same code:
    the conditional update lets exactly one of them through."""
    code = _compact(code)
    if not _RECOVERY_CODE.match(code):
        return False
    with transaction.atomic():
        spent = RecoveryCode.objects.filter(
            user=user, digest=_recovery_digest(user, code), used_at__isnull=True
        ).update(used_at=timezone.now())
        if spent:
            log_action(user, "user.recovery_code_used", user, left=recovery_codes_left(user))
    return bool(spent)


# --- telling her ----------------------------------------------------------------------


def tell_user(user: User, kind: str, reference: int) -> None:
    """She hears of a change someone else made to her account: a notice at her next login and, if she
    has an e-mail address, a message through the outbox saying only what happened and when: no name,
    link, code or secret. reference (the audit entry's number) makes the message once-only."""
    AccountNotice.objects.create(user=user, kind=kind)
    mailed = _mail_notice(user, kind, f"account:{user.pk}:{reference}")
    log_action(Actor.system("accounts"), "user.told", user, kind=kind, mailed=mailed)


def _mail_notice(user: User, kind: str, key: str) -> bool:
    from django.utils import translation
    from django.utils.translation import gettext as _

    from ..notices import mail, outbox
    from ..notices.models import OutboxMessage

    try:
        address = mail.check_address(user.email)
    except UserError:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("[Kesu] A change to your account")
        body = _(
            "%(what)s\n\nWhen: %(when)s\n\n"
            "Kesu will show you this again at your next login. If you did not ask for this, tell your "
            "supervisor at once.\n\nThis e-mail contains no links or codes on purpose."
        ) % {"what": AccountNotice.Kind(kind).label, "when": timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")}
    message_id = mail.new_message_id(f"account{user.pk}")
    data = mail.build(to=address, subject=subject, body=body, message_id=message_id, language=settings.LANGUAGE_CODE)
    outbox.queue(key=key, kind=OutboxMessage.Kind.DIGEST, case=None, to=address, data=data, message_id=message_id)
    return True


def pending_notices(user: User) -> list[AccountNotice]:
    return list(AccountNotice.objects.filter(user=user, seen_at__isnull=True).order_by("created_at"))


def notices_seen(user: User) -> None:
    """She is through the second step: she has seen them."""
    AccountNotice.objects.filter(user=user, seen_at__isnull=True).update(seen_at=timezone.now())


def current_code(actor, user: User) -> str:
    """The current TOTP code (demo and recovery by whoever holds the server)."""
    device = confirmed_totp(user)
    if device is None:
        raise UserError(f"user {user.username!r} has no authenticator")
    from django_otp.oath import totp

    log_action(actor, "user.totp_code_read", user)
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(code).zfill(device.digits)
