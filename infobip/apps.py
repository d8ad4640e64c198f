from django.apps import AppConfig


class InfobipConfig(AppConfig):
    verbose_name = "Infobip sync"
    name = "infobip"
