from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "redenvelope.recommendations"
    label = "recommendations"
    verbose_name = "Recommendations"
