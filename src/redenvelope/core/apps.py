from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "redenvelope.core"
    label = "core"
