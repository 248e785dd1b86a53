from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "redenvelope.web"
    label = "web"
    verbose_name = "Member website"
