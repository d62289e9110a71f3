from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "kesu.vault"
    label = "vault"
