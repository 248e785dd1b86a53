from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "redenvelope.ratings"
    label = "ratings"
