from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "redenvelope.workforce"
    label = "workforce"
    verbose_name = "Workforce"
    default_auto_field = "django.db.models.BigAutoField"
