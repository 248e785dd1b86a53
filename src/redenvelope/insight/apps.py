from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "redenvelope.insight"
    label = "insight"
    verbose_name = "Insight"
    default_auto_field = "django.db.models.BigAutoField"
