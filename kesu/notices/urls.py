from django.urls import path

from . import views

app_name = "notices"
urlpatterns = [
    path("notices/", views.queue, name="queue"),
    path("notices/templates/", views.template_list, name="templates"),
    path("notices/templates/new/", views.template_new, name="template_new"),
    path("notices/templates/<int:template_id>/", views.template_detail, name="template"),
    path("notices/replies/<int:reply_id>/", views.reply_read, name="reply"),
    path("notices/replies/<int:reply_id>/decide/", views.reply_decide, name="reply_decide"),
    path("notices/outbox/<int:message_id>/resolve/", views.outbox_resolve, name="outbox_resolve"),
    path("notices/<int:notice_id>/", views.notice_detail, name="detail"),
    path("notices/<int:notice_id>/form/", views.notice_form, name="form"),
    path("notices/<int:notice_id>/<slug:action>/", views.notice_action, name="action"),
    path("cases/<int:case_id>/notices/", views.case_notices, name="case"),
    path("cases/<int:case_id>/notices/new/", views.notice_new, name="new"),
    path("cases/<int:case_id>/victim-message/", views.victim_message, name="victim_message"),
]
