from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "redenvelope.billing"
    label = "billing"
