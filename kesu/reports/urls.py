from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("reports/", views.home, name="home"),
    path("reports/compliance/", views.compliance, name="compliance"),
    path("reports/reuploads/", views.reuploads, name="reuploads"),
    path("reports/public/", views.public, name="public"),
    path("reports/dsa-art22/", views.dsa_art22, name="dsa_art22"),
]
