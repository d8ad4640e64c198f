from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "imports"

    def ready(self):
        from imports.erasure import import_rows_erase
        from people.erasure import register

        register(eraser=import_rows_erase)
