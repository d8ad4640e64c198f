from django.apps import AppConfig


class TrackingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracking"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from people.erasure import register
        from tracking.erasure import tracking_erase, tracking_export
        from tracking.models import Site
        from tracking.selectors import site_cache_forget

        register(eraser=tracking_erase, exporter=tracking_export)
        post_save.connect(site_cache_forget, sender=Site, dispatch_uid="tracking.site_cache_forget.save")
        post_delete.connect(site_cache_forget, sender=Site, dispatch_uid="tracking.site_cache_forget.delete")
