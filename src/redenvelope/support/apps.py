from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "redenvelope.support"
    label = "support"
