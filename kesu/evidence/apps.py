from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "kesu.evidence"
    label = "evidence"
