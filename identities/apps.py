from django.apps import AppConfig


class IdentitiesConfig(AppConfig):
    name = "identities"

    def ready(self) -> None:
        from identities import keycache

        keycache.connect_signals()
