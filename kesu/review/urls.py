from django.urls import path

from . import views

app_name = "review"
urlpatterns = [
    path("review/", views.queue, name="queue"),
    path("review/exposure/", views.exposure_overview, name="exposure"),
    path("review/blur/", views.blur, name="blur"),
    path("review/calibration/", views.calibration_view, name="calibration"),
    path("review/hits/<int:hit_id>/", views.item, name="item"),
    path("review/hits/<int:hit_id>/decide/", views.decide, name="decide"),
    path("review/hits/<int:hit_id>/undo/", views.undo, name="undo"),
    path("review/hits/<int:hit_id>/preview/", views.preview, name="preview"),
    path("review/hits/<int:hit_id>/media/", views.media, name="media"),
    path("review/hits/<int:hit_id>/screenshot/", views.screenshot, name="screenshot"),
    path("review/hits/<int:hit_id>/screenshot/media/", views.screenshot_media, name="screenshot_media"),
    path("review/hits/<int:hit_id>/capture/", views.capture, name="capture"),
]
