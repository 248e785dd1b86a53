from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "redenvelope.rights"
    label = "rights"
    verbose_name = "Rights"
