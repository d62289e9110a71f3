from django.urls import path

from . import views

app_name = "sites"
urlpatterns = [
    path("sites/", views.site_list, name="list"),
    path("sites/import/", views.import_list, name="import"),
    path("sites/export/", views.export_list, name="export"),
    path("sites/route/", views.route_view, name="route"),
    path("sites/changes/", views.changes, name="changes"),
    path("sites/<str:domain>/", views.site_detail, name="detail"),
    path("sites/<str:domain>/resolve/", views.resolve, name="resolve"),
    path("sites/<str:domain>/contacts/", views.contact_add, name="contact_add"),
    path("sites/<str:domain>/contacts/<int:contact_id>/bounced/", views.contact_bounced, name="contact_bounced"),
    path("sites/<str:domain>/contacts/<int:contact_id>/decide/", views.contact_decide, name="contact_decide"),
]
