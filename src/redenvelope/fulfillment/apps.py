from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "redenvelope.fulfillment"
    label = "fulfillment"
