from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from people.erasure import register
        from tracking.erasure import tracking_erase, tracking_export

        register(eraser=tracking_erase, exporter=tracking_export)
