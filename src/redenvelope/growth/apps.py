from django.apps import AppConfig


class GrowthConfig(AppConfig):
    name = "redenvelope.growth"
    label = "growth"
    verbose_name = "Growth: affiliates, newsletter, announcements"
