from django import forms
from django.contrib.auth.forms import BaseUserCreationForm, SetPasswordMixin
from django.utils.translation import gettext_lazy as _

from .models import User


class LoginForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("Code from your authenticator"),
        regex=r"^\s*\d{6,8}\s*$",
        error_messages={"invalid": _("Enter the 6-digit code.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class SecondFactorForm(forms.Form):
    """The login's second step: the authenticator's code, or one of her recovery codes."""

    token = forms.RegexField(
        label=_("Code from your authenticator, or a recovery code"),
        regex=r"^\s*(\d{6,8}|[A-Za-z0-9]{4}[\s-]?[A-Za-z0-9]{4}[\s-]?[A-Za-z0-9]{4})\s*$",
        error_messages={"invalid": _("Enter the 6-digit code or a recovery code.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


# --- the staff admin: forms check, services save (and audit) --------------------------------


class StaffCreationForm(BaseUserCreationForm):
    """A new user with her role; no "unusable password" choice: everyone logs in the same way."""

    class Meta:
        model = User
        fields = ("username", "email", "role")


class StaffPasswordForm(SetPasswordMixin, forms.Form):
    """A new password for a user (the admin's form, without "disable password")."""

    password1, password2 = SetPasswordMixin.create_password_fields()

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        self.validate_passwords()
        self.validate_password_for_user(self.user)
        return super().clean()
