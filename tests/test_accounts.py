"""Login with password and TOTP, throttling, enrolment, session limits, admin."""

import time

import pytest
from conftest import PASSWORD
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


def code_for(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return str(totp(device.bin_key, device.step, device.t0, device.digits)).zfill(device.digits)


def test_password_then_totp_opens_the_desk(personas, case):
    client, user = Client(), personas["on_case"]
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    # the password alone opens nothing
    assert client.get(f"/cases/{case.pk}/")["Location"].startswith("/accounts/otp/")
    response = client.post("/accounts/otp/", {"token": code_for(user), "next": f"/cases/{case.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert client.get(f"/cases/{case.pk}/").status_code == 200


def test_wrong_code_is_refused(personas):
    client, user = Client(), personas["on_case"]
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    wrong = str((int(code_for(user)) + 1) % 1_000_000).zfill(6)
    response = client.post("/accounts/otp/", {"token": wrong})
    assert response.status_code == 200 and client.get("/")["Location"].startswith("/accounts/otp/")


def test_login_is_throttled_after_repeated_failures(personas, settings):
    client, user = Client(), personas["on_case"]
    for _ in range(settings.KESU_LOGIN_MAX_FAILURES):
        response = client.post("/accounts/login/", {"username": user.username, "password": "wrong-password-x"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200  # the right password is refused while locked
    assert "_auth_user_id" not in client.session


def test_first_login_enrols_an_authenticator(make_user):
    from kesu.accounts.models import User

    user = User(username="newcomer", role="staff")
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    client.post("/accounts/login/", {"username": "newcomer", "password": PASSWORD})
    response = client.get("/accounts/otp/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/otp/setup/")
    assert b"data:image/svg+xml;base64," in response.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    code = str(totp(device.bin_key, device.step, device.t0, device.digits)).zfill(6)
    response = client.post("/accounts/otp/setup/", {"token": code})
    assert response.status_code == 200 and b"recovery-codes" in response.content  # her codes, shown once
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert client.get("/").status_code == 200


def test_session_ends_after_the_absolute_limit(clients, settings):
    from kesu.accounts.middleware import LOGIN_STARTED

    client = clients["on_case"]
    assert client.get("/").status_code == 200
    session = client.session
    session[LOGIN_STARTED] = time.time() - settings.KESU_SESSION_MAX_HOURS * 3600 - 1
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_session_expires_when_idle(settings, clients):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = clients["on_case"]
    assert client.get("/").status_code == 200
    session = Session.objects.get(session_key=client.session.session_key)
    # each request pushes the expiry forward by the idle limit
    assert abs((session.expire_date - timezone.now()).total_seconds() - settings.SESSION_COOKIE_AGE) < 60
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("persona,status", [("on_case", 302), ("supervisor", 302), ("admin", 200)])
def test_staff_admin_is_for_admins_only(clients, persona, status):
    assert clients[persona].get("/admin/accounts/user/").status_code == status


def test_admin_edit_is_audited(clients, personas):
    from kesu.audit.models import AuditEntry

    user = personas["on_case"]
    response = clients["admin"].post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"username": user.username, "role": "supervisor", "is_active": "on", "email": "hana@desk.example"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.role == "supervisor" and user.email == "hana@desk.example"
    entries = AuditEntry.objects.filter(object_id=str(user.pk), actor="user:root")
    assert entries.filter(action="user.role", detail__role="supervisor").exists()
    assert entries.filter(action="user.change", detail__fields=["email"]).exists()


def test_logout_ends_the_session(clients):
    client = clients["on_case"]
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
