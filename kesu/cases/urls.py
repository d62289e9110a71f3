from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("cases/new/", views.case_create, name="create"),
    path("cases/due/", views.continuation_list, name="due"),
    path("cases/<int:case_id>/", views.case_detail, name="detail"),
    path("cases/<int:case_id>/edit/", views.case_edit, name="edit"),
    path("cases/<int:case_id>/victim/", views.victim_reveal, name="victim"),
    path("cases/<int:case_id>/contacts/", views.contact_add, name="contact_add"),
    path("cases/<int:case_id>/contacts/notes/", views.contact_notes, name="contact_notes"),
    path("cases/<int:case_id>/close/", views.case_close, name="close"),
    path("cases/<int:case_id>/continuation/", views.continuation, name="continuation"),
    path("cases/<int:case_id>/delete/", views.case_delete, name="delete"),
    path("cases/<int:case_id>/references/", views.reference_upload, name="reference_upload"),
    path("cases/<int:case_id>/references/text/", views.reference_text, name="reference_text"),
    path("cases/<int:case_id>/references/<int:ref_id>/preview/", views.reference_preview, name="preview"),
    path("cases/<int:case_id>/references/<int:ref_id>/media/", views.reference_media, name="media"),
    path("cases/<int:case_id>/references/<int:ref_id>/delete/", views.reference_delete, name="reference_delete"),
    path("cases/<int:case_id>/references/<int:ref_id>/restore/", views.reference_restore, name="reference_restore"),
]
