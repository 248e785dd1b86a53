from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "redenvelope.inventory"
    label = "inventory"
