from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "kesu.review"
    label = "review"
    verbose_name = "Review"
