from django.urls import path

from . import views

app_name = "evidence"
urlpatterns = [
    path("cases/<int:case_id>/evidence/", views.preserve, name="preserve"),
    path("cases/<int:case_id>/evidence/<uuid:bundle_id>/download/", views.download, name="download"),
    path("cases/<int:case_id>/evidence/<uuid:bundle_id>/verify/", views.check, name="verify"),
]
