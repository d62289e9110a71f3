from django.urls import path

from . import views

app_name = "patrol"
urlpatterns = [
    path("patrol/", views.home, name="home"),
    path("patrol/hits/", views.hits, name="hits"),
    path("patrol/watches/new/", views.watch_edit, name="watch_new"),
    path("patrol/watches/<int:watch_id>/", views.watch_edit, name="watch"),
    path("patrol/watches/<int:watch_id>/run/", views.run_now, name="run_now"),
    path("cases/<int:case_id>/patrol/submit/", views.submit, name="submit"),
]
