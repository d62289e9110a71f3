from django.urls import path

from . import views

app_name = "hashing"
urlpatterns = [
    path("h/<str:token>/", views.start, name="start"),
    path("h/<str:token>/hashes/", views.submit, name="submit"),
    path("cases/<int:case_id>/hashing-link/", views.link_create, name="create"),
    path("cases/<int:case_id>/hashing-link/revoke/", views.link_revoke, name="revoke"),
]
