from django.apps import AppConfig


class PayablesConfig(AppConfig):
    name = "redenvelope.payables"
    label = "payables"
    verbose_name = "Payables and content"
    default_auto_field = "django.db.models.BigAutoField"
