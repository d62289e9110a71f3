from django.urls import path

from . import views

app_name = "exchange"
urlpatterns = [
    path("cases/<int:case_id>/sharing/", views.consent, name="consent"),
]
