from django.urls import path

from . import api, views

app_name = "exchange"
urlpatterns = [
    path("cases/<int:case_id>/sharing/", views.consent, name="consent"),
    path("api/exchange/v1/delta", api.delta, name="delta"),
    path("api/exchange/v1/feedback", api.feedback, name="feedback"),
]
