"""Issue 18, findings 2 and 4: one way in (the staff admin too), audited account changes, the session
and the second factor (a new session key at each step, nothing shown before it, recovery codes, resets
that she is told of)."""

import email
import email.policy
import re

import pytest
from conftest import PASSWORD
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kesu.accounts.models import LoginFailure, User
from kesu.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-desk-password-77"
CODE = re.compile(rb"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")


def code_for(user, drift: int = 0) -> str:
    """Her authenticator's code now (drift=1: the next one, as a code once used is refused)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return str(totp(device.bin_key, device.step, device.t0, device.digits, drift)).zfill(device.digits)


def audited(action: str, user, actor: str | None = None):
    entries = AuditEntry.objects.filter(action=action, object_id=str(user.pk))
    return entries.filter(actor=actor) if actor else entries


def password_step(user, password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    return client


def newcomer(username="mei", email="") -> User:
    user = User(username=username, role="staff", email=email)
    user.set_password(PASSWORD)
    user.save()
    return user


def enrol(client: Client, user) -> list[str]:
    """Her first login's second step: set up the authenticator; returns the recovery codes shown."""
    client.get("/accounts/otp/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    code = str(totp(device.bin_key, device.step, device.t0, device.digits)).zfill(6)
    response = client.post("/accounts/otp/setup/", {"token": code, "next": "/"})
    assert response.status_code == 200
    return [c.decode() for c in CODE.findall(response.content)]


# --- finding 2: the staff admin has no door of its own ----------------------------------------------


def test_admin_login_page_counts_failures_locks_out_and_never_logs_in_on_a_password(personas, settings):
    admin = personas["admin"]
    client = Client()
    for _ in range(8):
        response = client.post("/admin/login/", {"username": admin.username, "password": "wrong-password-x"})
        assert response.status_code == 200
    response = client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # locked out: the right password opens nothing
    limit = settings.KESU_LOGIN_MAX_FAILURES
    assert LoginFailure.objects.filter(username=admin.username).count() == limit
    assert AuditEntry.objects.filter(action="login.failure").count() == limit
    assert client.get("/admin/accounts/user/").status_code == 302


def test_admin_login_page_is_kesus_login_and_the_admin_needs_the_second_factor(personas):
    admin = personas["admin"]
    client = Client()
    response = client.get("/admin/login/?next=/admin/accounts/user/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    response = client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/otp/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302  # a password alone opens no admin page
    response = client.post("/accounts/otp/", {"token": code_for(admin), "next": "/admin/"})
    assert response["Location"] == "/admin/" and client.get("/admin/").status_code == 200
    assert audited("login.password", admin).exists() and audited("login.verified", admin).exists()


def test_admin_password_change_is_audited_and_she_is_told(clients, personas):
    from kesu.accounts.models import AccountNotice

    user = personas["on_case"]
    response = clients["admin"].post(
        f"/admin/accounts/user/{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert audited("user.password", user, "user:root").count() == 1
    assert AccountNotice.objects.filter(user=user, kind="password_set").exists()
    # a weak one is refused, and nothing is changed or logged
    response = clients["admin"].post(
        f"/admin/accounts/user/{user.pk}/password/", {"password1": "123", "password2": "123"}
    )
    user.refresh_from_db()
    assert response.status_code == 200 and user.check_password(NEW_PASSWORD)
    assert audited("user.password", user).count() == 1


def test_admin_own_password_change_goes_the_same_audited_way(clients, personas):
    admin, client = personas["admin"], clients["admin"]
    response = client.get("/admin/password_change/")
    assert response["Location"] == f"/admin/accounts/user/{admin.pk}/password/"
    client.post(response["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD) and audited("user.password", admin, "user:root").exists()
    assert client.get("/admin/").status_code == 200  # her own session goes on


def test_admin_role_activity_and_new_users_are_audited_like_the_cli(clients, personas):
    user, client = personas["outsider"], clients["admin"]
    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"username": user.username, "role": "admin", "is_superuser": "on", "is_staff": "on"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_active, user.is_superuser) == ("admin", True, False, False)
    assert audited("user.role", user, "user:root").get().detail == {"role": "admin"}
    assert audited("user.deactivate", user, "user:root").exists()

    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "yuki", "role": "supervisor", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    yuki = User.objects.get(username="yuki")
    assert yuki.role == "supervisor" and yuki.check_password(NEW_PASSWORD)
    assert audited("user.create", yuki, "user:root").get().detail == {"role": "supervisor"}


def test_admin_has_no_unaudited_side_doors(clients, personas):
    client, user = clients["admin"], personas["on_case"]
    for path in ("/admin/otp_totp/totpdevice/", "/admin/otp_static/staticdevice/", "/admin/auth/group/"):
        assert client.get(path).status_code == 404, path
    # no bulk delete (it skipped the audit); accounts are deactivated
    response = client.post("/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [user.pk]})
    assert User.objects.filter(pk=user.pk).exists()
    assert client.get(f"/admin/accounts/user/{user.pk}/delete/").status_code == 403
    response = client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active and audited("user.deactivate", user, "user:root").exists()


def test_admin_logout_is_kesus_audited_logout(clients, personas):
    client = clients["admin"]
    assert client.post("/admin/logout/").status_code == 302
    assert audited("logout", personas["admin"]).exists() and "_auth_user_id" not in client.session


def test_non_admin_on_admin_login_is_refused(clients):
    assert clients["supervisor"].get("/admin/login/").status_code == 403


# --- finding 4: session and second factor -------------------------------------------------------


def test_session_key_changes_at_the_password_and_at_the_second_step(personas):
    from django.contrib.sessions.models import Session

    user, client = personas["on_case"], Client()
    before = client.session.session_key  # a session from before the login (a fixation attempt)
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    after_password = client.cookies["sessionid"].value
    client.post("/accounts/otp/", {"token": code_for(user)})
    after_code = client.cookies["sessionid"].value
    assert len({before, after_password, after_code}) == 3
    assert not Session.objects.filter(session_key__in=[before, after_password]).exists()
    assert client.get("/").status_code == 200
    # and when the second step is her first enrolment
    fresh = newcomer()
    client = password_step(fresh)
    after_password = client.cookies["sessionid"].value
    enrol(client, fresh)
    assert client.cookies["sessionid"].value != after_password and client.get("/").status_code == 200


def test_no_user_name_or_menu_before_the_second_factor(personas):
    user = personas["on_case"]
    client = password_step(user)
    for page in (client.get("/accounts/otp/"), client.get("/accounts/recovery-codes/", follow=True)):
        assert page.status_code == 200
        assert user.username.encode() not in page.content and b"<nav" not in page.content
        assert b"/cases/" not in page.content and b"/admin/" not in page.content
        assert b'action="/accounts/logout/"' in page.content  # she can still leave
    fresh = newcomer()
    page = password_step(fresh).get("/accounts/otp/", follow=True)
    assert page.redirect_chain[-1][0].startswith("/accounts/otp/setup/")
    assert fresh.username.encode() not in page.content and b"<nav" not in page.content
    client.post("/accounts/otp/", {"token": code_for(user)})
    page = client.get("/")
    assert user.username.encode() in page.content and b"<nav" in page.content


def test_recovery_codes_are_shown_once_at_enrolment_and_stored_hashed(db):
    import hashlib

    from kesu.accounts.models import RecoveryCode

    user = newcomer()
    client = password_step(user)
    codes = enrol(client, user)
    assert len(codes) == len(set(codes)) == 10
    assert audited("user.recovery_codes_issued", user).get().detail == {"count": 10}
    digests = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
    assert len(digests) == 10
    for code in codes:
        plain = {code, code.replace("-", "")}
        assert not plain & digests and not {hashlib.sha256(p.encode()).hexdigest() for p in plain} & digests
    # never shown again: not on the setup page, not on the recovery codes page
    assert client.get("/accounts/otp/setup/").status_code == 302
    page = client.get("/accounts/recovery-codes/")
    assert page.status_code == 200 and not CODE.search(page.content) and b"10" in page.content


def test_a_recovery_code_opens_once_and_is_audited(db):
    user = newcomer()
    codes = enrol(password_step(user), user)
    client = password_step(user)
    response = client.post("/accounts/otp/", {"token": codes[3].upper().replace("-", " "), "next": "/cases/"})
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert client.get("/").status_code == 200
    assert audited("user.recovery_code_used", user).get().detail == {"left": 9}
    assert audited("login.verified", user).filter(detail__via="recovery_code").exists()

    again = password_step(user)
    response = again.post("/accounts/otp/", {"token": codes[3]})
    assert response.status_code == 200 and again.get("/")["Location"].startswith("/accounts/otp/")
    assert LoginFailure.objects.filter(username=user.username).count() == 1  # counted like a wrong code


def test_wrong_recovery_codes_count_in_the_lockout(db, settings):
    settings.LANGUAGE_CODE = "en"
    user = newcomer()
    codes = enrol(password_step(user), user)
    client = password_step(user)
    for _ in range(settings.KESU_LOGIN_MAX_FAILURES):
        assert client.post("/accounts/otp/", {"token": "zzzz-zzzz-zzzz"}).status_code == 200
    response = client.post("/accounts/otp/", {"token": codes[0]})
    assert response.status_code == 200 and b"Too many failed attempts" in response.content
    assert not audited("user.recovery_code_used", user).exists()  # the code was not spent


def test_new_recovery_codes_need_the_authenticator_and_replace_the_old_ones(db):
    user = newcomer()
    client = password_step(user)
    old = enrol(client, user)
    response = client.post("/accounts/recovery-codes/", {"token": code_for(user, drift=1)})
    new = [c.decode() for c in CODE.findall(response.content)]
    assert len(new) == 10 and not set(new) & set(old)
    assert audited("user.recovery_codes_issued", user, f"user:{user.username}").count() == 2
    for wrong in ("000000", new[1]):  # only a code from the authenticator makes new ones
        response = client.post("/accounts/recovery-codes/", {"token": wrong})
        assert response.status_code == 200 and not CODE.search(response.content)
    assert audited("user.recovery_codes_issued", user).count() == 2
    other = password_step(user)
    assert other.post("/accounts/otp/", {"token": old[0]}).status_code == 200  # the old ones stopped working
    assert other.post("/accounts/otp/", {"token": new[0]}).status_code == 302


@pytest.fixture
def smtp(settings):
    from tests.mail_servers import SmtpSink

    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.DEFAULT_FROM_EMAIL = "takedown@desk.example"
        settings.KESU_MAIL_ARCHIVE = ""
        yield sink


def test_admin_reset_of_the_second_factor_is_audited_and_she_is_told(clients, personas, smtp, settings):
    from kesu.notices import outbox

    settings.LANGUAGE_CODE = "en"
    user = personas["on_case"]
    user.email = "hana@desk.example"
    user.save()
    secret = TOTPDevice.objects.get(user=user).key
    response = clients["admin"].post(
        "/admin/accounts/user/", {"action": "reset_second_factor", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert audited("user.totp_reset", user, "user:root").exists()
    assert audited("user.told", user).get().detail == {"kind": "totp_reset", "mailed": True}

    assert outbox.deliver_due() == {"sent": 1}
    (received,) = smtp.messages_for("hana@desk.example")
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    body = message.get_body().get_content()
    assert "reset your two-step verification" in body
    for secret_thing in (user.username, "root", secret, "http", settings.KESU_BASE_URL):
        assert secret_thing not in body and secret_thing not in message["Subject"]

    # at her next login she sees it, until she is through
    client = password_step(user)
    page = client.get("/accounts/otp/", follow=True)
    assert page.redirect_chain[-1][0].startswith("/accounts/otp/setup/")
    assert b"reset your two-step verification" in page.content
    enrol(client, user)
    assert b"reset your two-step verification" not in password_step(user).get("/accounts/otp/").content


def test_cli_resets_and_passwords_tell_her_too(cli, personas):
    from kesu.accounts.models import AccountNotice

    user = personas["on_case"]
    code, _, err = cli("user", "totp-reset", user.username)
    assert code == 0, err
    assert audited("user.told", user).get().detail == {"kind": "totp_reset", "mailed": False}  # no address
    assert cli("user", "totp", user.username)[0] == 0  # an operator's new authenticator (nothing to replace now)
    assert cli("user", "totp", user.username)[0] == 0  # ... and one that replaces hers
    code, _, err = cli("user", "password", user.username, "--password-file", "-", stdin=NEW_PASSWORD)
    assert code == 0, err
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and audited("user.password", user, "system:cli").exists()
    kinds = AccountNotice.objects.filter(user=user, seen_at__isnull=True).values_list("kind", flat=True)
    assert sorted(kinds) == ["password_set", "totp_replaced", "totp_reset"]
    code, _, err = cli("user", "password", user.username, "--password-file", "-", stdin="123")
    assert code != 0 and "password rejected" in err and len(err.strip().splitlines()) == 1


def test_admin_bulk_delete_of_the_knowledge_base_is_audited_row_by_row(clients):
    from kesu.sites.models import Site

    sites = [Site.objects.create(domain=f"bulk{n}.example") for n in range(2)]
    response = clients["admin"].post(
        "/admin/sites/site/", {"action": "delete_selected", "_selected_action": [s.pk for s in sites], "post": "yes"}
    )
    assert response.status_code == 302 and not Site.objects.filter(pk__in=[s.pk for s in sites]).exists()
    deleted = AuditEntry.objects.filter(action="sites.admin_delete", actor="user:root")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(str(s.pk) for s in sites)
