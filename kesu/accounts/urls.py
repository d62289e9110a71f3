from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login, name="login"),
    path("otp/", views.otp, name="otp"),
    path("otp/setup/", views.otp_setup, name="otp_setup"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("logout/", views.logout, name="logout"),
]
